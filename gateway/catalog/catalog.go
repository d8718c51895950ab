package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// MaxFileSize is the largest catalogue file Load reads, in bytes. It stops a
// wrong path, such as a log file, from filling memory. A catalogue entry is
// usually well under 2 KiB, so the bound is far above any real catalogue.
const MaxFileSize = 64 << 20

// Catalog is an immutable, validated catalogue with lookup tables built at
// load time. The lookups made per request (ConsumerByKey, ConsumerByCert,
// Resource, Grant and Credit) are map accesses that do not allocate. Callers
// must not modify the entries it returns. A nil *Catalog finds nothing.
type Catalog struct {
	file    File
	version string

	consumerByID   map[string]*Consumer
	consumerByKey  map[[sha256.Size]byte]*Consumer
	consumerByCert map[[sha256.Size]byte]*Consumer

	providerByID  map[string]*Provider
	providerByKey map[[sha256.Size]byte]*Provider

	resources    []*Resource
	resourceByID map[string]*Resource
	// resourceByPrefix maps each path prefix, without its trailing slash, to
	// its resource. maxPrefixLen is the length of the longest such key.
	resourceByPrefix map[string]*Resource
	maxPrefixLen     int

	grants map[grantKey][]*Grant
	credit map[string]CreditState
}

// grantKey identifies the grants of one consumer for one resource.
type grantKey struct {
	consumer string
	resource string
}

// Load reads, parses and validates the catalogue file at path. On any error
// it returns no catalogue, so the caller keeps the one in force.
func Load(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading catalogue: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("loading catalogue %q: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("loading catalogue %q: file is larger than %d bytes: "+
			"split the catalogue or remove unused entries", path, MaxFileSize)
	}
	return Parse(data, path)
}

// Parse decodes a JSON catalogue, validates every entry and builds the lookup
// tables. source names the catalogue in errors, such as its file path. An
// unknown JSON field is an error. A validation failure returns an error
// wrapping Errors, which lists every invalid entry at once. On any error
// Parse returns no catalogue.
func Parse(data []byte, source string) (*Catalog, error) {
	file, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("parsing catalogue %q: %w", source, err)
	}
	if err := file.Validate(); err != nil {
		return nil, fmt.Errorf("validating catalogue %q: %w", source, err)
	}
	return build(file)
}

// decode reads exactly one JSON object into a File, rejecting unknown fields.
func decode(data []byte) (File, error) {
	var file File
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return file, errors.New("the catalogue must be a JSON object " +
			"with consumers, resources, grants and credit_lists")
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return file, describeJSONError(err, data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return file, fmt.Errorf("unexpected data after the catalogue object at line %d: "+
			"the file must hold one JSON object", lineOf(data, dec.InputOffset()))
	}
	return file, nil
}

// describeJSONError adds the line number, where encoding/json reports it,
// and the fix to a decoding error.
func describeJSONError(err error, data []byte) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON at line %d: %w", lineOf(data, syntaxErr.Offset), err)
	case errors.As(err, &typeErr):
		return fmt.Errorf("field %q at line %d: got JSON %s, want %s",
			typeErr.Field, lineOf(data, typeErr.Offset), typeErr.Value, jsonKind(typeErr.Type))
	case errors.As(err, &timeErr):
		return fmt.Errorf("invalid time %q: write an RFC 3339 time such as %q",
			timeErr.Value, "2025-01-01T00:00:00+08:00")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("truncated JSON: %w", err)
	}
	// time.Time reports a value that is not a JSON string only by this prefix.
	if strings.HasPrefix(err.Error(), "Time.UnmarshalJSON") {
		return fmt.Errorf("invalid time: %w: write an RFC 3339 time string such as %q",
			err, "2025-01-01T00:00:00+08:00")
	}
	// encoding/json reports an unknown field only by this message, without
	// its position.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown field %s%s: remove it or correct its spelling",
			name, keyLine(data, name))
	}
	return fmt.Errorf("decoding JSON: %w", err)
}

// jsonKind names the JSON value that decodes into a value of type t.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// keyLine returns " at line N" when the quoted key occurs exactly once as an
// object key in data, and "" otherwise, since the decoder does not say which
// occurrence it rejected.
func keyLine(data []byte, quotedKey string) string {
	key := []byte(quotedKey)
	line := 0
	for start := 0; start < len(data); {
		i := bytes.Index(data[start:], key)
		if i < 0 {
			break
		}
		at := start + i
		start = at + len(key)

		after := bytes.TrimLeft(data[start:], " \t\r\n")
		if len(after) == 0 || after[0] != ':' {
			continue
		}
		if line != 0 {
			return ""
		}
		line = lineOf(data, int64(at))
	}
	if line == 0 {
		return ""
	}
	return fmt.Sprintf(" at line %d", line)
}

// lineOf returns the 1-based line number of the byte at offset in data.
func lineOf(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// build indexes a validated File.
func build(file File) (*Catalog, error) {
	canonical, err := json.Marshal(file)
	if err != nil {
		return nil, fmt.Errorf("computing catalogue version: %w", err)
	}
	sum := sha256.Sum256(canonical)

	c := &Catalog{
		file:    file,
		version: hex.EncodeToString(sum[:8]),
	}
	c.indexConsumers()
	c.indexProviders()
	c.indexResources()
	c.indexGrants()
	c.indexCredit()
	return c, nil
}

func (c *Catalog) indexConsumers() {
	c.consumerByID = make(map[string]*Consumer, len(c.file.Consumers))
	c.consumerByKey = make(map[[sha256.Size]byte]*Consumer)
	c.consumerByCert = make(map[[sha256.Size]byte]*Consumer)
	for i := range c.file.Consumers {
		consumer := &c.file.Consumers[i]
		c.consumerByID[consumer.ID] = consumer
		if sum, ok := parseSHA256(consumer.APIKeySHA256); ok {
			c.consumerByKey[sum] = consumer
		}
		if sum, ok := parseSHA256(consumer.CertSHA256); ok {
			c.consumerByCert[sum] = consumer
		}
	}
}

func (c *Catalog) indexResources() {
	n := len(c.file.Resources)
	c.resources = make([]*Resource, n)
	c.resourceByID = make(map[string]*Resource, n)
	c.resourceByPrefix = make(map[string]*Resource, n)
	for i := range c.file.Resources {
		resource := &c.file.Resources[i]
		c.resources[i] = resource
		c.resourceByID[resource.ID] = resource

		key := strings.TrimSuffix(resource.PathPrefix, "/")
		c.resourceByPrefix[key] = resource
		c.maxPrefixLen = max(c.maxPrefixLen, len(key))
	}
}

func (c *Catalog) indexGrants() {
	c.grants = make(map[grantKey][]*Grant)
	for i := range c.file.Grants {
		grant := &c.file.Grants[i]
		key := grantKey{consumer: grant.Consumer, resource: grant.Resource}
		c.grants[key] = append(c.grants[key], grant)
	}
}

func (c *Catalog) indexCredit() {
	c.credit = make(map[string]CreditState)
	lists := &c.file.CreditLists
	for _, code := range lists.DishonestDebtor {
		state := c.credit[code]
		state.DishonestDebtor = true
		c.credit[code] = state
	}
	for _, code := range lists.AbnormalOperation {
		state := c.credit[code]
		state.AbnormalOperation = true
		c.credit[code] = state
	}
	for _, code := range lists.SeriousDishonest {
		state := c.credit[code]
		state.SeriousDishonest = true
		c.credit[code] = state
	}
}

// parseSHA256 decodes 64 hex digits. It reports false for anything else,
// including the empty string of a consumer without that credential.
func parseSHA256(s string) ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	if len(s) != hex.EncodedLen(sha256.Size) {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, false
	}
	return sum, true
}

// Version returns a short hex digest of the catalogue's content, which
// changes whenever an entry changes. Formatting and key order in the file do
// not change it.
func (c *Catalog) Version() string {
	if c == nil {
		return ""
	}
	return c.version
}

// ConsumerByKey returns the consumer whose API key is apiKey, or nil.
func (c *Catalog) ConsumerByKey(apiKey string) *Consumer {
	if c == nil || apiKey == "" {
		return nil
	}
	// Sum256 only reads its argument, so the key's bytes are viewed in place
	// instead of copied. The map is keyed by the digest, so lookup timing
	// reveals nothing about the key.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(apiKey), len(apiKey)))
	return c.consumerByKey[sum]
}

// ConsumerByCert returns the consumer whose mTLS client certificate, in DER
// form, is der, or nil.
func (c *Catalog) ConsumerByCert(der []byte) *Consumer {
	if c == nil || len(der) == 0 {
		return nil
	}
	return c.consumerByCert[sha256.Sum256(der)]
}

// ConsumerByID returns the consumer with the given id, or nil.
func (c *Catalog) ConsumerByID(id string) *Consumer {
	if c == nil {
		return nil
	}
	return c.consumerByID[id]
}

// ResourceByID returns the resource with the given id, or nil.
func (c *Catalog) ResourceByID(id string) *Resource {
	if c == nil {
		return nil
	}
	return c.resourceByID[id]
}

// Resources returns every resource in catalogue file order. The slice is a
// copy, but the resources are shared and must not be modified.
func (c *Catalog) Resources() []*Resource {
	if c == nil {
		return nil
	}
	return append([]*Resource(nil), c.resources...)
}

// Consumers returns every consumer in catalogue file order. The entries
// are shared and must not be modified.
func (c *Catalog) Consumers() []*Consumer {
	if c == nil {
		return nil
	}
	out := make([]*Consumer, len(c.file.Consumers))
	for i := range c.file.Consumers {
		out[i] = &c.file.Consumers[i]
	}
	return out
}

// Grants returns every grant in catalogue file order. The entries are
// shared and must not be modified.
func (c *Catalog) Grants() []*Grant {
	if c == nil {
		return nil
	}
	out := make([]*Grant, len(c.file.Grants))
	for i := range c.file.Grants {
		out[i] = &c.file.Grants[i]
	}
	return out
}

// Resource returns the resource whose path prefix is the longest prefix of
// cleanPath, or nil. A path equal to a prefix without its trailing slash
// also matches, so "/api/x" finds the resource of "/api/x/". cleanPath must
// be the output of urlpath.Clean: the lookup compares bytes and resolves
// nothing.
func (c *Catalog) Resource(cleanPath string) *Resource {
	if c == nil {
		return nil
	}
	// Each candidate is cleanPath cut before one of its "/" boundaries,
	// tried from the longest. Substrings share cleanPath's bytes, so the
	// walk does not allocate.
	candidate := strings.TrimSuffix(cleanPath, "/")
	for len(candidate) > 0 {
		if len(candidate) <= c.maxPrefixLen {
			if resource := c.resourceByPrefix[candidate]; resource != nil {
				return resource
			}
		}
		i := strings.LastIndexByte(candidate, '/')
		if i < 0 {
			break
		}
		candidate = candidate[:i]
	}
	return nil
}

// Grant returns the grant that decides whether the consumer may read the
// resource for scenario at now, or nil when the consumer has no grant for
// the resource. Among several grants, in file order, it prefers:
//
//  1. a grant for scenario that is valid at now (see Grant.ValidAt),
//  2. a grant for scenario,
//  3. a grant for another scenario that is valid at now,
//  4. the first grant of the pair.
//
// Returning a grant that does not allow the request lets the policy name
// the reason for a refusal, such as a wrong scenario or an expired grant.
func (c *Catalog) Grant(consumerID, resourceID, scenario string, now time.Time) *Grant {
	if c == nil {
		return nil
	}
	grants := c.grants[grantKey{consumer: consumerID, resource: resourceID}]
	if len(grants) == 0 {
		return nil
	}

	var forScenario, validNow *Grant
	for _, grant := range grants {
		valid := grant.ValidAt(now)
		if grant.Scenario == scenario {
			if valid {
				return grant
			}
			if forScenario == nil {
				forScenario = grant
			}
		}
		if valid && validNow == nil {
			validNow = grant
		}
	}
	switch {
	case forScenario != nil:
		return forScenario
	case validNow != nil:
		return validNow
	default:
		return grants[0]
	}
}

// ValidAt reports whether t is within the grant's validity, from ValidFrom
// up to, but not including, ValidUntil.
func (g *Grant) ValidAt(t time.Time) bool {
	return !t.Before(g.ValidFrom) && t.Before(g.ValidUntil)
}

// Credit returns the standing of the unified social credit code on each
// credit list. A code on no list, or the empty code of a natural person, has
// the zero CreditState.
func (c *Catalog) Credit(creditCode string) CreditState {
	if c == nil {
		return CreditState{}
	}
	return c.credit[creditCode]
}
