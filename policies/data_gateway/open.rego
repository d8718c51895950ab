package data_gateway

# Opening to the public. Natural persons, legal persons and unincorporated
# organisations read a resource according to its open attribute.

open_attributes := {"open", "on_application", "not_open"}

# Open conditions of the resource; an absent or null object places no limit
# apart from the credit check, which then applies.
open_conditions := input.resource.open_conditions if {
	is_object(input.resource.open_conditions)
} else := {}

# Credit lists that bar an applicant, with the reason each one gives.
credit_lists := {
	"dishonest_debtor": "applicant is on the list of dishonest judgment debtors (失信被执行人)",
	"abnormal_operation": "applicant is on the abnormal business operations list (经营异常名录)",
	"serious_dishonest": "applicant is on the serious illegal and dishonest enterprises list (严重违法失信企业名单)",
}

# The credit check applies unless the provider turned it off explicitly.
credit_check_required if object.get(open_conditions, "credit_check", null) != false

granted if {
	open_route
	input.resource.open == "open"
}

granted if {
	open_route
	input.resource.open == "on_application"
	grant_applies
}

open_refusals contains reason if {
	input.resource.open == "not_open"
	reason := sprintf("resource %s is not open to the public", [input.resource.id])
}

open_refusals contains reason if {
	not input.resource.open in open_attributes
	reason := sprintf("resource %s has an unknown open attribute %q: expected one of %s", [
		input.resource.id,
		input.resource.open,
		concat(", ", sort(open_attributes)),
	])
}

open_refusals contains reason if {
	input.resource.open == "on_application"
	some reason in open_condition_refusals
}

# Refusals by the open conditions of an on-application resource.

open_condition_refusals contains reason if {
	allowed := open_conditions.allowed_scenarios
	count(allowed) > 0
	not input.request.scenario in allowed
	reason := sprintf("resource %s is opened only for the scenarios %s, not for %q", [
		input.resource.id,
		concat(", ", allowed),
		input.request.scenario,
	])
}

open_condition_refusals contains reason if {
	input.request.scenario in open_conditions.forbidden_scenarios
	reason := sprintf("resource %s may not be used for the scenario %q", [
		input.resource.id,
		input.request.scenario,
	])
}

open_condition_refusals contains reason if {
	credit_check_required
	some list, reason in credit_lists
	input.credit[list] == true
}
