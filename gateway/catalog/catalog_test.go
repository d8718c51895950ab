package catalog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/urlpath"
)

// API keys whose SHA-256 digests are in testdata/catalog.json.
const (
	govKey     = "gov-key-0123456789abcdef"
	companyKey = "company-key-0123456789abc"
	// hospitalCert is used as the DER bytes of a client certificate.
	hospitalCert = "cert-der-hospital"
)

func loadTestCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := Load("testdata/catalog.json")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoadTestCatalogue(t *testing.T) {
	c := loadTestCatalog(t)
	if got := len(c.Resources()); got != 5 {
		t.Errorf("len(Resources()) = %d, want 5", got)
	}
	if got := len(c.Version()); got != 16 {
		t.Errorf("len(Version()) = %d, want 16", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "absent.json"))
	if err == nil {
		t.Fatal("Load returned no error for a missing file")
	}
	if c != nil {
		t.Error("Load returned a catalogue with its error")
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v does not wrap os.ErrNotExist", err)
	}
}

func TestLoadInvalidCatalogueReturnsNil(t *testing.T) {
	data, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`"share": "not_shared"`), []byte(`"share": "never"`), 1)
	path := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := Load(path)
	if err == nil {
		t.Fatal("Load returned no error")
	}
	if c != nil {
		t.Error("Load returned a catalogue with its error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v does not wrap Errors", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestParseRejectsBadJSON(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "must be a JSON object"},
		{"null", "null", "must be a JSON object"},
		{"array", "[]", "must be a JSON object"},
		{"unknown top-level field", `{"consumer": []}`, `unknown field "consumer"`},
		{
			"unknown nested field",
			`{"resources": [{"id": "a", "path_prefx": "/api/a/"}]}`,
			`unknown field "path_prefx"`,
		},
		{
			"unknown field in conditions",
			`{"resources": [{"id": "a", "conditions": {"orgz": []}}]}`,
			`unknown field "orgz"`,
		},
		{"syntax error line", "{\n\"consumers\": [,]\n}", "invalid JSON at line 2"},
		{"truncated", `{"consumers": [`, "truncated JSON"},
		{"wrong type", "{\n\n\"resources\": {}}", `field "resources" at line 3: got JSON object, want an array`},
		{"wrong nested type", `{"grants": [{"quota": {"per_day": "10"}}]}`, `"grants.quota.per_day"`},
		{"fraction for integer", `{"grants": [{"quota": {"per_day": 1.5}}]}`, "want an integer"},
		{"number for boolean", `{"consumers": [{"platform": 1}]}`, "want true or false"},
		{"bad time", `{"grants": [{"valid_from": "yesterday"}]}`, `invalid time "yesterday"`},
		{"number for time", `{"grants": [{"valid_from": 5}]}`, "RFC 3339"},
		{"trailing object", `{} {}`, "unexpected data after the catalogue object"},
		{"trailing garbage", `{} x`, "unexpected data after the catalogue object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.data), "test.json")
			if err == nil {
				t.Fatal("Parse returned no error")
			}
			if c != nil {
				t.Error("Parse returned a catalogue with its error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `parsing catalogue "test.json": `) {
				t.Errorf("error %q does not name the source", err)
			}
		})
	}
}

func TestParseUnknownFieldNamesLine(t *testing.T) {
	data := "{\n  \"consumers\": [],\n  \"resources\": [\n    {\"id\": \"a\", \"colour\": 1}\n  ]\n}"
	_, err := Parse([]byte(data), "test.json")
	if err == nil {
		t.Fatal("Parse returned no error")
	}
	if !strings.Contains(err.Error(), `unknown field "colour" at line 4`) {
		t.Errorf("error %q does not name the field and line 4", err)
	}
}

func TestParseUnknownFieldTwiceOmitsLine(t *testing.T) {
	data := "{\n\"resources\": [{\"colour\": 1},\n{\"colour\": 2}]\n}"
	_, err := Parse([]byte(data), "test.json")
	if err == nil {
		t.Fatal("Parse returned no error")
	}
	if !strings.Contains(err.Error(), `unknown field "colour": remove it`) {
		t.Errorf("error %q does not name the field without a line", err)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	data := `{
		"consumers": [{"id": "A", "kind": "natural_person", "api_key_sha256": "` + goodKeyHash + `"}],
		"resources": [{"id": "r", "provider": "p", "path_prefix": "/api/r",
			"upstream": "http://127.0.0.1:1", "share": "unconditional", "open": "open"}],
		"grants": [{"id": "g", "kind": "open", "consumer": "A", "resource": "missing",
			"scenario": "s", "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z"}]
	}`
	c, err := Parse([]byte(data), "test.json")
	if c != nil {
		t.Error("Parse returned a catalogue with its error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v does not wrap Errors", err)
	}
	want := []string{
		`consumers[0] (id "A"): id: invalid id "A"`,
		`resources[0] (id "r"): path_prefix: "/api/r" must end with "/"`,
		`grants[0] (id "g"): resource: unknown resource "missing"`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("errs[%d] = %q, want it to start with %q", i, errs[i], w)
		}
	}
	if !strings.HasPrefix(err.Error(), `validating catalogue "test.json": 3 problems:`) {
		t.Errorf("error %q does not start with the source and count", err)
	}
}

func TestConsumerByKey(t *testing.T) {
	c := loadTestCatalog(t)
	tests := []struct {
		name   string
		key    string
		wantID string
	}{
		{"government department", govKey, "xm-civil-affairs"},
		{"legal person", companyKey, "egret-analytics"},
		{"unknown key", "gov-key-0123456789abcdee", ""},
		{"empty key", "", ""},
		{"digest instead of key", goodKeyHash, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.ConsumerByKey(tt.key)
			if tt.wantID == "" {
				if got != nil {
					t.Errorf("ConsumerByKey = %q, want nil", got.ID)
				}
				return
			}
			if got == nil {
				t.Fatalf("ConsumerByKey = nil, want %q", tt.wantID)
			}
			if got.ID != tt.wantID {
				t.Errorf("ConsumerByKey = %q, want %q", got.ID, tt.wantID)
			}
		})
	}
}

func TestConsumerByCert(t *testing.T) {
	c := loadTestCatalog(t)
	if got := c.ConsumerByCert([]byte(hospitalCert)); got == nil || got.ID != "xm-first-hospital" {
		t.Errorf("ConsumerByCert(hospital) = %v, want xm-first-hospital", got)
	}
	if got := c.ConsumerByCert([]byte("other certificate")); got != nil {
		t.Errorf("ConsumerByCert(other) = %q, want nil", got.ID)
	}
	if got := c.ConsumerByCert(nil); got != nil {
		t.Errorf("ConsumerByCert(nil) = %q, want nil", got.ID)
	}
}

func TestConsumerAndResourceByID(t *testing.T) {
	c := loadTestCatalog(t)
	if got := c.ConsumerByID("citizen-0001"); got == nil || got.Kind != KindNaturalPerson {
		t.Errorf("ConsumerByID(citizen-0001) = %v, want the natural person", got)
	}
	if got := c.ConsumerByID("nobody"); got != nil {
		t.Errorf("ConsumerByID(nobody) = %q, want nil", got.ID)
	}
	if got := c.ResourceByID("market.enterprises"); got == nil || got.Open != OpenOnApplication {
		t.Errorf("ResourceByID(market.enterprises) = %v, want the on-application resource", got)
	}
	if got := c.ResourceByID("nothing"); got != nil {
		t.Errorf("ResourceByID(nothing) = %q, want nil", got.ID)
	}
}

func TestResource(t *testing.T) {
	c := loadTestCatalog(t)
	tests := []struct {
		name   string
		path   string
		wantID string
	}{
		{"prefix itself", "/api/population/persons/", "population.persons"},
		{"subject under prefix", "/api/population/persons/350203199001011234", "population.persons"},
		{"deep path", "/api/population/persons/350203199001011234/household/", "population.persons"},
		{"prefix without trailing slash", "/api/transport/bus-stops", "transport.bus-stops"},
		{"sibling with shared bytes", "/api/population/persons-history/x", "population.persons.history"},
		{"sibling without trailing slash", "/api/population/persons-history", "population.persons.history"},
		{"longer last segment", "/api/transport/bus-stopsx", ""},
		{"parent of prefix", "/api/transport", ""},
		{"parent of prefix with slash", "/api/transport/", ""},
		{"api root", "/api/", ""},
		{"root", "/", ""},
		{"empty", "", ""},
		{"uppercase", "/API/transport/bus-stops/", ""},
		{"unknown", "/api/weather/today", ""},
		{"no leading slash", "api/transport/bus-stops/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Resource(tt.path)
			if tt.wantID == "" {
				if got != nil {
					t.Errorf("Resource(%q) = %q, want nil", tt.path, got.ID)
				}
				return
			}
			if got == nil {
				t.Fatalf("Resource(%q) = nil, want %q", tt.path, tt.wantID)
			}
			if got.ID != tt.wantID {
				t.Errorf("Resource(%q) = %q, want %q", tt.path, got.ID, tt.wantID)
			}
		})
	}
}

func TestResourceLongestPrefix(t *testing.T) {
	// Validate rejects nested prefixes, so build the catalogue directly to
	// check that the lookup walks from the longest candidate.
	file := File{Resources: []Resource{
		{ID: "outer", PathPrefix: "/api/a/"},
		{ID: "inner", PathPrefix: "/api/a/b/"},
	}}
	c, err := build(file)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, wantID string }{
		{"/api/a/b/c", "inner"},
		{"/api/a/b", "inner"},
		{"/api/a/bc", "outer"},
		{"/api/a/", "outer"},
	}
	for _, tt := range tests {
		got := c.Resource(tt.path)
		if got == nil || got.ID != tt.wantID {
			t.Errorf("Resource(%q) = %v, want %q", tt.path, got, tt.wantID)
		}
	}
}

func TestResourcePrefixesAreClean(t *testing.T) {
	c := loadTestCatalog(t)
	for _, resource := range c.Resources() {
		got, err := urlpath.Clean(resource.PathPrefix)
		if err != nil {
			t.Errorf("urlpath.Clean(%q): %v", resource.PathPrefix, err)
			continue
		}
		if got != resource.PathPrefix {
			t.Errorf("urlpath.Clean(%q) = %q, want it unchanged", resource.PathPrefix, got)
		}
	}
}

func TestResourcesOrderAndCopy(t *testing.T) {
	c := loadTestCatalog(t)
	resources := c.Resources()
	want := []string{
		"population.persons", "population.persons.history", "market.enterprises",
		"transport.bus-stops", "health.epidemic-contacts",
	}
	if len(resources) != len(want) {
		t.Fatalf("len(Resources()) = %d, want %d", len(resources), len(want))
	}
	for i, id := range want {
		if resources[i].ID != id {
			t.Errorf("Resources()[%d] = %q, want %q", i, resources[i].ID, id)
		}
	}

	resources[0] = nil
	if c.Resources()[0] == nil {
		t.Error("changing the returned slice changed the catalogue")
	}
}

func TestGrant(t *testing.T) {
	c := loadTestCatalog(t)
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const (
		civil   = "xm-civil-affairs"
		persons = "population.persons"
	)
	tests := []struct {
		name     string
		consumer string
		resource string
		scenario string
		now      time.Time
		wantID   string
	}{
		{
			"scenario valid now", civil, persons, "social-assistance",
			at("2025-06-01T00:00:00+08:00"), "grant-civil-persons-assistance",
		},
		{
			"earlier grant valid then", civil, persons, "social-assistance",
			at("2024-06-01T00:00:00+08:00"), "grant-civil-persons-assistance-2024",
		},
		{
			"valid from is inclusive", civil, persons, "social-assistance",
			at("2025-01-01T00:00:00+08:00"), "grant-civil-persons-assistance",
		},
		{
			"scenario but expired", civil, persons, "social-assistance",
			at("2027-01-01T00:00:00+08:00"), "grant-civil-persons-assistance",
		},
		{
			"other scenario expired", civil, persons, "medical-insurance",
			at("2025-06-01T00:00:00+08:00"), "grant-civil-persons-insurance",
		},
		{
			"wrong scenario valid grant", civil, persons, "tax-audit",
			at("2025-06-01T00:00:00+08:00"), "grant-civil-persons-assistance",
		},
		{
			"wrong scenario none valid", civil, persons, "tax-audit",
			at("2030-01-01T00:00:00+08:00"), "grant-civil-persons-assistance",
		},
		{
			"open grant", "egret-analytics", "market.enterprises", "credit-reporting",
			at("2025-06-01T00:00:00+08:00"), "grant-egret-enterprises",
		},
		{
			"no grant for resource", civil, "market.enterprises", "social-assistance",
			at("2025-06-01T00:00:00+08:00"), "",
		},
		{
			"no grant for consumer", "citizen-0001", persons, "social-assistance",
			at("2025-06-01T00:00:00+08:00"), "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Grant(tt.consumer, tt.resource, tt.scenario, tt.now)
			if tt.wantID == "" {
				if got != nil {
					t.Errorf("Grant = %q, want nil", got.ID)
				}
				return
			}
			if got == nil {
				t.Fatalf("Grant = nil, want %q", tt.wantID)
			}
			if got.ID != tt.wantID {
				t.Errorf("Grant = %q, want %q", got.ID, tt.wantID)
			}
		})
	}
}

func TestGrantValidAt(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	until := from.Add(24 * time.Hour)
	grant := Grant{ValidFrom: from, ValidUntil: until}
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"before start", from.Add(-time.Nanosecond), false},
		{"at start", from, true},
		{"inside", from.Add(time.Hour), true},
		{"just before end", until.Add(-time.Nanosecond), true},
		{"at end", until, false},
		{"after end", until.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grant.ValidAt(tt.at); got != tt.want {
				t.Errorf("ValidAt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCredit(t *testing.T) {
	c := loadTestCatalog(t)
	tests := []struct {
		name string
		code string
		want CreditState
	}{
		{"two lists", "91350200MA0000007F", CreditState{DishonestDebtor: true, AbnormalOperation: true}},
		{"one list", "91350200MA0000008J", CreditState{AbnormalOperation: true}},
		{"no list", "91350200MA00000046", CreditState{}},
		{"empty code", "", CreditState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Credit(tt.code); got != tt.want {
				t.Errorf("Credit(%q) = %+v, want %+v", tt.code, got, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	data, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	base, err := Parse(data, "base")
	if err != nil {
		t.Fatal(err)
	}

	reformatted := bytes.ReplaceAll(data, []byte("\n  "), []byte("\n\t"))
	same, err := Parse(reformatted, "reformatted")
	if err != nil {
		t.Fatal(err)
	}
	if same.Version() != base.Version() {
		t.Errorf("reformatted Version = %q, want %q", same.Version(), base.Version())
	}

	changedData := bytes.Replace(data, []byte(`"per_day": 10000`), []byte(`"per_day": 10001`), 1)
	changed, err := Parse(changedData, "changed")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Version() == base.Version() {
		t.Errorf("changed catalogue kept Version %q", base.Version())
	}
}

func TestNilCatalogFindsNothing(t *testing.T) {
	var c *Catalog
	if c.ConsumerByKey(govKey) != nil {
		t.Error("ConsumerByKey on nil catalogue returned a consumer")
	}
	if c.ConsumerByCert([]byte(hospitalCert)) != nil {
		t.Error("ConsumerByCert on nil catalogue returned a consumer")
	}
	if c.ConsumerByID("xm-civil-affairs") != nil {
		t.Error("ConsumerByID on nil catalogue returned a consumer")
	}
	if c.Resource("/api/transport/bus-stops/") != nil {
		t.Error("Resource on nil catalogue returned a resource")
	}
	if c.ResourceByID("transport.bus-stops") != nil {
		t.Error("ResourceByID on nil catalogue returned a resource")
	}
	if c.Grant("a", "b", "c", time.Now()) != nil {
		t.Error("Grant on nil catalogue returned a grant")
	}
	if c.Credit("91350200MA0000007F") != (CreditState{}) {
		t.Error("Credit on nil catalogue returned a standing")
	}
	if c.Resources() != nil {
		t.Error("Resources on nil catalogue returned resources")
	}
	if c.Version() != "" {
		t.Error("Version on nil catalogue is not empty")
	}
}

func TestLookupsDoNotAllocate(t *testing.T) {
	c := loadTestCatalog(t)
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	longKey := strings.Repeat("k", 200)
	cert := []byte(hospitalCert)
	lookups := []struct {
		name string
		run  func()
	}{
		{"ConsumerByKey", func() { c.ConsumerByKey(govKey) }},
		{"ConsumerByKey long key", func() { c.ConsumerByKey(longKey) }},
		{"ConsumerByCert", func() { c.ConsumerByCert(cert) }},
		{"Resource", func() { c.Resource("/api/population/persons/350203199001011234") }},
		{"Resource no match", func() { c.Resource("/api/a/b/c/d/e/f/g") }},
		{"Grant", func() {
			c.Grant("xm-civil-affairs", "population.persons", "tax-audit", now)
		}},
		{"Credit", func() { c.Credit("91350200MA0000007F") }},
	}
	for _, l := range lookups {
		t.Run(l.name, func(t *testing.T) {
			if allocs := testing.AllocsPerRun(100, l.run); allocs != 0 {
				t.Errorf("%s allocates %.0f times per call, want 0", l.name, allocs)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"resources": [{"path_prefix": "/api/a/"}, {"path_prefix": "/api/a/b/"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz")
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a catalogue with its error")
			}
			return
		}
		for _, resource := range c.Resources() {
			if c.Resource(resource.PathPrefix) != resource {
				t.Fatalf("Resource(%q) does not find its own resource", resource.PathPrefix)
			}
		}
	})
}

func BenchmarkResource(b *testing.B) {
	c := loadTestCatalog(b)
	b.ReportAllocs()
	for b.Loop() {
		c.Resource("/api/population/persons/350203199001011234")
	}
}

func BenchmarkConsumerByKey(b *testing.B) {
	c := loadTestCatalog(b)
	b.ReportAllocs()
	for b.Loop() {
		c.ConsumerByKey(govKey)
	}
}

func BenchmarkGrant(b *testing.B) {
	c := loadTestCatalog(b)
	b.ReportAllocs()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		c.Grant("xm-civil-affairs", "population.persons", "social-assistance", now)
	}
}
