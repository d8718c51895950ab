package data_gateway_test

import data.data_gateway

# Unconditional sharing.

test_allow_unconditional_department if {
	d := data_gateway.decision with input as make_input(department, resource, null, "")
	d.allow == true
}

test_allow_unconditional_public_service_org if {
	d := data_gateway.decision with input as make_input(service_org, resource, null, "")
	d.allow == true
}

test_unconditional_fields_all if {
	d := data_gateway.decision with input as make_input(department, resource, share_grant, "")
	d.fields == null
}

test_deny_unconditional_for_public if {
	# The share attribute is for government bodies only; the public reads by
	# the open attribute, which here is not_open.
	d := data_gateway.decision with input as make_input(person, resource, null, "")
	d.allow == false
	d.reasons == ["resource population.persons is not open to the public"]
}

# Conditional sharing.

test_deny_conditional_without_grant if {
	d := data_gateway.decision with input as make_input(department, conditional, null, "medical_insurance_review")
	d.allow == false
	d.reasons == ["resource population.persons needs an approved share application, and the consumer has none"]
}

test_allow_conditional_with_grant if {
	d := data_gateway.decision with input as make_input(department, conditional, share_grant, "medical_insurance_review")
	d.allow == true
	d.reasons == []
}

test_conditional_empty_grant_fields_all if {
	d := data_gateway.decision with input as make_input(department, conditional, share_grant, "medical_insurance_review")
	d.fields == null
}

test_conditional_grant_fields_scope if {
	grant := object.union(share_grant, {"fields": ["data.name", "data.address"]})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == true
	d.fields == ["data.name", "data.address"]
}

test_deny_conditional_wrong_scenario if {
	d := data_gateway.decision with input as make_input(department, conditional, share_grant, "marketing")
	d.allow == false
	d.reasons == ["the declared scenario \"marketing\" is not the scenario \"medical_insurance_review\" that grant g-share-1 was approved for"]
}

test_deny_conditional_missing_scenario if {
	d := data_gateway.decision with input as make_input(department, conditional, share_grant, "")
	d.allow == false
	d.reasons == ["the request declares no scenario: send the X-Data-Scenario header"]
}

test_deny_conditional_expired_grant if {
	grant := object.union(share_grant, {"valid_until": "2025-06-01T09:59:59Z"})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["grant g-share-1 expired at 2025-06-01T09:59:59Z"]
}

test_deny_conditional_grant_ends_at_valid_until if {
	grant := object.union(share_grant, {"valid_until": now})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == false
}

test_deny_conditional_grant_not_yet_valid if {
	grant := object.union(share_grant, {"valid_from": "2025-06-01T10:00:01Z"})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["grant g-share-1 is not valid until 2025-06-01T10:00:01Z"]
}

test_allow_conditional_grant_starts_at_valid_from if {
	grant := object.union(share_grant, {"valid_from": now})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == true
}

test_deny_conditional_open_grant if {
	grant := object.union(open_grant, {"scenario": "medical_insurance_review"})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["grant g-open-1 is an application of kind \"open\", but resource population.persons needs one of kind \"share\""]
}

test_deny_conditional_scenario_not_listed if {
	res := object.union(conditional, {"conditions": {"scenarios": ["social_assistance"]}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["resource population.persons is shared only for the scenarios social_assistance, not for \"medical_insurance_review\""]
}

test_allow_conditional_scenario_listed if {
	res := object.union(conditional, {"conditions": {"scenarios": ["social_assistance", "medical_insurance_review"]}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == true
}

test_deny_conditional_org_not_listed if {
	res := object.union(conditional, {"conditions": {"orgs": ["xm-civil-affairs"]}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["resource population.persons is shared only with the organisations xm-civil-affairs, not with xm-health"]
}

test_allow_conditional_org_listed if {
	res := object.union(conditional, {"conditions": {"orgs": ["xm-civil-affairs", "xm-health"]}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == true
}

test_deny_conditional_key_work_without_key_work_grant if {
	res := object.union(conditional, {"conditions": {"key_work": true}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["resource population.persons is shared only for the city's key work, and grant g-share-1 was not approved for key work"]
}

test_allow_conditional_key_work_grant if {
	res := object.union(conditional, {"conditions": {"key_work": true}})
	grant := object.union(share_grant, {"key_work": true})
	d := data_gateway.decision with input as make_input(department, res, grant, "medical_insurance_review")
	d.allow == true
}

test_deny_conditional_platform_only if {
	res := object.union(conditional, {"conditions": {"platform": true}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["resource population.persons is shared only with cross-department platforms, and xm-health is not one"]
}

test_allow_conditional_platform_consumer if {
	res := object.union(conditional, {"conditions": {"platform": true}})
	platform := object.union(department, {"platform": true})
	d := data_gateway.decision with input as make_input(platform, res, share_grant, "medical_insurance_review")
	d.allow == true
}

test_allow_conditional_all_conditions_met if {
	res := object.union(conditional, {"conditions": {
		"scenarios": ["medical_insurance_review"],
		"orgs": ["xm-health"],
		"key_work": true,
		"platform": true,
	}})
	platform := object.union(department, {"platform": true})
	grant := object.union(share_grant, {"key_work": true})
	d := data_gateway.decision with input as make_input(platform, res, grant, "medical_insurance_review")
	d.allow == true
}

test_deny_conditional_every_condition_failed if {
	res := object.union(conditional, {"conditions": {
		"scenarios": ["social_assistance"],
		"orgs": ["xm-civil-affairs"],
		"key_work": true,
		"platform": true,
	}})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == false
	count(d.reasons) == 4
}

# Not shared, and attributes the policy does not know.

test_deny_not_shared_quotes_legal_basis if {
	res := object.union(resource, {
		"share": "not_shared",
		"legal_basis": "Article 7 of the Resident Identity Card Law",
	})
	d := data_gateway.decision with input as make_input(department, res, null, "")
	d.allow == false
	d.reasons == ["resource population.persons is not shared: Article 7 of the Resident Identity Card Law"]
}

test_deny_not_shared_without_legal_basis if {
	res := object.union(resource, {"share": "not_shared"})
	d := data_gateway.decision with input as make_input(department, res, null, "")
	d.reasons == ["resource population.persons is not shared: the catalogue records no legal basis"]
}

test_deny_not_shared_even_when_open if {
	# A government body reads by the share attribute, never the open one.
	d := data_gateway.decision with input as make_input(department, open_resource, null, "")
	d.allow == false
}

test_deny_unknown_share_attribute if {
	res := object.union(resource, {"share": "sometimes"})
	d := data_gateway.decision with input as make_input(department, res, null, "")
	d.allow == false
	d.reasons == ["resource population.persons has an unknown share attribute \"sometimes\": expected one of conditional, not_shared, unconditional"]
}

test_deny_conditional_key_work_flag_missing if {
	res := object.union(conditional, {"conditions": {"key_work": true}})
	grant := object.remove(share_grant, {"key_work"})
	d := data_gateway.decision with input as make_input(department, res, grant, "medical_insurance_review")
	d.allow == false
}

test_deny_conditional_platform_flag_missing if {
	res := object.union(conditional, {"conditions": {"platform": true}})
	consumer := object.remove(department, {"platform"})
	d := data_gateway.decision with input as make_input(consumer, res, share_grant, "medical_insurance_review")
	d.allow == false
}

test_conditional_refusal_fields_null if {
	grant := object.union(share_grant, {"fields": ["data.name"]})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "marketing")
	d.allow == false
	d.fields == null
}
