# Package data_gateway.registry decides who may register, change, retire
# and read catalogue entries through the gateway's registry API. A provider
# manages only its own department's resources; an operator reads them all.
# Other files of this package may add actions: each adds `permit if` rules
# for what it allows and `deny contains` rules for what it refuses.
package data_gateway.registry

# Actions on catalogue resources that change them.
resource_changes := {"resource.register", "resource.update", "resource.retire"}

# METADATA
# title: Registry decision
# description: >-
#   The registry API's entry point. A call is allowed only when no rule
#   refuses it and a rule permits it; reasons names every refusal, or says
#   that no rule permits the action.
# entrypoint: true
decision := {"allow": allow, "reasons": reasons}

default allow := false

allow if {
	count(deny) == 0
	permit
}

reasons := [] if {
	allow
} else := sort(deny) if {
	count(deny) > 0
} else := [sprintf("no rule permits a %s to perform %s", [actor_kind, action])]

# Names for messages, which must be defined even for malformed input.
actor_kind := input.actor.kind if is_string(input.actor.kind)

else := "caller of unknown kind"

actor_id := input.actor.id if is_string(input.actor.id)

else := ""

action := input.action if is_string(input.action)

else := "an unnamed action"

# quoted formats a value for a message: a string in double quotes, any
# other value as Rego prints it.
quoted(value) := sprintf("%q", [value]) if is_string(value)

else := sprintf("%v", [value])

# The department a provider acts for; undefined for anyone else.
department := input.actor.provider_id if {
	input.actor.kind == "provider"
	is_string(input.actor.provider_id)
	input.actor.provider_id != ""
}

# Resources.

permit if {
	input.action in resource_changes
	department
}

permit if {
	input.action == "resource.read"
	input.actor.kind == "operator"
}

permit if {
	input.action == "resource.read"
	department
}

deny contains reason if {
	input.action in resource_changes
	not department
	reason := sprintf("%s %q may not register, update or retire resources: only the providing department manages its resources", [actor_kind, actor_id])
}

deny contains reason if {
	input.action == "resource.read"
	input.actor.kind == "consumer"
	reason := sprintf("consumer %q may not read the registry's resource entries: ask the providing department", [actor_id])
}

# The resource as it would be after the change must name the actor's
# department.
deny contains reason if {
	input.action in resource_changes
	department
	is_object(input.resource)
	not input.resource.provider == department
	reason := sprintf("resource %s names provider %s: provider %q may register and change only resources whose provider is %q", [
		quoted(object.get(input.resource, "id", null)),
		quoted(object.get(input.resource, "provider", null)),
		department,
		department,
	])
}

# The stored resource, live or retired, must belong to the actor's
# department: a provider cannot take over another department's id or its
# history.
deny contains reason if {
	input.action in (resource_changes | {"resource.read"})
	department
	is_object(input.existing)
	not input.existing.provider == department
	reason := sprintf("resource %s belongs to provider %s: provider %q may manage only its own department's resources", [
		quoted(object.get(input.existing, "id", null)),
		quoted(object.get(input.existing, "provider", null)),
		department,
	])
}
