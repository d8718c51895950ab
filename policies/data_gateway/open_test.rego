package data_gateway_test

import data.data_gateway

on_application_input(consumer, res, grant, scenario, credit) := object.union(
	make_input(consumer, res, grant, scenario),
	{"credit": credit},
)

# Open to anyone.

test_allow_open_natural_person if {
	d := data_gateway.decision with input as make_input(person, open_resource, null, "")
	d.allow == true
}

test_allow_open_legal_person if {
	d := data_gateway.decision with input as make_input(company, open_resource, null, "")
	d.allow == true
}

test_allow_open_unincorporated_org if {
	d := data_gateway.decision with input as make_input(association, open_resource, null, "")
	d.allow == true
}

test_open_fields_all if {
	grant := object.union(open_grant, {"fields": ["data.name"]})
	d := data_gateway.decision with input as make_input(person, open_resource, grant, "")
	d.fields == null
}

test_allow_open_ignores_credit if {
	# Credit lists bar applicants for on-application data only.
	listed := object.union(clean_credit, {"dishonest_debtor": true})
	d := data_gateway.decision with input as on_application_input(company, open_resource, null, "", listed)
	d.allow == true
}

test_deny_not_open if {
	res := object.union(resource, {"open": "not_open"})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	d.allow == false
	d.reasons == ["resource population.persons is not open to the public"]
}

test_deny_unknown_open_attribute if {
	res := object.union(resource, {"open": "on_request"})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	d.allow == false
	d.reasons == ["resource population.persons has an unknown open attribute \"on_request\": expected one of not_open, on_application, open"]
}

# Open on application.

test_deny_on_application_without_grant if {
	d := data_gateway.decision with input as make_input(company, on_application, null, "credit_report")
	d.allow == false
	d.reasons == ["resource population.persons needs an approved open application, and the consumer has none"]
}

test_allow_on_application_with_grant if {
	d := data_gateway.decision with input as make_input(company, on_application, open_grant, "credit_report")
	d.allow == true
	d.reasons == []
}

test_on_application_grant_fields_scope if {
	grant := object.union(open_grant, {"fields": ["data.name"]})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == true
	d.fields == ["data.name"]
}

test_on_application_attribution if {
	res := object.union(on_application, {"open_conditions": {"attribution": "Data: Xiamen Public Security Bureau"}})
	d := data_gateway.decision with input as make_input(company, res, open_grant, "credit_report")
	d.obligations.attribution == "Data: Xiamen Public Security Bureau"
}

test_deny_on_application_share_grant if {
	grant := object.union(share_grant, {"scenario": "credit_report"})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == false
	d.reasons == ["grant g-share-1 is an application of kind \"share\", but resource population.persons needs one of kind \"open\""]
}

test_deny_on_application_wrong_scenario if {
	d := data_gateway.decision with input as make_input(company, on_application, open_grant, "marketing")
	d.allow == false
	d.reasons == ["the declared scenario \"marketing\" is not the scenario \"credit_report\" that grant g-open-1 was approved for"]
}

test_deny_on_application_missing_scenario if {
	d := data_gateway.decision with input as make_input(company, on_application, open_grant, "")
	d.allow == false
	d.reasons == ["the request declares no scenario: send the X-Data-Scenario header"]
}

test_deny_on_application_expired_grant if {
	grant := object.union(open_grant, {"valid_until": "2025-05-31T00:00:00Z"})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == false
	d.reasons == ["grant g-open-1 expired at 2025-05-31T00:00:00Z"]
}

test_deny_on_application_grant_not_yet_valid if {
	grant := object.union(open_grant, {"valid_from": "2025-07-01T00:00:00+08:00"})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == false
	d.reasons == ["grant g-open-1 is not valid until 2025-07-01T00:00:00+08:00"]
}

test_deny_on_application_scenario_not_allowed if {
	res := object.union(on_application, {"open_conditions": {"allowed_scenarios": ["academic_research"]}})
	d := data_gateway.decision with input as make_input(company, res, open_grant, "credit_report")
	d.allow == false
	d.reasons == ["resource population.persons is opened only for the scenarios academic_research, not for \"credit_report\""]
}

test_allow_on_application_scenario_allowed if {
	res := object.union(on_application, {"open_conditions": {"allowed_scenarios": ["academic_research", "credit_report"]}})
	d := data_gateway.decision with input as make_input(company, res, open_grant, "credit_report")
	d.allow == true
}

test_deny_on_application_scenario_forbidden if {
	res := object.union(on_application, {"open_conditions": {"forbidden_scenarios": ["credit_report", "marketing"]}})
	d := data_gateway.decision with input as make_input(company, res, open_grant, "credit_report")
	d.allow == false
	d.reasons == ["resource population.persons may not be used for the scenario \"credit_report\""]
}

test_allow_on_application_scenario_not_forbidden if {
	res := object.union(on_application, {"open_conditions": {"forbidden_scenarios": ["marketing"]}})
	d := data_gateway.decision with input as make_input(company, res, open_grant, "credit_report")
	d.allow == true
}

# Credit check.

test_deny_on_application_dishonest_debtor if {
	listed := object.union(clean_credit, {"dishonest_debtor": true})
	d := data_gateway.decision with input as on_application_input(company, on_application, open_grant, "credit_report", listed)
	d.allow == false
	d.reasons == ["applicant is on the list of dishonest judgment debtors (失信被执行人)"]
}

test_deny_on_application_abnormal_operation if {
	listed := object.union(clean_credit, {"abnormal_operation": true})
	d := data_gateway.decision with input as on_application_input(company, on_application, open_grant, "credit_report", listed)
	d.allow == false
	d.reasons == ["applicant is on the abnormal business operations list (经营异常名录)"]
}

test_deny_on_application_serious_dishonest if {
	listed := object.union(clean_credit, {"serious_dishonest": true})
	d := data_gateway.decision with input as on_application_input(company, on_application, open_grant, "credit_report", listed)
	d.allow == false
	d.reasons == ["applicant is on the serious illegal and dishonest enterprises list (严重违法失信企业名单)"]
}

test_deny_on_application_every_credit_list if {
	listed := {"dishonest_debtor": true, "abnormal_operation": true, "serious_dishonest": true}
	d := data_gateway.decision with input as on_application_input(company, on_application, open_grant, "credit_report", listed)
	d.allow == false
	d.reasons == [
		"applicant is on the abnormal business operations list (经营异常名录)",
		"applicant is on the list of dishonest judgment debtors (失信被执行人)",
		"applicant is on the serious illegal and dishonest enterprises list (严重违法失信企业名单)",
	]
}

test_deny_on_application_natural_person_listed if {
	listed := object.union(clean_credit, {"dishonest_debtor": true})
	d := data_gateway.decision with input as on_application_input(person, on_application, open_grant, "credit_report", listed)
	d.allow == false
}

test_deny_on_application_credit_check_null if {
	res := object.union(on_application, {"open_conditions": {"credit_check": null}})
	listed := object.union(clean_credit, {"abnormal_operation": true})
	d := data_gateway.decision with input as on_application_input(company, res, open_grant, "credit_report", listed)
	d.allow == false
}

test_deny_on_application_credit_check_omitted if {
	res := object.union(on_application, {"open_conditions": {"attribution": "Data: Xiamen"}})
	listed := object.union(clean_credit, {"abnormal_operation": true})
	d := data_gateway.decision with input as on_application_input(company, res, open_grant, "credit_report", listed)
	d.allow == false
}

test_deny_on_application_open_conditions_missing if {
	res := object.remove(on_application, {"open_conditions"})
	listed := object.union(clean_credit, {"serious_dishonest": true})
	d := data_gateway.decision with input as on_application_input(company, res, open_grant, "credit_report", listed)
	d.allow == false
}

test_allow_on_application_credit_check_off if {
	res := object.union(on_application, {"open_conditions": {"credit_check": false}})
	listed := {"dishonest_debtor": true, "abnormal_operation": true, "serious_dishonest": true}
	d := data_gateway.decision with input as on_application_input(company, res, open_grant, "credit_report", listed)
	d.allow == true
}

test_deny_department_reads_on_application if {
	# on_application opens data to the public; a department reads by the
	# share attribute, which here is not_shared.
	d := data_gateway.decision with input as make_input(department, on_application, open_grant, "credit_report")
	d.allow == false
}
