package data_gateway_test

import data.data_gateway

# Fixtures shared by every test file of this package.

now := "2025-06-01T10:00:00Z"

department := {
	"id": "xm-health",
	"kind": "government_department",
	"org": "Xiamen Municipal Health Commission",
	"credit_code": "11350200MB0000001X",
	"platform": false,
}

service_org := object.union(department, {
	"id": "xm-water",
	"kind": "public_service_org",
	"org": "Xiamen Water Supply Group",
})

person := {
	"id": "p-0001",
	"kind": "natural_person",
	"org": "",
	"credit_code": "",
	"platform": false,
}

company := object.union(person, {
	"id": "c-0001",
	"kind": "legal_person",
	"org": "Xiamen Example Technology Co., Ltd.",
	"credit_code": "91350200MA0000002Y",
})

association := object.union(company, {"id": "u-0001", "kind": "unincorporated_org"})

persons_fields := [
	{"path": "data.id_number", "class": "id_number"},
	{"path": "data.name", "class": "name"},
	{"path": "data.phone", "class": "phone"},
	{"path": "data.address", "class": "address"},
]

resource := {
	"id": "population.persons",
	"provider": "Xiamen Public Security Bureau",
	"name": "Resident records",
	"share": "unconditional",
	"open": "not_open",
	"legal_basis": "",
	"conditions": null,
	"open_conditions": null,
	"fields": persons_fields,
	"emergency": null,
}

conditional := object.union(resource, {"share": "conditional"})

on_application := object.union(resource, {"share": "not_shared", "open": "on_application"})

open_resource := object.union(resource, {"share": "not_shared", "open": "open"})

share_grant := {
	"id": "g-share-1",
	"kind": "share",
	"scenario": "medical_insurance_review",
	"fields": [],
	"valid_from": "2025-01-01T00:00:00Z",
	"valid_until": "2026-01-01T00:00:00Z",
	"key_work": false,
	"purpose": "check insured persons' residence",
	"masks": {},
	"quota": null,
}

open_grant := object.union(share_grant, {
	"id": "g-open-1",
	"kind": "open",
	"scenario": "credit_report",
})

clean_credit := {
	"dishonest_debtor": false,
	"abnormal_operation": false,
	"serious_dishonest": false,
}

request(scenario) := {
	"method": "GET",
	"path": "/api/population/persons/350203199001011234",
	"query": "",
	"scenario": scenario,
	"client_ip": "127.0.0.1",
}

make_input(consumer, res, grant, scenario) := {
	"consumer": consumer,
	"resource": res,
	"grant": grant,
	"request": request(scenario),
	"credit": clean_credit,
	"now": now,
}

# The decision as a whole.

test_decision_has_every_key if {
	d := data_gateway.decision with input as make_input(department, resource, null, "")
	object.keys(d) == {"allow", "reasons", "fields", "masks", "obligations"}
}

test_allow_has_no_reasons if {
	d := data_gateway.decision with input as make_input(department, resource, null, "")
	d.allow == true
	d.reasons == []
}

test_deny_unknown_consumer_kind if {
	stranger := object.union(department, {"kind": "foreign_agency"})
	d := data_gateway.decision with input as make_input(stranger, open_resource, null, "")
	d.allow == false
	d.reasons == ["unknown consumer kind \"foreign_agency\": expected one of government_department, legal_person, natural_person, public_service_org, unincorporated_org"]
}

test_deny_when_no_rule_grants if {
	# No refusal alone never allows: a positive rule must grant access too.
	d := data_gateway.decision with input as make_input(department, resource, null, "")
		with data_gateway.granted as false
	d.allow == false
	d.reasons == ["no sharing or opening rule grants this consumer access to this resource"]
}

test_obligations_default_attribution if {
	d := data_gateway.decision with input as make_input(department, resource, null, "")
	d.obligations == {"attribution": "Xiamen Public Security Bureau / population.persons"}
}

test_obligations_provider_attribution if {
	res := object.union(open_resource, {"open_conditions": {"attribution": "Source: Xiamen Public Security Bureau open data"}})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	d.obligations == {"attribution": "Source: Xiamen Public Security Bureau open data"}
}

test_obligations_empty_attribution_uses_default if {
	res := object.union(open_resource, {"open_conditions": {"attribution": ""}})
	d := data_gateway.decision with input as make_input(person, res, null, "")
	d.obligations.attribution == "Xiamen Public Security Bureau / population.persons"
}

test_reasons_sorted_and_complete if {
	# No grant and no scenario: both refusals are listed, in sorted order.
	d := data_gateway.decision with input as make_input(department, conditional, null, "")
	d.reasons == [
		"resource population.persons needs an approved share application, and the consumer has none",
		"the request declares no scenario: send the X-Data-Scenario header",
	]
}
