package data_gateway_test

import data.data_gateway

every_class_fields := [
	{"path": "data.id_number", "class": "id_number"},
	{"path": "data.phone", "class": "phone"},
	{"path": "data.bank_card", "class": "bank_card"},
	{"path": "data.name", "class": "name"},
	{"path": "data.address", "class": "address"},
	{"path": "data.email", "class": "email"},
	{"path": "data.employer.credit_code", "class": "credit_code"},
	{"path": "data.vehicles.#.plate", "class": "vehicle_plate"},
]

test_masks_share_defaults if {
	res := object.union(resource, {"fields": every_class_fields})
	d := data_gateway.decision with input as make_input(department, res, null, "")
	d.masks == {
		"id_number": "partial",
		"phone": "partial",
		"bank_card": "partial",
		"name": "plain",
		"address": "plain",
		"email": "plain",
		"credit_code": "plain",
		"vehicle_plate": "partial",
	}
}

test_masks_open_defaults if {
	res := object.union(open_resource, {"fields": every_class_fields})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	d.masks == {
		"id_number": "partial",
		"phone": "partial",
		"bank_card": "remove",
		"name": "partial",
		"address": "partial",
		"email": "partial",
		"credit_code": "plain",
		"vehicle_plate": "remove",
	}
}

test_masks_backstop_without_fields if {
	res := object.union(resource, {"fields": []})
	d := data_gateway.decision with input as make_input(department, res, null, "")
	d.masks == {"id_number": "partial", "phone": "partial"}
}

test_masks_backstop_fields_missing if {
	res := object.remove(open_resource, {"fields"})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	d.masks == {"id_number": "partial", "phone": "partial"}
}

test_masks_share_grant_hash_override if {
	grant := object.union(share_grant, {"masks": {"id_number": "hash"}})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == true
	d.masks.id_number == "hash"
}

test_masks_share_grant_plain_override if {
	grant := object.union(share_grant, {"masks": {"id_number": "plain", "phone": "remove"}})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == true
	d.masks == {"id_number": "plain", "phone": "remove", "name": "plain", "address": "plain"}
}

test_masks_open_grant_hash_override if {
	grant := object.union(open_grant, {"masks": {"id_number": "hash"}})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == true
	d.masks.id_number == "hash"
}

test_deny_open_grant_plain_personal_field if {
	grant := object.union(open_grant, {"masks": {"name": "plain"}})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == false
	d.reasons == ["grant g-open-1 asks for field class \"name\" unmasked, but personal fields are never opened unmasked"]
}

test_masks_open_refused_plain_keeps_default if {
	grant := object.union(open_grant, {"masks": {"name": "plain"}})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.masks.name == "partial"
}

test_deny_open_grant_plain_unknown_class if {
	# A class the policy has no default for is still personal.
	grant := object.union(open_grant, {"masks": {"vehicle_plate": "plain"}})
	d := data_gateway.decision with input as make_input(company, on_application, grant, "credit_report")
	d.allow == false
}

test_allow_open_grant_plain_credit_code if {
	res := object.union(on_application, {"fields": every_class_fields})
	grant := object.union(open_grant, {"masks": {"credit_code": "plain"}})
	d := data_gateway.decision with input as make_input(company, res, grant, "credit_report")
	d.allow == true
	d.masks.credit_code == "plain"
}

test_deny_grant_unknown_strategy if {
	grant := object.union(share_grant, {"masks": {"id_number": "blur"}})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.allow == false
	d.reasons == ["grant g-share-1 sets an unknown mask strategy \"blur\" for field class \"id_number\": expected one of hash, partial, plain, remove"]
}

test_masks_unknown_strategy_keeps_default if {
	grant := object.union(share_grant, {"masks": {"id_number": "blur"}})
	d := data_gateway.decision with input as make_input(department, conditional, grant, "medical_insurance_review")
	d.masks.id_number == "partial"
}

test_masks_unknown_kind_uses_open_defaults if {
	stranger := object.union(department, {"kind": "foreign_agency"})
	res := object.union(resource, {"fields": every_class_fields})
	d := data_gateway.decision with input as make_input(stranger, res, null, "")
	d.masks.name == "partial"
	d.masks.bank_card == "remove"
}

test_masks_cover_every_field_class if {
	res := object.union(open_resource, {"fields": every_class_fields})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	every field in every_class_fields {
		d.masks[field.class] in {"plain", "partial", "hash", "remove"}
	}
}

test_masks_unconditional_fitting_grant_override if {
	grant := object.union(share_grant, {"masks": {"id_number": "hash"}})
	d := data_gateway.decision with input as make_input(department, resource, grant, "medical_insurance_review")
	d.allow == true
	d.masks.id_number == "hash"
}

test_masks_expired_grant_override_ignored if {
	grant := object.union(share_grant, {
		"masks": {"id_number": "plain"},
		"valid_until": "2025-05-01T00:00:00Z",
	})
	d := data_gateway.decision with input as make_input(department, resource, grant, "medical_insurance_review")
	d.allow == true
	d.masks.id_number == "partial"
}

test_masks_other_scenario_override_ignored if {
	grant := object.union(share_grant, {"masks": {"id_number": "plain"}})
	d := data_gateway.decision with input as make_input(department, resource, grant, "tax_audit")
	d.allow == true
	d.masks.id_number == "partial"
}

test_masks_wrong_kind_override_ignored if {
	grant := object.union(open_grant, {"masks": {"id_number": "plain"}, "scenario": "tax_audit"})
	d := data_gateway.decision with input as make_input(department, resource, grant, "tax_audit")
	d.allow == true
	d.masks.id_number == "partial"
}
