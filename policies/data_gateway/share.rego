package data_gateway

# Sharing between government bodies. Government departments and public
# service organisations read a resource according to its share attribute.

share_attributes := {"unconditional", "conditional", "not_shared"}

# Share conditions of the resource; an absent or null conditions object
# places no limit.
conditions := input.resource.conditions if {
	is_object(input.resource.conditions)
} else := {}

granted if {
	share_route
	input.resource.share == "unconditional"
}

granted if {
	share_route
	input.resource.share == "conditional"
	grant_applies
}

share_refusals contains reason if {
	input.resource.share == "not_shared"
	reason := sprintf("resource %s is not shared: %s", [input.resource.id, legal_basis])
}

share_refusals contains reason if {
	not input.resource.share in share_attributes
	reason := sprintf("resource %s has an unknown share attribute %q: expected one of %s", [
		input.resource.id,
		input.resource.share,
		concat(", ", sort(share_attributes)),
	])
}

share_refusals contains reason if {
	input.resource.share == "conditional"
	some reason in condition_refusals
}

legal_basis := input.resource.legal_basis if {
	input.resource.legal_basis != ""
} else := "the catalogue records no legal basis"

# Flags that count as false when left out. A negated comparison on a
# missing key would be undefined and could skip a refusal, so the refusals
# negate these rules instead.
grant_for_key_work if grant.key_work == true

consumer_is_platform if input.consumer.platform == true

# Refusals by the share conditions of a conditional resource.

condition_refusals contains reason if {
	allowed := conditions.scenarios
	count(allowed) > 0
	not input.request.scenario in allowed
	reason := sprintf("resource %s is shared only for the scenarios %s, not for %q", [
		input.resource.id,
		concat(", ", allowed),
		input.request.scenario,
	])
}

condition_refusals contains reason if {
	orgs := conditions.orgs
	count(orgs) > 0
	not input.consumer.id in orgs
	reason := sprintf("resource %s is shared only with the organisations %s, not with %s", [
		input.resource.id,
		concat(", ", orgs),
		input.consumer.id,
	])
}

condition_refusals contains reason if {
	conditions.key_work == true
	not grant_for_key_work
	reason := sprintf("resource %s is shared only for the city's key work, and grant %s was not approved for key work", [
		input.resource.id,
		grant.id,
	])
}

condition_refusals contains reason if {
	conditions.platform == true
	not consumer_is_platform
	reason := sprintf("resource %s is shared only with cross-department platforms, and %s is not one", [
		input.resource.id,
		input.consumer.id,
	])
}
