package data_gateway

# Mask strategies the gateway applies to a field class.
mask_strategies := {"plain", "partial", "hash", "remove"}

# Field classes every decision covers, because the gateway scans every
# response for identity numbers and mobile numbers that providers did not
# declare.
backstop_classes := {"id_number", "phone"}

# Strategies for sharing between government bodies; a class not listed is
# masked partially.
share_default_masks := {
	"id_number": "partial",
	"phone": "partial",
	"bank_card": "partial",
	"name": "plain",
	"address": "plain",
	"email": "plain",
	"credit_code": "plain",
}

# Strategies for opening to the public; a class not listed is removed.
# Personal information is never opened as it is.
open_default_masks := {
	"id_number": "partial",
	"phone": "partial",
	"name": "partial",
	"address": "partial",
	"bank_card": "remove",
	"email": "partial",
	"credit_code": "plain",
}

# The one class that names an organisation rather than a person, so it may
# be opened in plain form.
impersonal_classes := {"credit_code"}

mask_classes := {field.class | some field in input.resource.fields} | backstop_classes

# Every class gets the route's default. The override of a grant that fits
# the request then wins where it is a known strategy the route allows; an
# override that is not allowed keeps the default, and mask_refusals states
# why.
masks := object.union_n([
	object.filter(route_default_masks, mask_classes),
	{class: route_fallback_mask | some class in (mask_classes - object.keys(route_default_masks))},
	mask_overrides,
])

mask_overrides := {class: strategy |
	grant_fits
	some class, strategy in grant_masks
	class in mask_classes
	strategy in mask_strategies
	not plain_refused(class, strategy)
}

route_default_masks := share_default_masks if {
	share_route
} else := open_default_masks

# Strategy of a class that the route's defaults do not list.
route_fallback_mask := "partial" if {
	share_route
} else := "remove"

# Only the sharing route may take personal fields unmasked. A consumer of
# unknown kind is held to the opening route's limits.
plain_refused(class, strategy) if {
	not share_route
	strategy == "plain"
	not class in impersonal_classes
}

mask_refusals contains reason if {
	some class, strategy in grant_masks
	not strategy in mask_strategies
	reason := sprintf("grant %s sets an unknown mask strategy %q for field class %q: expected one of %s", [
		grant.id,
		strategy,
		class,
		concat(", ", sort(mask_strategies)),
	])
}

mask_refusals contains reason if {
	some class, strategy in grant_masks
	plain_refused(class, strategy)
	reason := sprintf("grant %s asks for field class %q unmasked, but personal fields are never opened unmasked", [
		grant.id,
		class,
	])
}
