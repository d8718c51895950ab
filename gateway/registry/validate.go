package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/citydata/datagateway/gateway/catalog"
)

// checkCandidate validates res as an entry of file, where it replaces the
// resource with the same id or is added. upstreamProblem is the result of
// the store's UpstreamGuard, reported unless the upstream is already
// malformed. It returns an *InvalidError naming every problem, or nil.
func checkCandidate(file *catalog.File, res *catalog.Resource, upstreamProblem *Problem) error {
	problems := checkEntry(file, res)
	if upstreamProblem != nil && !hasField(problems, "upstream") {
		problems = append(problems, *upstreamProblem)
	}
	if !hasField(problems, "path_prefix") {
		problems = append(problems, checkOverlap(file.Resources, res)...)
	}
	if len(problems) > 0 {
		return &InvalidError{ResourceID: quotableID(res.ID), Problems: problems}
	}

	// The checks above cover one entry. Validating the whole catalogue the
	// change would produce keeps every instance able to load it.
	candidate := *file
	candidate.Resources = withResource(file.Resources, res)
	if err := candidate.Validate(); err != nil {
		return &InvalidError{ResourceID: quotableID(res.ID), Problems: catalogueProblems(err)}
	}
	return nil
}

// checkEntry validates res alone, as the catalogue file validates an entry,
// against the registry's consumers and providers, which its conditions and
// provider field name.
func checkEntry(file *catalog.File, res *catalog.Resource) []Problem {
	single := catalog.File{
		Consumers: file.Consumers,
		Providers: file.Providers,
		Resources: []catalog.Resource{*res},
	}
	err := single.Validate()
	var entries catalog.Errors
	if !errors.As(err, &entries) {
		return nil
	}
	var problems []Problem
	for _, e := range entries {
		// Problems of the stored consumers and providers are not the
		// registrant's to fix; the whole-catalogue check reports them.
		if e.Entry != "resources[0]" {
			continue
		}
		field := e.Field
		if field == "" {
			field = "resource"
		}
		problems = append(problems, Problem{Field: field, Message: e.Problem})
	}
	return problems
}

// checkOverlap reports every other resource whose path prefix equals,
// contains or lies inside res's, since a request path must match one
// resource only.
func checkOverlap(resources []catalog.Resource, res *catalog.Resource) []Problem {
	var problems []Problem
	for i := range resources {
		other := &resources[i]
		if other.ID == res.ID {
			continue
		}
		if !strings.HasPrefix(res.PathPrefix, other.PathPrefix) &&
			!strings.HasPrefix(other.PathPrefix, res.PathPrefix) {
			continue
		}
		problems = append(problems, Problem{
			Field: "path_prefix",
			Message: fmt.Sprintf("%q overlaps the prefix %q of resource %q of provider %q: "+
				"choose a prefix that neither contains nor lies inside another resource's "+
				"prefix, because a request path must match one resource only",
				res.PathPrefix, other.PathPrefix, other.ID, other.Provider),
		})
	}
	return problems
}

func hasField(problems []Problem, field string) bool {
	for _, p := range problems {
		if p.Field == field {
			return true
		}
	}
	return false
}

// withResource returns a copy of resources with res in place of the entry
// with its id, or appended.
func withResource(resources []catalog.Resource, res *catalog.Resource) []catalog.Resource {
	out := make([]catalog.Resource, 0, len(resources)+1)
	replaced := false
	for _, r := range resources {
		if r.ID == res.ID {
			r = *res
			replaced = true
		}
		out = append(out, r)
	}
	if !replaced {
		out = append(out, *res)
	}
	return out
}

// catalogueProblems turns a whole-catalogue validation error into problems
// whose field is "catalogue".
func catalogueProblems(err error) []Problem {
	var entries catalog.Errors
	if !errors.As(err, &entries) {
		return []Problem{{Field: "catalogue", Message: err.Error()}}
	}
	problems := make([]Problem, len(entries))
	for i, e := range entries {
		problems[i] = Problem{Field: "catalogue", Message: e.Error() +
			": the registry would not load with this change; ask the operator to fix the entry"}
	}
	return problems
}

// quotableID returns id when it is a valid id, which may appear in errors,
// and "" otherwise.
func quotableID(id string) string {
	if catalog.ValidID(id) {
		return id
	}
	return ""
}
