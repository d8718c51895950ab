# Package data_gateway decides whether a consumer may read a catalogue
# resource through the gateway, which fields it may see, and how each field
# class is masked.
package data_gateway

# Consumer kinds that take part in sharing between government bodies.
share_kinds := {"government_department", "public_service_org"}

# Consumer kinds to whom data is opened.
open_kinds := {"natural_person", "legal_person", "unincorporated_org"}

share_route if input.consumer.kind in share_kinds

open_route if input.consumer.kind in open_kinds

# The refusal returned when no other definition of decision applies, so the
# entry point is always defined and never allows.
default decision := {
	"allow": false,
	"reasons": ["the policy reached no decision for this request"],
	"fields": null,
	"masks": {"id_number": "remove", "phone": "remove"},
	"obligations": {"attribution": ""},
}

# METADATA
# title: Access decision
# description: >-
#   The gateway's entry point. Malformed input is refused with one reason per
#   fault. Otherwise access is allowed only when no rule refuses and a sharing
#   or opening rule grants it; fields limits the data scope (null for all),
#   masks gives a strategy for every field class of the resource, and
#   obligations carries the source statement that results must cite.
# entrypoint: true
decision := checked_decision if {
	# Fast path: the complete, well-typed input the gateway builds.
	input_well_formed
} else := malformed_decision if {
	count(input_errors) > 0
} else := checked_decision

checked_decision := {
	"allow": allow,
	"reasons": reasons,
	"fields": fields,
	"masks": masks,
	"obligations": obligations,
}

malformed_decision := {
	"allow": false,
	"reasons": sort(input_errors),
	"fields": null,
	"masks": {"id_number": "remove", "phone": "remove"},
	"obligations": {"attribution": ""},
}

default allow := false

allow if {
	count(deny) == 0
	granted
}

reasons := sort(deny) if {
	count(deny) > 0
} else := [] if {
	granted
} else := ["no sharing or opening rule grants this consumer access to this resource"]

# Data scope: a grant that applies to the request and names fields limits
# the response to them.
default fields := null

fields := grant.fields if {
	grant_applies
	count(grant.fields) > 0
}

obligations := {"attribution": attribution}

# Attribution is the source statement that results must cite: the
# provider's own wording when it set one, else provider and resource id.
attribution := open_conditions.attribution if {
	open_conditions.attribution != ""
} else := sprintf("%s / %s", [input.resource.provider, input.resource.id])

# Refusals, grouped so that a request evaluates only the groups that
# concern it.

deny contains reason if {
	share_route
	some reason in share_refusals
}

deny contains reason if {
	open_route
	some reason in open_refusals
}

deny contains reason if {
	required_grant_kind
	some reason in grant_refusals
}

deny contains reason if {
	emergency
	some reason in emergency_refusals
}

deny contains reason if {
	some reason in mask_refusals
}

deny contains reason if {
	not share_route
	not open_route
	reason := sprintf("unknown consumer kind %q: expected one of %s", [
		input.consumer.kind,
		concat(", ", sort(share_kinds | open_kinds)),
	])
}

# Current time of the request in nanoseconds since the Unix epoch.
now_ns := time.parse_rfc3339_ns(input.now)
