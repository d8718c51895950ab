package data_gateway_test

import data.data_gateway

epidemic := {
	"event": "2025 dengue outbreak",
	"scenario": "epidemic_control",
	"start": "2025-05-01T00:00:00Z",
	"end": "2025-07-01T00:00:00Z",
}

emergency_resource(window) := object.union(resource, {"emergency": window})

test_allow_emergency_within_window if {
	d := data_gateway.decision with input as make_input(department, emergency_resource(epidemic), null, "epidemic_control")
	d.allow == true
}

test_allow_emergency_at_start if {
	window := object.union(epidemic, {"start": now})
	d := data_gateway.decision with input as make_input(department, emergency_resource(window), null, "epidemic_control")
	d.allow == true
}

test_deny_emergency_before_start if {
	window := object.union(epidemic, {"start": "2025-06-02T00:00:00Z"})
	d := data_gateway.decision with input as make_input(department, emergency_resource(window), null, "epidemic_control")
	d.allow == false
	d.reasons == ["the emergency \"2025 dengue outbreak\" starts at 2025-06-02T00:00:00Z, so its data may not be used before then"]
}

test_deny_emergency_after_end if {
	window := object.union(epidemic, {"end": "2025-05-31T00:00:00Z"})
	d := data_gateway.decision with input as make_input(department, emergency_resource(window), null, "epidemic_control")
	d.allow == false
	d.reasons == ["the emergency \"2025 dengue outbreak\" ended at 2025-05-31T00:00:00Z, so access to its data has ended"]
}

test_deny_emergency_at_end if {
	window := object.union(epidemic, {"end": now})
	d := data_gateway.decision with input as make_input(department, emergency_resource(window), null, "epidemic_control")
	d.allow == false
}

test_deny_emergency_other_scenario if {
	d := data_gateway.decision with input as make_input(department, emergency_resource(epidemic), null, "tax_audit")
	d.allow == false
	d.reasons == ["data collected for the emergency \"2025 dengue outbreak\" may be used only for the scenario \"epidemic_control\", not for \"tax_audit\""]
}

test_deny_emergency_no_scenario if {
	d := data_gateway.decision with input as make_input(department, emergency_resource(epidemic), null, "")
	d.allow == false
}

test_deny_emergency_on_open_route if {
	# The emergency limit holds on the opening route too.
	res := object.union(open_resource, {"emergency": object.union(epidemic, {"end": "2025-05-31T00:00:00Z"})})
	d := data_gateway.decision with input as make_input(person, res, null, "epidemic_control")
	d.allow == false
}

test_deny_emergency_with_conditional_grant if {
	res := object.union(conditional, {"emergency": epidemic})
	d := data_gateway.decision with input as make_input(department, res, share_grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["data collected for the emergency \"2025 dengue outbreak\" may be used only for the scenario \"epidemic_control\", not for \"medical_insurance_review\""]
}
