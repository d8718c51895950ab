package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/citydata/datagateway/gateway/identity"
	"github.com/citydata/datagateway/gateway/mask"
)

// Mask strategies a grant may name in Masks.
const (
	MaskPlain   = "plain"
	MaskPartial = "partial"
	MaskHash    = "hash"
	MaskRemove  = "remove"
)

// Subject locations and kinds.
const (
	SubjectInPath         = "path"
	SubjectInQuery        = "query"
	SubjectKindIDNumber   = "id_number"
	SubjectKindCreditCode = "credit_code"
)

const (
	pathPrefixRoot    = "/api/"
	examplePathPrefix = "/api/population/persons/"
	exampleUpstream   = "http://10.0.0.5:8080"
	sha256HexLen      = 64
	timeFormat        = "2006-01-02T15:04:05Z07:00"
)

// EntryError is one problem with one catalogue entry.
type EntryError struct {
	// Entry is the location of the entry in the file, such as "resources[2]".
	Entry string
	// ID is the entry's id, or empty when the entry has none.
	ID string
	// Field is the field at fault, such as "path_prefix" or "fields[1].path".
	Field string
	// Problem states what is wrong and how to fix it.
	Problem string
}

// Error formats the problem as
// `resources[2] (id "x"): path_prefix: problem`.
func (e *EntryError) Error() string {
	var b strings.Builder
	b.WriteString(e.Entry)
	if e.ID != "" {
		fmt.Fprintf(&b, " (id %q)", e.ID)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Errors lists every problem found in a catalogue, in file order.
type Errors []*EntryError

// Error returns the problems one per line, after a count.
func (errs Errors) Error() string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(errs))
	for _, e := range errs {
		b.WriteString("\n")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Validate checks every entry of the catalogue and every reference between
// entries. It returns nil or an Errors value listing every problem found.
func (f *File) Validate() error {
	v := validator{
		file:      f,
		consumers: make(map[string]*Consumer, len(f.Consumers)),
		providers: make(map[string]*Provider, len(f.Providers)),
		resources: make(map[string]*Resource, len(f.Resources)),
	}
	v.checkConsumers()
	v.checkProviders()
	v.checkResources()
	v.checkGrants()
	v.checkCreditLists()
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// validator collects the problems of one File.
type validator struct {
	file *File
	errs Errors
	// consumers, providers and resources map each id to its first entry,
	// for the references from resources, grants and conditions.
	consumers map[string]*Consumer
	providers map[string]*Provider
	resources map[string]*Resource
}

// entry is the location of one catalogue entry, to which problems are added.
type entry struct {
	v    *validator
	name string
	// id is the entry's id as errors quote it. It is empty when the id is a
	// resident identity number, which idIsIDNumber then records.
	id           string
	idIsIDNumber bool
}

func (v *validator) entry(collection string, index int, id string) entry {
	e := entry{v: v, name: fmt.Sprintf("%s[%d]", collection, index), id: id}
	if identity.ValidIDNumberFold([]byte(id)) {
		e.id = ""
		e.idIsIDNumber = true
	}
	return e
}

// fail records a problem with the entry's field.
func (e entry) fail(field, format string, args ...any) {
	e.v.errs = append(e.v.errs, &EntryError{
		Entry:   e.name,
		ID:      e.id,
		Field:   field,
		Problem: fmt.Sprintf(format, args...),
	})
}

// checkID checks an entry's id and records it in seen, which maps each id of
// the collection to the name of the entry that first used it.
func (e entry) checkID(seen map[string]string) {
	switch {
	case e.idIsIDNumber:
		e.fail("id", "the id is a resident identity number: use an opaque id "+
			"instead, because ids appear in clear in audit records and logs")
		return
	case e.id == "":
		e.fail("id", "missing: give the entry a unique id")
		return
	case !isID(e.id):
		e.fail("id", "invalid id %q: use only lowercase letters, digits, \".\", \"_\" and \"-\"", e.id)
	}
	if first, ok := seen[e.id]; ok {
		e.fail("id", "duplicate id %q, also used by %s: give each entry its own id", e.id, first)
		return
	}
	seen[e.id] = e.name
}

// isID reports whether s is a non-empty string of [a-z0-9._-].
func isID(s string) bool {
	// An id starts with a letter or digit: ".", ".." and "-" would be
	// cleaned away or misread in the registry API's URLs.
	if s == "" || !isLowerAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isWord reports whether s is a lowercase word such as "id_number": a
// letter followed by letters, digits and underscores.
func isWord(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isLowerAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// isSHA256Hex reports whether s is 64 lowercase hex digits.
func isSHA256Hex(s string) bool {
	if len(s) != sha256HexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isSharingKind reports whether consumers of kind take part in sharing
// between government bodies, rather than receiving opened data.
func isSharingKind(kind string) bool {
	return kind == KindGovernmentDepartment || kind == KindPublicServiceOrg
}

func isConsumerKind(kind string) bool {
	switch kind {
	case KindGovernmentDepartment, KindPublicServiceOrg, KindNaturalPerson,
		KindLegalPerson, KindUnincorporatedOrg:
		return true
	}
	return false
}

const consumerKinds = `"government_department", "public_service_org", ` +
	`"natural_person", "legal_person" or "unincorporated_org"`

func (v *validator) checkConsumers() {
	ids := make(map[string]string)
	keys := make(map[string]string)
	certs := make(map[string]string)
	for i := range v.file.Consumers {
		consumer := &v.file.Consumers[i]
		e := v.entry("consumers", i, consumer.ID)
		e.checkID(ids)
		if _, ok := v.consumers[consumer.ID]; !ok {
			v.consumers[consumer.ID] = consumer
		}
		e.checkNoIDNumber("org", consumer.Org)

		if !isConsumerKind(consumer.Kind) {
			e.fail("kind", "invalid kind %q: use %s", consumer.Kind, consumerKinds)
		}
		e.checkCreditCode(consumer)
		e.checkCredential("api_key_sha256", consumer.APIKeySHA256, keys)
		e.checkCredential("cert_sha256", consumer.CertSHA256, certs)
		if consumer.APIKeySHA256 == "" && consumer.CertSHA256 == "" {
			e.fail("api_key_sha256", "missing credential: set api_key_sha256, "+
				"cert_sha256 or both, so the consumer can authenticate")
		}
	}
}

// checkCreditCode requires a valid credit code of an organisation and none
// of a natural person.
func (e entry) checkCreditCode(consumer *Consumer) {
	switch {
	case consumer.Kind == KindNaturalPerson && consumer.CreditCode != "":
		e.fail("credit_code", "set for a natural person: remove it, "+
			"because only organisations have a unified social credit code")
	case consumer.Kind == KindNaturalPerson || !isConsumerKind(consumer.Kind):
		// A natural person has no code, and an unknown kind is reported once.
	case consumer.CreditCode == "":
		e.fail("credit_code", "missing: an organisation needs its "+
			"18-character unified social credit code")
	default:
		if problem := checkCreditCode(consumer.CreditCode); problem != "" {
			e.fail("credit_code", "%s", problem)
		}
	}
}

// checkCreditCode returns what is wrong with a unified social credit code,
// or "". A resident identity number pasted in its place is not quoted.
func checkCreditCode(code string) string {
	err := identity.CheckCreditCode(code)
	switch {
	case err == nil:
		return ""
	case identity.CheckIDNumber(code) == nil:
		return "the value is a resident identity number, not a unified social " +
			"credit code: remove it and enter the organisation's credit code"
	default:
		return err.Error()
	}
}

// checkCredential checks an optional SHA-256 hex digest and records it in
// seen. The value is never quoted, in case a raw API key was pasted there.
func (e entry) checkCredential(field, digest string, seen map[string]string) {
	if digest == "" {
		return
	}
	if !isSHA256Hex(digest) {
		e.fail(field, "invalid digest of %d characters: write the SHA-256 of the "+
			"credential as 64 lowercase hex digits, never the credential itself", len(digest))
		return
	}
	if first, ok := seen[digest]; ok {
		e.fail(field, "the same digest is used by %s: give each consumer its own credential", first)
		return
	}
	seen[digest] = e.name
}

func (v *validator) checkGrants() {
	ids := make(map[string]string)
	for i := range v.file.Grants {
		grant := &v.file.Grants[i]
		e := v.entry("grants", i, grant.ID)
		e.checkID(ids)
		v.checkGrantParties(e, grant)

		if grant.Scenario == "" {
			e.fail("scenario", "missing: name the scenario the application was approved for")
		}
		e.checkNoIDNumber("purpose", grant.Purpose)
		e.checkValidity(grant)
		for j, path := range grant.Fields {
			if err := mask.CheckPath(path); err != nil {
				e.fail(fmt.Sprintf("fields[%d]", j), "invalid path %q: %v", path, err)
			}
		}
		e.checkMasks(grant.Masks)
		if q := grant.Quota; q != nil && (q.PerDay < 0 || q.PerMinute < 0) {
			e.fail("quota", "negative quota (per_day %d, per_minute %d): "+
				"use a positive number of calls, or 0 for no bound", q.PerDay, q.PerMinute)
		}
	}
}

// checkGrantParties checks the grant's kind, consumer and resource, and that
// the kind suits the consumer: share grants go to government bodies and open
// grants to the public.
func (v *validator) checkGrantParties(e entry, grant *Grant) {
	if grant.Kind != GrantShare && grant.Kind != GrantOpen {
		e.fail("kind", "invalid kind %q: use \"share\" for a share application "+
			"or \"open\" for an open application", grant.Kind)
	}
	if _, ok := v.resources[grant.Resource]; !ok {
		e.fail("resource", "unknown resource %q: use the id of an entry in resources",
			grant.Resource)
	}

	consumer, ok := v.consumers[grant.Consumer]
	switch {
	case !ok:
		e.fail("consumer", "unknown consumer %q: use the id of an entry in consumers",
			grant.Consumer)
	case !isConsumerKind(consumer.Kind):
		// Reported with the consumer.
	case grant.Kind == GrantShare && !isSharingKind(consumer.Kind):
		e.fail("kind", "share grant for consumer %q, a %s: share grants are for "+
			"government departments and public service organisations, so use \"open\"",
			grant.Consumer, consumer.Kind)
	case grant.Kind == GrantOpen && isSharingKind(consumer.Kind):
		e.fail("kind", "open grant for consumer %q, a %s: government bodies receive data "+
			"by sharing, so use \"share\"", grant.Consumer, consumer.Kind)
	}
}

func (e entry) checkValidity(grant *Grant) {
	switch {
	case grant.ValidFrom.IsZero():
		e.fail("valid_from", "missing: set the RFC 3339 time the grant starts")
	case grant.ValidUntil.IsZero():
		e.fail("valid_until", "missing: set the RFC 3339 time the grant ends")
	case !grant.ValidFrom.Before(grant.ValidUntil):
		e.fail("valid_until", "%s is not after valid_from %s: end the grant after it starts",
			grant.ValidUntil.Format(timeFormat), grant.ValidFrom.Format(timeFormat))
	}
}

func (e entry) checkMasks(masks map[string]string) {
	// Sorted, so the problems come out in the same order on every load.
	for _, class := range slices.Sorted(maps.Keys(masks)) {
		field := fmt.Sprintf("masks[%q]", class)
		if !isWord(class) {
			e.fail(field, "invalid field class %q: use a lowercase word such as \"id_number\"", class)
		}
		switch masks[class] {
		case MaskPlain, MaskPartial, MaskHash, MaskRemove:
		default:
			e.fail(field, "invalid mask strategy %q: use \"plain\", \"partial\", "+
				"\"hash\" or \"remove\"", masks[class])
		}
	}
}

func (v *validator) checkCreditLists() {
	lists := &v.file.CreditLists
	v.checkCreditList(ListDishonestDebtor, lists.DishonestDebtor)
	v.checkCreditList(ListAbnormalOperation, lists.AbnormalOperation)
	v.checkCreditList(ListSeriousDishonest, lists.SeriousDishonest)
}

func (v *validator) checkCreditList(name string, codes []string) {
	e := entry{v: v, name: "credit_lists"}
	seen := make(map[string]int, len(codes))
	for i, code := range codes {
		field := fmt.Sprintf("%s[%d]", name, i)
		if problem := checkCreditCode(code); problem != "" {
			e.fail(field, "%s", problem)
			continue
		}
		if first, ok := seen[code]; ok {
			e.fail(field, "duplicate credit code %q, also %s[%d]: list each code once",
				code, name, first)
			continue
		}
		seen[code] = i
	}
}
