package data_gateway

# Type guards on the input document. Rego orders values of different types
# instead of failing, so a comparison on a value of the wrong type would be
# silently false and could let a request through. Each fault found here adds
# one reason, and the decision refuses before any other rule runs.
#
# OPA evaluates the references inside a negated call before the negation,
# so `not is_string(input.x)` is false, not true, when input.x is missing.
# The guards below look values up inside a helper or through a table of
# types, which keeps a missing key from hiding a fault.

# Type of each value the guards check, by key. A missing key has no entry,
# so object.get with a "missing" default tells absent from mistyped. Request
# values are read only inside type tests and by explicit key, because the
# gateway's decision cache keys on every request value that a policy reads
# in any other way.

input_types["consumer"] := type_name(input.consumer)

input_types["resource"] := type_name(input.resource)

input_types["request"] := type_name(input.request)

input_types["credit"] := type_name(input.credit)

input_types["now"] := type_name(input.now)

request_types["method"] := type_name(input.request.method)

request_types["path"] := type_name(input.request.path)

request_types["query"] := type_name(input.request.query)

request_types["scenario"] := type_name(input.request.scenario)

request_types["client_ip"] := type_name(input.request.client_ip)

part_types := {
	"consumer": {key: type_name(value) | some key, value in input.consumer},
	"resource": {key: type_name(value) | some key, value in input.resource},
	"request": request_types,
	"credit": {key: type_name(value) | some key, value in input.credit},
}

input_errors contains sprintf("input.%s must be an object", [part]) if {
	some part in ["consumer", "resource", "request", "credit"]
	object.get(input_types, part, "missing") != "object"
}

input_errors contains "input.now must be an RFC 3339 time string" if {
	object.get(input_types, "now", "missing") != "string"
}

# With strict built-in errors, as the gateway evaluates, a string that is
# not RFC 3339 makes time.parse_rfc3339_ns raise an error instead, which
# the gateway also treats as a refusal.
input_errors contains "input.now must be an RFC 3339 time string" if {
	input_types.now == "string"
	not now_ns
}

# Keys each part must have, with the type of their value.
required_keys := {
	"consumer": {"id": "string", "kind": "string"},
	"resource": {"id": "string", "provider": "string", "share": "string", "open": "string"},
	"request": {"method": "string", "path": "string", "scenario": "string"},
	"credit": {
		"dishonest_debtor": "boolean",
		"abnormal_operation": "boolean",
		"serious_dishonest": "boolean",
	},
}

# Keys a part may leave out, with the type their value must have when
# present.
optional_keys := {
	"consumer": {"org": "string", "credit_code": "string", "platform": "boolean"},
	"resource": {"name": "string", "legal_basis": "string"},
	"request": {"query": "string", "client_ip": "string"},
}

input_errors contains sprintf("input.%s.%s must be a %s", [part, key, type]) if {
	some part, keys in required_keys
	input_types[part] == "object"
	some key, type in keys
	object.get(part_types[part], key, "missing") != type
}

input_errors contains sprintf("input.%s.%s must be a %s", [part, key, type]) if {
	some part, keys in optional_keys
	some key, type in keys
	found := part_types[part][key]
	found != type
}

# Resource fields: an array of {path, class} objects with string values.

input_errors contains "input.resource.fields must be an array" if {
	value := input.resource.fields
	not is_array(value)
	value != null
}

input_errors contains sprintf("input.resource.fields[%d] must be an object with a string path and a string class", [i]) if {
	is_array(input.resource.fields)
	some i, field in input.resource.fields
	not valid_field(field)
}

valid_field(field) if {
	is_string(field.path)
	is_string(field.class)
}

# Nullable objects: a key left out counts as null.

input_errors contains sprintf("input.resource.%s must be an object or null", [key]) if {
	some key in ["conditions", "open_conditions", "emergency"]
	value := input.resource[key]
	not is_object(value)
	value != null
}

input_errors contains "input.grant must be an object or null" if {
	value := input.grant
	not is_object(value)
	value != null
}

# Share conditions: every key may be left out.

input_errors contains sprintf("input.resource.conditions.%s must be an array of strings", [key]) if {
	some key in ["scenarios", "orgs"]
	value := conditions[key]
	not strings_array(value)
}

input_errors contains sprintf("input.resource.conditions.%s must be a boolean", [key]) if {
	some key in ["key_work", "platform"]
	value := conditions[key]
	not is_boolean(value)
}

# Open conditions: every key may be left out; a null credit_check means the
# check applies.

input_errors contains sprintf("input.resource.open_conditions.%s must be an array of strings", [key]) if {
	some key in ["allowed_scenarios", "forbidden_scenarios"]
	value := open_conditions[key]
	not strings_array(value)
}

input_errors contains "input.resource.open_conditions.credit_check must be a boolean or null" if {
	value := open_conditions.credit_check
	not is_boolean(value)
	value != null
}

input_errors contains "input.resource.open_conditions.attribution must be a string" if {
	value := open_conditions.attribution
	not is_string(value)
}

# Emergency: every key is required.

input_errors contains sprintf("input.resource.emergency.%s must be a string", [key]) if {
	is_object(emergency)
	some key in ["event", "scenario", "start", "end"]
	not string_at(emergency, key)
}

# Grant: the identity, kind, scenario and validity are required; the rest
# may be left out.

input_errors contains sprintf("input.grant.%s must be a string", [key]) if {
	is_object(grant)
	some key in ["id", "kind", "scenario", "valid_from", "valid_until"]
	not string_at(grant, key)
}

input_errors contains "input.grant.fields must be an array of strings" if {
	value := grant.fields
	not strings_array(value)
}

input_errors contains "input.grant.key_work must be a boolean" if {
	value := grant.key_work
	not is_boolean(value)
}

input_errors contains "input.grant.purpose must be a string" if {
	value := grant.purpose
	not is_string(value)
}

input_errors contains "input.grant.masks must be an object of strings" if {
	value := grant.masks
	not strings_object(value)
}

string_at(parent, key) if is_string(parent[key])

strings_array(value) if {
	is_array(value)
	every item in value {
		is_string(item)
	}
}

strings_object(value) if {
	is_object(value)
	every key, item in value {
		is_string(key)
		is_string(item)
	}
}

# The fast path: true when every key the gateway sends is present with its
# type. It is stricter than input_errors (it also requires the keys that
# may be left out), so input it accepts never has input errors. Input it
# rejects goes through input_errors, which lists each fault or finds none.
input_well_formed if {
	is_string(input.now)
	now_ns
	consumer_well_formed
	request_well_formed
	credit_well_formed
	resource_well_formed
	grant_well_formed
}

consumer_well_formed if {
	is_string(input.consumer.id)
	is_string(input.consumer.kind)
	is_string(input.consumer.org)
	is_string(input.consumer.credit_code)
	is_boolean(input.consumer.platform)
}

request_well_formed if {
	is_string(input.request.method)
	is_string(input.request.path)
	is_string(input.request.query)
	is_string(input.request.scenario)
	is_string(input.request.client_ip)
}

credit_well_formed if {
	is_boolean(input.credit.dishonest_debtor)
	is_boolean(input.credit.abnormal_operation)
	is_boolean(input.credit.serious_dishonest)
}

resource_well_formed if {
	is_string(input.resource.id)
	is_string(input.resource.provider)
	is_string(input.resource.name)
	is_string(input.resource.share)
	is_string(input.resource.open)
	is_string(input.resource.legal_basis)
	is_array(input.resource.fields)
	every field in input.resource.fields {
		is_string(field.path)
		is_string(field.class)
	}
	conditions_well_formed
	open_conditions_well_formed
	emergency_well_formed
}

conditions_well_formed if input.resource.conditions == null

conditions_well_formed if {
	is_array(input.resource.conditions.scenarios)
	every scenario in input.resource.conditions.scenarios {
		is_string(scenario)
	}
	is_array(input.resource.conditions.orgs)
	every org in input.resource.conditions.orgs {
		is_string(org)
	}
	is_boolean(input.resource.conditions.key_work)
	is_boolean(input.resource.conditions.platform)
}

open_conditions_well_formed if input.resource.open_conditions == null

open_conditions_well_formed if {
	is_array(input.resource.open_conditions.allowed_scenarios)
	every scenario in input.resource.open_conditions.allowed_scenarios {
		is_string(scenario)
	}
	is_array(input.resource.open_conditions.forbidden_scenarios)
	every scenario in input.resource.open_conditions.forbidden_scenarios {
		is_string(scenario)
	}
	type_name(input.resource.open_conditions.credit_check) in {"boolean", "null"}
	is_string(input.resource.open_conditions.attribution)
}

emergency_well_formed if input.resource.emergency == null

emergency_well_formed if {
	is_string(input.resource.emergency.event)
	is_string(input.resource.emergency.scenario)
	is_string(input.resource.emergency.start)
	is_string(input.resource.emergency.end)
}

grant_well_formed if input.grant == null

grant_well_formed if {
	is_string(input.grant.id)
	is_string(input.grant.kind)
	is_string(input.grant.scenario)
	is_string(input.grant.valid_from)
	is_string(input.grant.valid_until)
	is_array(input.grant.fields)
	every path in input.grant.fields {
		is_string(path)
	}
	is_boolean(input.grant.key_work)
	is_string(input.grant.purpose)
	is_object(input.grant.masks)
	every class, strategy in input.grant.masks {
		is_string(class)
		is_string(strategy)
	}
}
