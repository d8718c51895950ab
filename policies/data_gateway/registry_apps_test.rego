package data_gateway.registry_apps_test

import data.data_gateway.registry

civil := {"id": "xm-civil-affairs", "kind": "provider", "provider_id": "xm-civil-affairs"}

market := {"id": "xm-market-regulation", "kind": "provider", "provider_id": "xm-market-regulation"}

operator := {"id": "xm-data-bureau", "kind": "operator", "provider_id": ""}

housing := {"id": "xm-housing-bureau", "kind": "consumer", "provider_id": ""}

water := {"id": "xm-water-group", "kind": "consumer", "provider_id": ""}

marriage := {
	"id": "marriage.record",
	"provider": "xm-civil-affairs",
	"path_prefix": "/api/marriage/records/",
	"upstream": "http://10.0.0.7:8080",
	"share": "conditional",
	"open": "not_open",
}

application := {
	"id": "app-20260105-0a1b2c3d4e5f",
	"kind": "share",
	"consumer": "xm-housing-bureau",
	"resource": "marriage.record",
	"provider": "xm-civil-affairs",
	"scenario": "housing_subsidy_review",
	"status": "pending",
}

grant := {
	"id": "grant-app-20260105-0a1b2c3d4e5f",
	"kind": "share",
	"consumer": "xm-housing-bureau",
	"resource": "marriage.record",
}

make_input(actor, action) := {
	"actor": actor,
	"action": action,
	"resource": marriage,
	"existing": null,
	"application": application,
	"now": "2026-01-05T10:00:00+08:00",
}

revoke_input(actor) := object.union(make_input(actor, "grant.revoke"), {"existing": grant, "application": null})

test_allow_consumer_submit_own if {
	d := registry.decision with input as make_input(housing, "application.submit")
	d.allow == true
}

test_deny_consumer_submit_for_other if {
	d := registry.decision with input as make_input(water, "application.submit")
	d.allow == false
	d.reasons == [`consumer "xm-water-group" may not submit an application in the name of "xm-housing-bureau"`]
}

test_deny_provider_submit if {
	d := registry.decision with input as make_input(civil, "application.submit")
	d.allow == false
}

test_deny_submit_without_consumer if {
	nameless := object.union(application, {"consumer": ""})
	d := registry.decision with input as object.union(make_input(housing, "application.submit"), {"application": nameless})
	d.allow == false
}

test_allow_provider_approve_own if {
	d := registry.decision with input as make_input(civil, "application.approve")
	d.allow == true
}

test_allow_provider_refuse_own if {
	d := registry.decision with input as make_input(civil, "application.refuse")
	d.allow == true
}

test_allow_provider_check_own if {
	d := registry.decision with input as make_input(civil, "application.check")
	d.allow == true
}

test_allow_operator_check if {
	d := registry.decision with input as make_input(operator, "application.check")
	d.allow == true
}

test_deny_other_department_approve if {
	d := registry.decision with input as make_input(market, "application.approve")
	d.allow == false
	d.reasons == [`resource "marriage.record" belongs to provider "xm-civil-affairs": provider "xm-market-regulation" may review applications and grants only for its own department's resources`]
}

test_deny_other_department_check if {
	d := registry.decision with input as make_input(market, "application.check")
	d.allow == false
}

test_deny_operator_approve if {
	d := registry.decision with input as make_input(operator, "application.approve")
	d.allow == false
	d.reasons == [`operator "xm-data-bureau" may not approve, refuse or revoke: only the providing department of the resource reviews its applications and grants`]
}

test_deny_consumer_approve_own if {
	d := registry.decision with input as make_input(housing, "application.approve")
	d.allow == false
}

test_deny_consumer_check if {
	d := registry.decision with input as make_input(housing, "application.check")
	d.allow == false
}

test_deny_approve_resource_provider_not_string if {
	odd := object.union(marriage, {"provider": ["xm-civil-affairs"]})
	d := registry.decision with input as object.union(make_input(civil, "application.approve"), {"resource": odd})
	d.allow == false
}

test_allow_provider_revoke_own if {
	d := registry.decision with input as revoke_input(civil)
	d.allow == true
}

test_deny_other_department_revoke if {
	d := registry.decision with input as revoke_input(market)
	d.allow == false
}

test_deny_consumer_revoke if {
	d := registry.decision with input as revoke_input(housing)
	d.allow == false
}

test_allow_read_by_owner_consumer if {
	d := registry.decision with input as make_input(housing, "application.read")
	d.allow == true
}

test_deny_read_by_other_consumer if {
	d := registry.decision with input as make_input(water, "application.read")
	d.allow == false
	d.reasons == [`consumer "xm-water-group" may read only its own applications`]
}

test_allow_read_by_providing_department if {
	d := registry.decision with input as make_input(civil, "application.read")
	d.allow == true
}

test_deny_read_by_other_department if {
	d := registry.decision with input as make_input(market, "application.read")
	d.allow == false
}

test_allow_read_by_operator if {
	d := registry.decision with input as make_input(operator, "application.read")
	d.allow == true
}

credit_input(actor) := {
	"actor": actor,
	"action": "credit.import",
	"resource": null,
	"existing": null,
	"application": null,
	"now": "2026-01-05T10:00:00+08:00",
}

test_allow_operator_import_credit if {
	d := registry.decision with input as credit_input(operator)
	d.allow == true
}

test_deny_provider_import_credit if {
	d := registry.decision with input as credit_input(civil)
	d.allow == false
	d.reasons == [`provider "xm-civil-affairs" may not import credit lists: only the platform operator does`]
}

test_deny_consumer_import_credit if {
	d := registry.decision with input as credit_input(housing)
	d.allow == false
}
