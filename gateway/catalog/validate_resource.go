package catalog

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/citydata/datagateway/gateway/identity"
	"github.com/citydata/datagateway/gateway/mask"
)

func (v *validator) checkResources() {
	ids := make(map[string]string)
	for i := range v.file.Resources {
		resource := &v.file.Resources[i]
		e := v.entry("resources", i, resource.ID)
		e.checkID(ids)
		if _, ok := v.resources[resource.ID]; !ok {
			v.resources[resource.ID] = resource
		}

		v.checkResourceProvider(e, resource)
		if problem := checkPathPrefix(resource.PathPrefix); problem != "" {
			e.fail("path_prefix", "%s", problem)
		}
		if problem := checkUpstream(resource.Upstream); problem != "" {
			e.fail("upstream", "%s", problem)
		}
		v.checkShare(e, resource)
		e.checkOpen(resource)
		e.checkSubject(resource.Subject)
		e.checkFields(resource.Fields)
		e.checkEmergency(resource.Emergency)
		e.checkNoIDNumber("name", resource.Name)
		e.checkNoIDNumber("legal_basis", resource.LegalBasis)
	}
	v.checkOverlaps()
}

// checkNoIDNumber refuses free text that holds a resident identity
// number: the catalogue is stored in Redis and quoted in refusals and
// audit records, where no raw one may appear.
func (e entry) checkNoIDNumber(field, value string) {
	if start, _ := identity.FindIDNumber(value); start >= 0 {
		e.fail(field, "contains a resident identity number: remove it, the catalogue "+
			"is stored and quoted where no raw one may appear")
	}
}

// checkShare checks the share attribute and what it requires: conditions for
// a conditional resource, and the legal basis for one that is not shared.
func (v *validator) checkShare(e entry, resource *Resource) {
	switch resource.Share {
	case ShareUnconditional, ShareConditional, ShareNotShared:
	default:
		e.fail("share", "invalid share attribute %q: use \"unconditional\", "+
			"\"conditional\" or \"not_shared\"", resource.Share)
	}
	if resource.Share == ShareNotShared && resource.LegalBasis == "" {
		e.fail("legal_basis", "missing: a resource that is not shared must name "+
			"the law or policy that forbids sharing, which every refusal quotes")
	}

	conditions := resource.Conditions
	switch {
	case resource.Share != ShareConditional && conditions != nil:
		e.fail("conditions", "set on a resource whose share attribute is %q: "+
			"remove them, or make the share attribute \"conditional\"", resource.Share)
	case resource.Share != ShareConditional:
	case conditions == nil:
		e.fail("conditions", "missing: a conditional resource needs at least one of "+
			"scenarios, orgs, key_work or platform")
	case len(conditions.Scenarios) == 0 && len(conditions.Orgs) == 0 &&
		!conditions.KeyWork && !conditions.Platform:
		e.fail("conditions", "empty: set at least one of scenarios, orgs, key_work or platform")
	default:
		v.checkConditions(e, conditions)
	}
}

func (v *validator) checkConditions(e entry, conditions *Conditions) {
	for j, scenario := range conditions.Scenarios {
		if scenario == "" {
			e.fail(fmt.Sprintf("conditions.scenarios[%d]", j), "empty scenario: name it or remove it")
		}
	}
	for j, org := range conditions.Orgs {
		consumer, ok := v.consumers[org]
		field := fmt.Sprintf("conditions.orgs[%d]", j)
		switch {
		case !ok:
			e.fail(field, "unknown consumer %q: use the id of an entry in consumers", org)
		case isConsumerKind(consumer.Kind) && !isSharingKind(consumer.Kind):
			e.fail(field, "consumer %q is a %s, which cannot receive shared data: "+
				"name a government department or public service organisation", org, consumer.Kind)
		}
	}
}

// checkOpen checks the open attribute, and that open conditions are set only
// on an on-application resource.
func (e entry) checkOpen(resource *Resource) {
	switch resource.Open {
	case OpenOpen, OpenOnApplication, OpenNotOpen:
	default:
		e.fail("open", "invalid open attribute %q: use \"open\", \"on_application\" "+
			"or \"not_open\"", resource.Open)
	}

	conditions := resource.OpenConditions
	if conditions == nil {
		return
	}
	if resource.Open != OpenOnApplication {
		e.fail("open_conditions", "set on a resource whose open attribute is %q: "+
			"remove them, or make the open attribute \"on_application\"", resource.Open)
	}
	for j, scenario := range conditions.AllowedScenarios {
		if scenario == "" {
			e.fail(fmt.Sprintf("open_conditions.allowed_scenarios[%d]", j),
				"empty scenario: name it or remove it")
		}
	}
	for j, scenario := range conditions.ForbiddenScenarios {
		if scenario == "" {
			e.fail(fmt.Sprintf("open_conditions.forbidden_scenarios[%d]", j),
				"empty scenario: name it or remove it")
		}
	}
}

func (e entry) checkSubject(subject *Subject) {
	if subject == nil {
		return
	}
	switch subject.In {
	case SubjectInPath:
		if subject.Name != "" {
			e.fail("subject.name", "set for a subject in the path: remove it, "+
				"because the subject is the first segment after path_prefix")
		}
	case SubjectInQuery:
		if subject.Name == "" {
			e.fail("subject.name", "missing: name the query parameter that holds the subject")
		}
	default:
		e.fail("subject.in", "invalid location %q: use \"path\" or \"query\"", subject.In)
	}
	if subject.Kind != SubjectKindIDNumber && subject.Kind != SubjectKindCreditCode {
		e.fail("subject.kind", "invalid kind %q: use \"id_number\" or \"credit_code\"",
			subject.Kind)
	}
}

func (e entry) checkFields(fields []Field) {
	seen := make(map[string]int, len(fields))
	valid := true
	for j, field := range fields {
		name := fmt.Sprintf("fields[%d]", j)
		if err := mask.CheckPath(field.Path); err != nil {
			e.fail(name+".path", "invalid path %q: %v", field.Path, err)
			valid = false
		} else if first, ok := seen[field.Path]; ok {
			e.fail(name+".path", "duplicate path %q, also fields[%d]: declare each path once",
				field.Path, first)
			valid = false
		} else {
			seen[field.Path] = j
		}
		if !isWord(field.Class) {
			e.fail(name+".class", "invalid field class %q: use a lowercase word "+
				"such as \"id_number\" or \"phone\"", field.Class)
			valid = false
		}
	}
	if !valid {
		return
	}
	// Some limits hold for the paths together (wildcard bytes, distinct
	// prefixes, classes): a set the gateway could not compile must fail
	// here, or a registry holding it could never be loaded.
	compiled := make([]mask.Field, len(fields))
	for j, field := range fields {
		compiled[j] = mask.Field{Path: field.Path, Class: field.Class}
	}
	if _, err := mask.Compile(compiled); err != nil {
		e.fail("fields", "%v: declare fewer or simpler paths", err)
	}
}

func (e entry) checkEmergency(emergency *Emergency) {
	if emergency == nil {
		return
	}
	if emergency.Event == "" {
		e.fail("emergency.event", "missing: name the emergency the data was collected for")
	}
	if emergency.Scenario == "" {
		e.fail("emergency.scenario", "missing: name the only scenario the data may be used for")
	}
	switch {
	case emergency.Start.IsZero():
		e.fail("emergency.start", "missing: set the RFC 3339 time the emergency started")
	case emergency.End.IsZero():
		e.fail("emergency.end", "missing: set the RFC 3339 time the emergency ends, "+
			"after which access ends")
	case !emergency.Start.Before(emergency.End):
		e.fail("emergency.end", "%s is not after start %s: end the emergency after it starts",
			emergency.End.Format(timeFormat), emergency.Start.Format(timeFormat))
	}
}

// checkOverlaps rejects two resources whose path prefixes overlap, one being
// a prefix of the other, because a request path would then match both.
// Invalid prefixes are skipped, since they are already reported.
func (v *validator) checkOverlaps() {
	byPrefix := make(map[string]int, len(v.file.Resources))
	for i := range v.file.Resources {
		prefix := v.file.Resources[i].PathPrefix
		if checkPathPrefix(prefix) != "" {
			continue
		}
		if first, ok := byPrefix[prefix]; ok {
			v.reportOverlap(i, first)
			continue
		}
		byPrefix[prefix] = i
	}

	// A shorter prefix that contains this one ends at one of its slashes.
	for i := range v.file.Resources {
		prefix := v.file.Resources[i].PathPrefix
		if j, ok := byPrefix[prefix]; !ok || j != i {
			continue
		}
		for end := len(pathPrefixRoot); end < len(prefix)-1; end++ {
			if prefix[end] != '/' {
				continue
			}
			if outer, ok := byPrefix[prefix[:end+1]]; ok {
				v.reportOverlap(i, outer)
			}
		}
	}
}

// reportOverlap records that resource i's prefix equals or lies inside the
// prefix of resource other.
func (v *validator) reportOverlap(i, other int) {
	resource := &v.file.Resources[i]
	outer := &v.file.Resources[other]
	e := v.entry("resources", i, resource.ID)
	e.fail("path_prefix", "%q overlaps the prefix %q of resources[%d] (id %q): "+
		"a request path must match one resource only, so give each resource a "+
		"prefix that is not a prefix of another", resource.PathPrefix, outer.PathPrefix,
		other, outer.ID)
}

// checkUpstream returns what is wrong with a provider's base address, or "".
// Messages quote the address with any password redacted.
func checkUpstream(raw string) string {
	if raw == "" {
		return fmt.Sprintf("missing: set the provider's base address, such as %q", exampleUpstream)
	}
	u, err := url.Parse(raw)
	if err != nil {
		if urlErr, ok := err.(*url.Error); ok {
			err = urlErr.Err
		}
		return fmt.Sprintf("invalid address: %v: write it as %q", err, exampleUpstream)
	}
	redacted := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must use http or https, such as %q", redacted, exampleUpstream)
	case u.User != nil:
		return fmt.Sprintf("%q contains user information: remove it, because "+
			"the upstream address must not carry credentials", redacted)
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Sprintf("%q has no host: write it as %q", redacted, exampleUpstream)
	case u.Port() == "":
		return fmt.Sprintf("%q has no port: add one, such as %q", redacted, exampleUpstream)
	case u.Path != "" || u.RawPath != "":
		return fmt.Sprintf("%q has a path: remove it, because the cleaned request "+
			"path is sent to the upstream unchanged", redacted)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "":
		return fmt.Sprintf("%q has a query or fragment: remove it", redacted)
	}
	if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
		return fmt.Sprintf("%q has port %q: use a port from 1 to 65535", redacted, u.Port())
	}
	return ""
}

// checkPathPrefix returns what is wrong with a resource's path prefix, or "".
// A valid prefix is clean, so a cleaned request path can match it byte for
// byte: it starts with "/api/", ends with "/", and its segments are non-empty,
// are not dot segments, do not end with "." and use only [a-z0-9._~-].
func checkPathPrefix(prefix string) string {
	switch {
	case prefix == "":
		return fmt.Sprintf("missing: set the request path prefix, such as %q", examplePathPrefix)
	case !strings.HasPrefix(prefix, pathPrefixRoot):
		return fmt.Sprintf("%q must start with %q, such as %q", prefix, pathPrefixRoot, examplePathPrefix)
	case !strings.HasSuffix(prefix, "/"):
		return fmt.Sprintf("%q must end with \"/\": use %q", prefix, prefix+"/")
	case prefix == pathPrefixRoot:
		return fmt.Sprintf("%q names no resource: add at least one segment, such as %q",
			prefix, examplePathPrefix)
	}

	segments := strings.Split(prefix[1:len(prefix)-1], "/")
	for _, seg := range segments {
		switch {
		case seg == "":
			return fmt.Sprintf("%q has a doubled slash: remove the empty segment", prefix)
		case seg == "." || seg == "..":
			return fmt.Sprintf("%q has the dot segment %q: write the path without it", prefix, seg)
		case seg[len(seg)-1] == '.':
			return fmt.Sprintf("%q has segment %q ending with \".\", which requests "+
				"cannot match: remove the dot", prefix, seg)
		}
		for _, r := range seg {
			if r >= utf8.RuneSelf || !isLowerAlnum(byte(r)) && !strings.ContainsRune("._~-", r) {
				return fmt.Sprintf("%q contains %q: segments may use only lowercase letters, "+
					"digits, \".\", \"_\", \"~\" and \"-\"", prefix, r)
			}
		}
	}
	return ""
}
