package data_gateway

# The approved application the caller found for this consumer and resource;
# undefined when there is none.
grant := input.grant if is_object(input.grant)

# Mask overrides of the grant, by field class.
grant_masks := grant.masks if {
	is_object(grant.masks)
} else := {}

# Kind of application the resource needs on the consumer's route; undefined
# when the route needs none.
required_grant_kind := "share" if {
	share_route
	input.resource.share == "conditional"
}

required_grant_kind := "open" if {
	open_route
	input.resource.open == "on_application"
}

# A grant is in force from valid_from (inclusive) to valid_until (exclusive).
grant_in_force if {
	time.parse_rfc3339_ns(grant.valid_from) <= now_ns
	now_ns < time.parse_rfc3339_ns(grant.valid_until)
}

# Kind of application the consumer's route takes.
route_grant_kind := "share" if share_route

route_grant_kind := "open" if open_route

# The grant fits the request: of the route's kind, in force, and approved
# for the scenario the request declares. Only a fitting grant changes masks.
grant_fits if {
	grant.kind == route_grant_kind
	grant_in_force
	input.request.scenario != ""
	input.request.scenario == grant.scenario
}

# The grant opens a resource that needs one, and limits its data scope.
grant_applies if {
	required_grant_kind
	grant_fits
}

grant_refusals contains reason if {
	kind := required_grant_kind
	not grant
	reason := sprintf("resource %s needs an approved %s application, and the consumer has none", [
		input.resource.id,
		kind,
	])
}

grant_refusals contains reason if {
	kind := required_grant_kind
	grant.kind != kind
	reason := sprintf("grant %s is an application of kind %q, but resource %s needs one of kind %q", [
		grant.id,
		grant.kind,
		input.resource.id,
		kind,
	])
}

grant_refusals contains reason if {
	now_ns < time.parse_rfc3339_ns(grant.valid_from)
	reason := sprintf("grant %s is not valid until %s", [grant.id, grant.valid_from])
}

grant_refusals contains reason if {
	now_ns >= time.parse_rfc3339_ns(grant.valid_until)
	reason := sprintf("grant %s expired at %s", [grant.id, grant.valid_until])
}

grant_refusals contains "the request declares no scenario: send the X-Data-Scenario header" if {
	input.request.scenario == ""
}

grant_refusals contains reason if {
	input.request.scenario != ""
	input.request.scenario != grant.scenario
	reason := sprintf("the declared scenario %q is not the scenario %q that grant %s was approved for", [
		input.request.scenario,
		grant.scenario,
		grant.id,
	])
}
