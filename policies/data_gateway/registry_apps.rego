# Applications, grants and credit lists in the registry API. A consumer
# submits applications in its own name and reads its own. The providing
# department of the resource reviews them: it records the first check of an
# open application, approves or refuses, and revokes the grants of its
# resources. An operator of the platform may also record a first check,
# which the measures give to the platform, and reads every application;
# only operators import credit lists.
#
# Input: resource is the catalogue resource concerned, application the
# application (null for a grant that no application created), existing
# the grant being revoked.
package data_gateway.registry

# Review actions that only the providing department may take.
application_reviews := {"application.approve", "application.refuse", "grant.revoke"}

# Id of the application's consumer, if it is a non-empty string.
application_consumer := input.application.consumer if {
	is_string(input.application.consumer)
	input.application.consumer != ""
}

# Provider of the resource the application or grant concerns.
resource_provider := input.resource.provider if is_string(input.resource.provider)

# The actor is the providing department of the resource concerned.
providing_department if {
	department
	resource_provider == department
}

# Submitting.

permit if {
	input.action == "application.submit"
	input.actor.kind == "consumer"
	application_consumer == actor_id
}

deny contains reason if {
	input.action == "application.submit"
	input.actor.kind != "consumer"
	reason := sprintf("%s %q may not submit applications: a consumer applies in its own name", [actor_kind, actor_id])
}

deny contains reason if {
	input.action == "application.submit"
	input.actor.kind == "consumer"
	not application_consumer == actor_id
	reason := sprintf("consumer %q may not submit an application in the name of %s", [
		actor_id,
		quoted(object.get(input.application, "consumer", null)),
	])
}

# Reviewing.

permit if {
	input.action in application_reviews
	providing_department
}

permit if {
	input.action == "application.check"
	providing_department
}

permit if {
	input.action == "application.check"
	input.actor.kind == "operator"
}

deny contains reason if {
	input.action in (application_reviews | {"application.check"})
	department
	not resource_provider == department
	reason := sprintf("resource %s belongs to provider %s: provider %q may review applications and grants only for its own department's resources", [
		quoted(object.get(input.resource, "id", null)),
		quoted(object.get(input.resource, "provider", null)),
		department,
	])
}

deny contains reason if {
	input.action in application_reviews
	not department
	reason := sprintf("%s %q may not approve, refuse or revoke: only the providing department of the resource reviews its applications and grants", [actor_kind, actor_id])
}

deny contains reason if {
	input.action == "application.check"
	not department
	input.actor.kind != "operator"
	reason := sprintf("%s %q may not record a first check: the providing department or the platform operator does", [actor_kind, actor_id])
}

# Reading.

permit if {
	input.action == "application.read"
	input.actor.kind == "operator"
}

permit if {
	input.action == "application.read"
	providing_department
}

permit if {
	input.action == "application.read"
	input.actor.kind == "consumer"
	application_consumer == actor_id
}

deny contains reason if {
	input.action == "application.read"
	input.actor.kind == "consumer"
	not application_consumer == actor_id
	reason := sprintf("consumer %q may read only its own applications", [actor_id])
}

deny contains reason if {
	input.action == "application.read"
	department
	not resource_provider == department
	reason := sprintf("provider %q may read only applications for its own department's resources", [department])
}

# Credit lists.

permit if {
	input.action == "credit.import"
	input.actor.kind == "operator"
}

deny contains reason if {
	input.action == "credit.import"
	input.actor.kind != "operator"
	reason := sprintf("%s %q may not import credit lists: only the platform operator does", [actor_kind, actor_id])
}
