package data_gateway_test

import data.data_gateway

good_input := make_input(department, resource, null, "")

# refused_with checks that a malformed input is refused with the given
# reason and a decision of the usual shape.
refused_with(doc, reason) if {
	d := data_gateway.decision with input as doc
	d.allow == false
	reason in d.reasons
	d.fields == null
	d.masks == {"id_number": "remove", "phone": "remove"}
}

test_good_input_accepted if {
	d := data_gateway.decision with input as good_input
	d.allow == true
}

test_malformed_empty_input if {
	refused_with({}, "input.consumer must be an object")
}

test_malformed_input_not_object if {
	refused_with("allow", "input.resource must be an object")
}

test_malformed_every_fault_listed if {
	d := data_gateway.decision with input as {}
	d.reasons == [
		"input.consumer must be an object",
		"input.credit must be an object",
		"input.now must be an RFC 3339 time string",
		"input.request must be an object",
		"input.resource must be an object",
	]
}

test_malformed_consumer_kind_number if {
	doc := object.union(good_input, {"consumer": object.union(department, {"kind": 1})})
	refused_with(doc, "input.consumer.kind must be a string")
}

test_malformed_consumer_id_missing if {
	doc := make_input(object.remove(department, {"id"}), resource, null, "")
	refused_with(doc, "input.consumer.id must be a string")
}

test_malformed_consumer_org_array if {
	doc := object.union(good_input, {"consumer": object.union(department, {"org": ["a"]})})
	refused_with(doc, "input.consumer.org must be a string")
}

test_malformed_consumer_platform_string if {
	doc := object.union(good_input, {"consumer": object.union(department, {"platform": "true"})})
	refused_with(doc, "input.consumer.platform must be a boolean")
}

test_malformed_share_boolean if {
	doc := object.union(good_input, {"resource": object.union(resource, {"share": true})})
	refused_with(doc, "input.resource.share must be a string")
}

test_malformed_legal_basis_number if {
	doc := object.union(good_input, {"resource": object.union(resource, {"legal_basis": 7})})
	refused_with(doc, "input.resource.legal_basis must be a string")
}

test_malformed_fields_object if {
	doc := object.union(good_input, {"resource": object.union(resource, {"fields": {"path": "data.name"}})})
	refused_with(doc, "input.resource.fields must be an array")
}

test_malformed_field_without_class if {
	doc := object.union(good_input, {"resource": object.union(resource, {"fields": [{"path": "data.name"}]})})
	refused_with(doc, "input.resource.fields[0] must be an object with a string path and a string class")
}

test_malformed_conditions_string if {
	doc := object.union(good_input, {"resource": object.union(conditional, {"conditions": "orgs"})})
	refused_with(doc, "input.resource.conditions must be an object or null")
}

test_malformed_conditions_orgs_string if {
	res := object.union(conditional, {"conditions": {"orgs": "xm-health"}})
	doc := make_input(department, res, share_grant, "medical_insurance_review")
	refused_with(doc, "input.resource.conditions.orgs must be an array of strings")
}

test_malformed_conditions_scenarios_numbers if {
	res := object.union(conditional, {"conditions": {"scenarios": [1, 2]}})
	doc := make_input(department, res, share_grant, "medical_insurance_review")
	refused_with(doc, "input.resource.conditions.scenarios must be an array of strings")
}

test_malformed_conditions_key_work_string if {
	res := object.union(conditional, {"conditions": {"key_work": "yes"}})
	doc := make_input(department, res, share_grant, "medical_insurance_review")
	refused_with(doc, "input.resource.conditions.key_work must be a boolean")
}

test_malformed_open_conditions_array if {
	res := object.union(on_application, {"open_conditions": []})
	doc := make_input(company, res, open_grant, "credit_report")
	refused_with(doc, "input.resource.open_conditions must be an object or null")
}

test_malformed_credit_check_string if {
	# A string would otherwise read as "not false", but it is refused.
	res := object.union(on_application, {"open_conditions": {"credit_check": "no"}})
	doc := make_input(company, res, open_grant, "credit_report")
	refused_with(doc, "input.resource.open_conditions.credit_check must be a boolean or null")
}

test_malformed_forbidden_scenarios_string if {
	res := object.union(on_application, {"open_conditions": {"forbidden_scenarios": "marketing"}})
	doc := make_input(company, res, open_grant, "marketing")
	refused_with(doc, "input.resource.open_conditions.forbidden_scenarios must be an array of strings")
}

test_malformed_attribution_number if {
	res := object.union(on_application, {"open_conditions": {"attribution": 1}})
	doc := make_input(company, res, open_grant, "credit_report")
	refused_with(doc, "input.resource.open_conditions.attribution must be a string")
}

test_malformed_emergency_end_missing if {
	window := {"event": "flood", "scenario": "flood_relief", "start": "2025-05-01T00:00:00Z"}
	doc := make_input(department, object.union(resource, {"emergency": window}), null, "flood_relief")
	refused_with(doc, "input.resource.emergency.end must be a string")
}

test_malformed_emergency_boolean if {
	doc := make_input(department, object.union(resource, {"emergency": true}), null, "")
	refused_with(doc, "input.resource.emergency must be an object or null")
}

test_malformed_grant_string if {
	doc := make_input(department, conditional, "g-share-1", "medical_insurance_review")
	refused_with(doc, "input.grant must be an object or null")
}

test_malformed_grant_valid_until_number if {
	grant := object.union(share_grant, {"valid_until": 1767225600})
	doc := make_input(department, conditional, grant, "medical_insurance_review")
	refused_with(doc, "input.grant.valid_until must be a string")
}

test_malformed_grant_kind_missing if {
	grant := object.remove(share_grant, {"kind"})
	doc := make_input(department, conditional, grant, "medical_insurance_review")
	refused_with(doc, "input.grant.kind must be a string")
}

test_malformed_grant_fields_string if {
	grant := object.union(share_grant, {"fields": "data.name"})
	doc := make_input(department, conditional, grant, "medical_insurance_review")
	refused_with(doc, "input.grant.fields must be an array of strings")
}

test_malformed_grant_key_work_string if {
	grant := object.union(share_grant, {"key_work": "true"})
	doc := make_input(department, conditional, grant, "medical_insurance_review")
	refused_with(doc, "input.grant.key_work must be a boolean")
}

test_malformed_grant_masks_number if {
	grant := object.union(share_grant, {"masks": {"id_number": 1}})
	doc := make_input(department, conditional, grant, "medical_insurance_review")
	refused_with(doc, "input.grant.masks must be an object of strings")
}

test_malformed_request_scenario_null if {
	doc := object.union(good_input, {"request": object.union(request(""), {"scenario": null})})
	refused_with(doc, "input.request.scenario must be a string")
}

test_malformed_request_missing if {
	doc := object.remove(good_input, {"request"})
	refused_with(doc, "input.request must be an object")
}

test_malformed_credit_missing if {
	doc := object.remove(good_input, {"credit"})
	refused_with(doc, "input.credit must be an object")
}

test_malformed_credit_list_string if {
	credit := object.union(clean_credit, {"dishonest_debtor": "false"})
	doc := object.union(good_input, {"credit": credit})
	refused_with(doc, "input.credit.dishonest_debtor must be a boolean")
}

test_malformed_credit_list_missing if {
	# object.union merges deeply, so the list is left out by replacing the
	# whole credit object.
	credit := object.remove(clean_credit, {"serious_dishonest"})
	doc := object.union(object.remove(good_input, {"credit"}), {"credit": credit})
	refused_with(doc, "input.credit.serious_dishonest must be a boolean")
}

test_malformed_now_number if {
	doc := object.union(good_input, {"now": 1748772000})
	refused_with(doc, "input.now must be an RFC 3339 time string")
}

test_missing_nullable_objects_accepted if {
	res := object.remove(resource, {"conditions", "open_conditions", "emergency", "fields", "name", "legal_basis"})
	doc := object.remove(make_input(department, res, null, ""), {"grant"})
	d := data_gateway.decision with input as doc
	d.allow == true
}
