package data_gateway

# Data collected for an emergency may be used only for that emergency's
# scenario, and only from its start (inclusive) to its end (exclusive): when
# the emergency ends, access ends.

emergency := input.resource.emergency if is_object(input.resource.emergency)

emergency_refusals contains reason if {
	now_ns < time.parse_rfc3339_ns(emergency.start)
	reason := sprintf("the emergency %q starts at %s, so its data may not be used before then", [
		emergency.event,
		emergency.start,
	])
}

emergency_refusals contains reason if {
	now_ns >= time.parse_rfc3339_ns(emergency.end)
	reason := sprintf("the emergency %q ended at %s, so access to its data has ended", [
		emergency.event,
		emergency.end,
	])
}

emergency_refusals contains reason if {
	input.request.scenario != emergency.scenario
	reason := sprintf("data collected for the emergency %q may be used only for the scenario %q, not for %q", [
		emergency.event,
		emergency.scenario,
		input.request.scenario,
	])
}
