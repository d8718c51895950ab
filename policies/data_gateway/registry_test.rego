package data_gateway.registry_test

import data.data_gateway.registry

police := {"id": "xm-public-security", "kind": "provider", "provider_id": "xm-public-security"}

civil := {"id": "xm-civil-affairs", "kind": "provider", "provider_id": "xm-civil-affairs"}

operator := {"id": "xm-data-bureau", "kind": "operator", "provider_id": ""}

consumer := {"id": "xm-housing-bureau", "kind": "consumer", "provider_id": ""}

persons := {
	"id": "population.persons",
	"provider": "xm-public-security",
	"path_prefix": "/api/population/persons/",
	"upstream": "http://10.0.0.5:8080",
	"share": "unconditional",
	"open": "not_open",
}

make_input(actor, action, resource, existing) := {
	"actor": actor,
	"action": action,
	"resource": resource,
	"existing": existing,
	"application": null,
	"now": "2025-06-01T10:00:00+08:00",
}

test_allow_register_own_resource if {
	d := registry.decision with input as make_input(police, "resource.register", persons, null)
	d.allow == true
}

test_allow_register_reasons_empty if {
	d := registry.decision with input as make_input(police, "resource.register", persons, null)
	d.reasons == []
}

test_allow_update_own_resource if {
	d := registry.decision with input as make_input(police, "resource.update", persons, persons)
	d.allow == true
}

test_allow_retire_own_resource if {
	d := registry.decision with input as make_input(police, "resource.retire", null, persons)
	d.allow == true
}

test_deny_register_for_other_department if {
	d := registry.decision with input as make_input(civil, "resource.register", persons, null)
	d.allow == false
	d.reasons == [`resource "population.persons" names provider "xm-public-security": provider "xm-civil-affairs" may register and change only resources whose provider is "xm-civil-affairs"`]
}

test_deny_update_other_department if {
	# The new version names the actor, but the stored one belongs to
	# another department: a takeover.
	taken := object.union(persons, {"provider": "xm-civil-affairs"})
	d := registry.decision with input as make_input(civil, "resource.update", taken, persons)
	d.allow == false
	d.reasons == [`resource "population.persons" belongs to provider "xm-public-security": provider "xm-civil-affairs" may manage only its own department's resources`]
}

test_deny_hand_over_own_resource if {
	given := object.union(persons, {"provider": "xm-civil-affairs"})
	d := registry.decision with input as make_input(police, "resource.update", given, persons)
	d.allow == false
}

test_deny_retire_other_department if {
	d := registry.decision with input as make_input(civil, "resource.retire", null, persons)
	d.allow == false
}

test_deny_reregister_retired_of_other_department if {
	retired := object.union(persons, {"retired": true})
	taken := object.union(persons, {"provider": "xm-civil-affairs"})
	d := registry.decision with input as make_input(civil, "resource.register", taken, retired)
	d.allow == false
}

test_deny_operator_register if {
	d := registry.decision with input as make_input(operator, "resource.register", persons, null)
	d.allow == false
	d.reasons == [`operator "xm-data-bureau" may not register, update or retire resources: only the providing department manages its resources`]
}

test_deny_consumer_retire if {
	d := registry.decision with input as make_input(consumer, "resource.retire", null, persons)
	d.allow == false
}

test_deny_provider_without_department if {
	nameless := object.union(police, {"provider_id": ""})
	d := registry.decision with input as make_input(nameless, "resource.register", persons, null)
	d.allow == false
}

test_deny_provider_id_not_string if {
	numbered := object.union(police, {"provider_id": 7})
	d := registry.decision with input as make_input(numbered, "resource.register", persons, null)
	d.allow == false
}

test_deny_resource_provider_not_string if {
	odd := object.union(persons, {"provider": ["xm-public-security"]})
	d := registry.decision with input as make_input(police, "resource.register", odd, null)
	d.allow == false
}

test_allow_operator_read if {
	d := registry.decision with input as make_input(operator, "resource.read", null, persons)
	d.allow == true
}

test_allow_provider_read_own if {
	d := registry.decision with input as make_input(police, "resource.read", null, persons)
	d.allow == true
}

test_deny_provider_read_other if {
	d := registry.decision with input as make_input(civil, "resource.read", null, persons)
	d.allow == false
}

test_deny_consumer_read if {
	d := registry.decision with input as make_input(consumer, "resource.read", null, persons)
	d.allow == false
	d.reasons == [`consumer "xm-housing-bureau" may not read the registry's resource entries: ask the providing department`]
}

test_deny_unknown_action if {
	d := registry.decision with input as make_input(police, "resource.explode", persons, null)
	d.allow == false
	d.reasons == ["no rule permits a provider to perform resource.explode"]
}

test_deny_malformed_input if {
	d := registry.decision with input as {"action": 3}
	d.allow == false
	d.reasons == ["no rule permits a caller of unknown kind to perform an unnamed action"]
}
