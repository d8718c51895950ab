package catalog

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// testFile returns a fresh copy of the valid test catalogue. Consumers are
// 0 government department, 1 public service organisation, 2 legal person,
// 3 natural person. Resources are 0 conditional with a path subject, 1 not
// shared, 2 on application with a query subject, 3 open, 4 emergency.
func testFile(t testing.TB) File {
	t.Helper()
	data, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatalf("reading test catalogue: %v", err)
	}
	file, err := decode(data)
	if err != nil {
		t.Fatalf("decoding test catalogue: %v", err)
	}
	return file
}

// validationErrors validates file and returns its problems, failing the test
// when the error is not an Errors value.
func validationErrors(t *testing.T, file *File) Errors {
	t.Helper()
	err := file.Validate()
	if err == nil {
		t.Fatal("Validate returned nil, want errors")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Validate error %v (%T) is not Errors", err, err)
	}
	return errs
}

func TestValidateAcceptsTestCatalogue(t *testing.T) {
	file := testFile(t)
	if err := file.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestValidateAcceptsEmptyCatalogue(t *testing.T) {
	var file File
	if err := file.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

// goodKeyHash is the API key digest of consumers[0] in the test catalogue.
const goodKeyHash = "13d772e2fcb2606995cef3d69514a3a894afcf163da9cd4a3f72c5bfacaf31be"

// validationCase changes one thing in the test catalogue and names the
// entry, field and problem that Validate must report.
type validationCase struct {
	name    string
	change  func(f *File)
	entry   string
	id      string
	field   string
	problem string
}

func runValidationCases(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := testFile(t)
			tc.change(&file)
			errs := validationErrors(t, &file)

			if len(errs) != 1 {
				t.Errorf("got %d problems, want 1:\n%v", len(errs), errs)
			}
			got := errs[0]
			if got.Entry != tc.entry {
				t.Errorf("Entry = %q, want %q", got.Entry, tc.entry)
			}
			if got.ID != tc.id {
				t.Errorf("ID = %q, want %q", got.ID, tc.id)
			}
			if got.Field != tc.field {
				t.Errorf("Field = %q, want %q", got.Field, tc.field)
			}
			if !strings.Contains(got.Problem, tc.problem) {
				t.Errorf("Problem = %q, want it to contain %q", got.Problem, tc.problem)
			}
			msg := got.Error()
			if !strings.HasPrefix(msg, tc.entry) {
				t.Errorf("message %q does not start with the entry %q", msg, tc.entry)
			}
			if !strings.Contains(msg, ": "+tc.field+": ") {
				t.Errorf("message %q does not name the field %q", msg, tc.field)
			}
		})
	}
}

func TestValidateConsumers(t *testing.T) {
	const gov = "xm-civil-affairs"
	runValidationCases(t, []validationCase{
		{
			name:    "missing id",
			change:  func(f *File) { f.Consumers[1].ID = "" },
			entry:   "consumers[1]",
			field:   "id",
			problem: "missing",
		},
		{
			name:    "uppercase id",
			change:  func(f *File) { f.Consumers[3].ID = "Citizen-1" },
			entry:   "consumers[3]",
			id:      "Citizen-1",
			field:   "id",
			problem: `invalid id "Citizen-1"`,
		},
		{
			name:    "id with space",
			change:  func(f *File) { f.Consumers[3].ID = "citizen 1" },
			entry:   "consumers[3]",
			id:      "citizen 1",
			field:   "id",
			problem: "lowercase letters, digits",
		},
		{
			name:    "duplicate id",
			change:  func(f *File) { f.Consumers[1].ID = gov },
			entry:   "consumers[1]",
			id:      gov,
			field:   "id",
			problem: "also used by consumers[0]",
		},
		{
			name:    "unknown kind",
			change:  func(f *File) { f.Consumers[0].Kind = "ministry" },
			entry:   "consumers[0]",
			id:      gov,
			field:   "kind",
			problem: `invalid kind "ministry"`,
		},
		{
			name:    "organisation without credit code",
			change:  func(f *File) { f.Consumers[2].CreditCode = "" },
			entry:   "consumers[2]",
			id:      "egret-analytics",
			field:   "credit_code",
			problem: "missing",
		},
		{
			name:    "credit code with wrong check character",
			change:  func(f *File) { f.Consumers[2].CreditCode = "91350200MA00000047" },
			entry:   "consumers[2]",
			id:      "egret-analytics",
			field:   "credit_code",
			problem: "check character",
		},
		{
			name:    "credit code too short",
			change:  func(f *File) { f.Consumers[0].CreditCode = "11350200MB000000" },
			entry:   "consumers[0]",
			id:      gov,
			field:   "credit_code",
			problem: "18 characters",
		},
		{
			name:    "natural person with credit code",
			change:  func(f *File) { f.Consumers[3].CreditCode = "91350200MA00000046" },
			entry:   "consumers[3]",
			id:      "citizen-0001",
			field:   "credit_code",
			problem: "natural person",
		},
		{
			name:    "uppercase api key digest",
			change:  func(f *File) { f.Consumers[0].APIKeySHA256 = strings.ToUpper(goodKeyHash) },
			entry:   "consumers[0]",
			id:      gov,
			field:   "api_key_sha256",
			problem: "64 lowercase hex digits",
		},
		{
			name:    "short api key digest",
			change:  func(f *File) { f.Consumers[0].APIKeySHA256 = goodKeyHash[:40] },
			entry:   "consumers[0]",
			id:      gov,
			field:   "api_key_sha256",
			problem: "40 characters",
		},
		{
			name:    "duplicate api key digest",
			change:  func(f *File) { f.Consumers[1].APIKeySHA256 = goodKeyHash },
			entry:   "consumers[1]",
			id:      "xm-first-hospital",
			field:   "api_key_sha256",
			problem: "used by consumers[0]",
		},
		{
			name:    "invalid cert digest",
			change:  func(f *File) { f.Consumers[1].CertSHA256 = "d0029242b368" },
			entry:   "consumers[1]",
			id:      "xm-first-hospital",
			field:   "cert_sha256",
			problem: "64 lowercase hex digits",
		},
		{
			name:    "duplicate cert digest",
			change:  func(f *File) { f.Consumers[0].CertSHA256 = f.Consumers[1].CertSHA256 },
			entry:   "consumers[1]",
			id:      "xm-first-hospital",
			field:   "cert_sha256",
			problem: "used by consumers[0]",
		},
		{
			name:    "no credential",
			change:  func(f *File) { f.Consumers[3].APIKeySHA256 = "" },
			entry:   "consumers[3]",
			id:      "citizen-0001",
			field:   "api_key_sha256",
			problem: "missing credential",
		},
	})
}

func TestValidateDigestErrorOmitsValue(t *testing.T) {
	const rawKey = "gov-key-0123456789abcdef"
	file := testFile(t)
	file.Consumers[0].APIKeySHA256 = rawKey
	errs := validationErrors(t, &file)
	if strings.Contains(errs.Error(), rawKey) {
		t.Errorf("error %q quotes the pasted API key", errs)
	}
}

func TestValidateCreditCodeOmitsIDNumber(t *testing.T) {
	const idNumber = "11010519491231002X"
	file := testFile(t)
	file.Consumers[2].CreditCode = idNumber
	file.CreditLists.DishonestDebtor = []string{idNumber}
	errs := validationErrors(t, &file)

	if len(errs) != 2 {
		t.Fatalf("got %d problems, want 2:\n%v", len(errs), errs)
	}
	for _, e := range errs {
		if strings.Contains(e.Error(), idNumber) {
			t.Errorf("error %q quotes the identity number", e)
		}
		if !strings.Contains(e.Problem, "resident identity number") {
			t.Errorf("Problem = %q, want it to say the value is an identity number", e.Problem)
		}
	}
}

func TestValidateIDNumberAsID(t *testing.T) {
	ids := []string{"11010519491231002X", "11010519491231002x"}
	for _, id := range ids {
		file := testFile(t)
		file.Consumers[3].ID = id
		errs := validationErrors(t, &file)

		if len(errs) != 1 {
			t.Fatalf("id %q: got %d problems, want 1:\n%v", id, len(errs), errs)
		}
		if errs[0].Field != "id" {
			t.Errorf("id %q: Field = %q, want %q", id, errs[0].Field, "id")
		}
		if strings.Contains(strings.ToUpper(errs.Error()), strings.ToUpper(id)) {
			t.Errorf("error %q quotes the identity number", errs)
		}
	}
}

func TestValidateResources(t *testing.T) {
	const persons = "population.persons"
	runValidationCases(t, []validationCase{
		{
			name:    "missing id",
			change:  func(f *File) { f.Resources[3].ID = "" },
			entry:   "resources[3]",
			field:   "id",
			problem: "missing",
		},
		{
			name:    "uppercase id",
			change:  func(f *File) { f.Resources[3].ID = "Transport" },
			entry:   "resources[3]",
			id:      "Transport",
			field:   "id",
			problem: "invalid id",
		},
		{
			name:    "duplicate id",
			change:  func(f *File) { f.Resources[3].ID = persons },
			entry:   "resources[3]",
			id:      persons,
			field:   "id",
			problem: "also used by resources[0]",
		},
		{
			name:    "missing provider",
			change:  func(f *File) { f.Resources[0].Provider = "" },
			entry:   "resources[0]",
			id:      persons,
			field:   "provider",
			problem: "missing",
		},
		{
			name:    "unknown share attribute",
			change:  func(f *File) { f.Resources[3].Share = "sometimes" },
			entry:   "resources[3]",
			id:      "transport.bus-stops",
			field:   "share",
			problem: `invalid share attribute "sometimes"`,
		},
		{
			name:    "unknown open attribute",
			change:  func(f *File) { f.Resources[3].Open = "public" },
			entry:   "resources[3]",
			id:      "transport.bus-stops",
			field:   "open",
			problem: `invalid open attribute "public"`,
		},
		{
			name:    "conditional without conditions",
			change:  func(f *File) { f.Resources[0].Conditions = nil },
			entry:   "resources[0]",
			id:      persons,
			field:   "conditions",
			problem: "missing",
		},
		{
			name:    "conditional with empty conditions",
			change:  func(f *File) { f.Resources[0].Conditions = &Conditions{} },
			entry:   "resources[0]",
			id:      persons,
			field:   "conditions",
			problem: "set at least one",
		},
		{
			name:    "conditions on unconditional resource",
			change:  func(f *File) { f.Resources[3].Conditions = &Conditions{KeyWork: true} },
			entry:   "resources[3]",
			id:      "transport.bus-stops",
			field:   "conditions",
			problem: `share attribute is "unconditional"`,
		},
		{
			name:    "condition names unknown org",
			change:  func(f *File) { f.Resources[0].Conditions.Orgs = []string{"nobody"} },
			entry:   "resources[0]",
			id:      persons,
			field:   "conditions.orgs[0]",
			problem: `unknown consumer "nobody"`,
		},
		{
			name:    "condition names public consumer",
			change:  func(f *File) { f.Resources[0].Conditions.Orgs = []string{"egret-analytics"} },
			entry:   "resources[0]",
			id:      persons,
			field:   "conditions.orgs[0]",
			problem: "cannot receive shared data",
		},
		{
			name:    "condition with empty scenario",
			change:  func(f *File) { f.Resources[0].Conditions.Scenarios[1] = "" },
			entry:   "resources[0]",
			id:      persons,
			field:   "conditions.scenarios[1]",
			problem: "empty scenario",
		},
		{
			name:    "not shared without legal basis",
			change:  func(f *File) { f.Resources[1].LegalBasis = "" },
			entry:   "resources[1]",
			id:      "population.persons.history",
			field:   "legal_basis",
			problem: "missing",
		},
		{
			name:    "open conditions on not open resource",
			change:  func(f *File) { f.Resources[3].OpenConditions = &OpenConditions{} },
			entry:   "resources[3]",
			id:      "transport.bus-stops",
			field:   "open_conditions",
			problem: `open attribute is "open"`,
		},
		{
			name:    "open condition with empty scenario",
			change:  func(f *File) { f.Resources[2].OpenConditions.ForbiddenScenarios[0] = "" },
			entry:   "resources[2]",
			id:      "market.enterprises",
			field:   "open_conditions.forbidden_scenarios[0]",
			problem: "empty scenario",
		},
		{
			name:    "subject in header",
			change:  func(f *File) { f.Resources[0].Subject.In = "header" },
			entry:   "resources[0]",
			id:      persons,
			field:   "subject.in",
			problem: `invalid location "header"`,
		},
		{
			name:    "query subject without name",
			change:  func(f *File) { f.Resources[2].Subject.Name = "" },
			entry:   "resources[2]",
			id:      "market.enterprises",
			field:   "subject.name",
			problem: "missing",
		},
		{
			name:    "path subject with name",
			change:  func(f *File) { f.Resources[0].Subject.Name = "id" },
			entry:   "resources[0]",
			id:      persons,
			field:   "subject.name",
			problem: "first segment after path_prefix",
		},
		{
			name:    "subject of unknown kind",
			change:  func(f *File) { f.Resources[0].Subject.Kind = "passport" },
			entry:   "resources[0]",
			id:      persons,
			field:   "subject.kind",
			problem: `invalid kind "passport"`,
		},
		{
			name:    "field with empty path",
			change:  func(f *File) { f.Resources[0].Fields[1].Path = "" },
			entry:   "resources[0]",
			id:      persons,
			field:   "fields[1].path",
			problem: `invalid path ""`,
		},
		{
			name:    "field path ending with dot",
			change:  func(f *File) { f.Resources[0].Fields[1].Path = "name." },
			entry:   "resources[0]",
			id:      persons,
			field:   "fields[1].path",
			problem: `invalid path "name."`,
		},
		{
			name:    "field with uppercase class",
			change:  func(f *File) { f.Resources[0].Fields[2].Class = "Phone" },
			entry:   "resources[0]",
			id:      persons,
			field:   "fields[2].class",
			problem: `invalid field class "Phone"`,
		},
		{
			name:    "field with empty class",
			change:  func(f *File) { f.Resources[0].Fields[2].Class = "" },
			entry:   "resources[0]",
			id:      persons,
			field:   "fields[2].class",
			problem: "lowercase word",
		},
		{
			name:    "duplicate field path",
			change:  func(f *File) { f.Resources[0].Fields[2].Path = "name" },
			entry:   "resources[0]",
			id:      persons,
			field:   "fields[2].path",
			problem: "also fields[1]",
		},
		{
			name:    "emergency without event",
			change:  func(f *File) { f.Resources[4].Emergency.Event = "" },
			entry:   "resources[4]",
			id:      "health.epidemic-contacts",
			field:   "emergency.event",
			problem: "missing",
		},
		{
			name:    "emergency without scenario",
			change:  func(f *File) { f.Resources[4].Emergency.Scenario = "" },
			entry:   "resources[4]",
			id:      "health.epidemic-contacts",
			field:   "emergency.scenario",
			problem: "missing",
		},
		{
			name:    "emergency without start",
			change:  func(f *File) { f.Resources[4].Emergency.Start = time.Time{} },
			entry:   "resources[4]",
			id:      "health.epidemic-contacts",
			field:   "emergency.start",
			problem: "missing",
		},
		{
			name:    "emergency without end",
			change:  func(f *File) { f.Resources[4].Emergency.End = time.Time{} },
			entry:   "resources[4]",
			id:      "health.epidemic-contacts",
			field:   "emergency.end",
			problem: "missing",
		},
		{
			name: "emergency ends before start",
			change: func(f *File) {
				e := f.Resources[4].Emergency
				e.Start, e.End = e.End, e.Start
			},
			entry:   "resources[4]",
			id:      "health.epidemic-contacts",
			field:   "emergency.end",
			problem: "not after start",
		},
		{
			name: "emergency ends at start",
			change: func(f *File) {
				e := f.Resources[4].Emergency
				e.End = e.Start
			},
			entry:   "resources[4]",
			id:      "health.epidemic-contacts",
			field:   "emergency.end",
			problem: "not after start",
		},
	})
}

func TestValidatePathPrefix(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		problem string
	}{
		{"missing", "", "missing"},
		{"outside api", "/data/persons/", `must start with "/api/"`},
		{"relative", "api/persons/", `must start with "/api/"`},
		{"no trailing slash", "/api/transport/bus-stops", `must end with "/"`},
		{"api root only", "/api/", "names no resource"},
		{"dot segment", "/api/./transport/", `dot segment "."`},
		{"dot dot segment", "/api/x/../transport/", `dot segment ".."`},
		{"doubled slash", "/api//transport/", "doubled slash"},
		{"segment ending with dot", "/api/transport./", `ending with "."`},
		{"backslash", "/api/transport\\bus/", `contains '\\'`},
		{"percent sign", "/api/bus%20stops/", `contains '%'`},
		{"uppercase", "/api/Transport/", `contains 'T'`},
		{"semicolon", "/api/transport;v=1/", `contains ';'`},
		{"space", "/api/bus stops/", `contains ' '`},
		{"non-ascii", "/api/交通/", `contains '交'`},
		{"query mark", "/api/transport?/", `contains '?'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := testFile(t)
			file.Resources[3].PathPrefix = tt.prefix
			errs := validationErrors(t, &file)

			if len(errs) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(errs), errs)
			}
			if errs[0].Entry != "resources[3]" {
				t.Errorf("Entry = %q, want %q", errs[0].Entry, "resources[3]")
			}
			if errs[0].Field != "path_prefix" {
				t.Errorf("Field = %q, want %q", errs[0].Field, "path_prefix")
			}
			if !strings.Contains(errs[0].Problem, tt.problem) {
				t.Errorf("Problem = %q, want it to contain %q", errs[0].Problem, tt.problem)
			}
		})
	}
}

func TestValidateAcceptsPathPrefix(t *testing.T) {
	prefixes := []string{
		"/api/x/",
		"/api/transport/bus-stops/v1.2/",
		"/api/a_b/~c/.well-known/",
		"/api/0/",
	}
	for _, prefix := range prefixes {
		if problem := checkPathPrefix(prefix); problem != "" {
			t.Errorf("checkPathPrefix(%q) = %q, want no problem", prefix, problem)
		}
	}
}

func TestValidateUpstream(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
		problem  string
	}{
		{"missing", "", "missing"},
		{"ftp scheme", "ftp://127.0.0.1:21", "must use http or https"},
		{"no scheme", "127.0.0.1:9103", "invalid address"},
		{"host without scheme", "localhost:9103", "must use http or https"},
		{"no port", "http://127.0.0.1", "has no port"},
		{"empty port", "http://127.0.0.1:", "has no port"},
		{"no host", "http://:9103", "has no host"},
		{"path", "http://127.0.0.1:9103/base", "has a path"},
		{"root path", "http://127.0.0.1:9103/", "has a path"},
		{"query", "http://127.0.0.1:9103?token=1", "has a query or fragment"},
		{"empty query", "http://127.0.0.1:9103?", "has a query or fragment"},
		{"fragment", "http://127.0.0.1:9103#top", "has a query or fragment"},
		{"userinfo", "http://gw:pw@127.0.0.1:9103", "contains user information"},
		{"port zero", "http://127.0.0.1:0", "from 1 to 65535"},
		{"port too large", "http://127.0.0.1:70000", "from 1 to 65535"},
		{"invalid port", "http://127.0.0.1:http", "invalid address"},
		{"opaque", "http:127.0.0.1:9103", "has no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := testFile(t)
			file.Resources[3].Upstream = tt.upstream
			errs := validationErrors(t, &file)

			if len(errs) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(errs), errs)
			}
			if errs[0].Field != "upstream" {
				t.Errorf("Field = %q, want %q", errs[0].Field, "upstream")
			}
			if errs[0].ID != "transport.bus-stops" {
				t.Errorf("ID = %q, want %q", errs[0].ID, "transport.bus-stops")
			}
			if !strings.Contains(errs[0].Problem, tt.problem) {
				t.Errorf("Problem = %q, want it to contain %q", errs[0].Problem, tt.problem)
			}
		})
	}
}

func TestValidateUpstreamRedactsPassword(t *testing.T) {
	file := testFile(t)
	file.Resources[3].Upstream = "http://gw:s3cret-pass@127.0.0.1:9103"
	errs := validationErrors(t, &file)
	if strings.Contains(errs.Error(), "s3cret-pass") {
		t.Errorf("error %q contains the password", errs)
	}
}

func TestValidateAcceptsUpstream(t *testing.T) {
	upstreams := []string{
		"http://127.0.0.1:9103",
		"https://provider.example.gov.cn:8443",
		"http://[::1]:9103",
	}
	for _, upstream := range upstreams {
		if problem := checkUpstream(upstream); problem != "" {
			t.Errorf("checkUpstream(%q) = %q, want no problem", upstream, problem)
		}
	}
}

func TestValidateOverlappingPrefixes(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		// wantOuter lists the ids whose prefixes resources[3]'s overlaps.
		wantOuter []string
		// inner lists the entries whose prefixes lie inside resources[3]'s.
		inner []string
	}{
		{
			name:      "same prefix",
			prefix:    "/api/population/persons/",
			wantOuter: []string{"population.persons"},
		},
		{
			name:      "inside another prefix",
			prefix:    "/api/population/persons/archive/",
			wantOuter: []string{"population.persons"},
		},
		{
			name:   "contains two prefixes",
			prefix: "/api/population/",
			inner:  []string{"resources[0]", "resources[1]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := testFile(t)
			file.Resources[3].PathPrefix = tt.prefix
			errs := validationErrors(t, &file)

			if want := len(tt.wantOuter) + len(tt.inner); len(errs) != want {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), want, errs)
			}
			for _, e := range errs {
				if e.Field != "path_prefix" {
					t.Errorf("Field = %q, want %q", e.Field, "path_prefix")
				}
				if !strings.Contains(e.Error(), `"transport.bus-stops"`) {
					t.Errorf("error %q does not name resource transport.bus-stops", e)
				}
			}
			for _, id := range tt.wantOuter {
				if !strings.Contains(errs.Error(), `(id "`+id+`")`) {
					t.Errorf("errors %q do not name resource %q", errs, id)
				}
			}
			for i, entry := range tt.inner {
				if errs[i].Entry != entry {
					t.Errorf("errs[%d].Entry = %q, want %q", i, errs[i].Entry, entry)
				}
			}
		})
	}
}

func TestValidateSiblingPrefixesDoNotOverlap(t *testing.T) {
	file := testFile(t)
	// "/api/population/persons-history/" starts with the bytes of
	// "/api/population/persons" but is not under "/api/population/persons/".
	if file.Resources[1].PathPrefix != "/api/population/persons-history/" {
		t.Fatalf("test catalogue changed: resources[1] prefix %q", file.Resources[1].PathPrefix)
	}
	if err := file.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateGrants(t *testing.T) {
	const first = "grant-civil-persons-assistance"
	runValidationCases(t, []validationCase{
		{
			name:    "missing id",
			change:  func(f *File) { f.Grants[0].ID = "" },
			entry:   "grants[0]",
			field:   "id",
			problem: "missing",
		},
		{
			name:    "duplicate id",
			change:  func(f *File) { f.Grants[1].ID = first },
			entry:   "grants[1]",
			id:      first,
			field:   "id",
			problem: "also used by grants[0]",
		},
		{
			name:    "unknown kind",
			change:  func(f *File) { f.Grants[0].Kind = "lease" },
			entry:   "grants[0]",
			id:      first,
			field:   "kind",
			problem: `invalid kind "lease"`,
		},
		{
			name:    "unknown consumer",
			change:  func(f *File) { f.Grants[0].Consumer = "nobody" },
			entry:   "grants[0]",
			id:      first,
			field:   "consumer",
			problem: `unknown consumer "nobody"`,
		},
		{
			name:    "unknown resource",
			change:  func(f *File) { f.Grants[0].Resource = "population.nothing" },
			entry:   "grants[0]",
			id:      first,
			field:   "resource",
			problem: `unknown resource "population.nothing"`,
		},
		{
			name:    "share grant to legal person",
			change:  func(f *File) { f.Grants[3].Kind = GrantShare },
			entry:   "grants[3]",
			id:      "grant-egret-enterprises",
			field:   "kind",
			problem: `use "open"`,
		},
		{
			name: "share grant to natural person",
			change: func(f *File) {
				f.Grants[3].Kind = GrantShare
				f.Grants[3].Consumer = "citizen-0001"
			},
			entry:   "grants[3]",
			id:      "grant-egret-enterprises",
			field:   "kind",
			problem: "natural_person",
		},
		{
			name:    "open grant to government department",
			change:  func(f *File) { f.Grants[0].Kind = GrantOpen },
			entry:   "grants[0]",
			id:      first,
			field:   "kind",
			problem: `use "share"`,
		},
		{
			name:    "missing scenario",
			change:  func(f *File) { f.Grants[0].Scenario = "" },
			entry:   "grants[0]",
			id:      first,
			field:   "scenario",
			problem: "missing",
		},
		{
			name:    "missing valid_from",
			change:  func(f *File) { f.Grants[0].ValidFrom = time.Time{} },
			entry:   "grants[0]",
			id:      first,
			field:   "valid_from",
			problem: "missing",
		},
		{
			name:    "missing valid_until",
			change:  func(f *File) { f.Grants[0].ValidUntil = time.Time{} },
			entry:   "grants[0]",
			id:      first,
			field:   "valid_until",
			problem: "missing",
		},
		{
			name: "valid_until before valid_from",
			change: func(f *File) {
				g := &f.Grants[0]
				g.ValidFrom, g.ValidUntil = g.ValidUntil, g.ValidFrom
			},
			entry:   "grants[0]",
			id:      first,
			field:   "valid_until",
			problem: "not after valid_from",
		},
		{
			name:    "invalid field path",
			change:  func(f *File) { f.Grants[0].Fields[1] = "" },
			entry:   "grants[0]",
			id:      first,
			field:   "fields[1]",
			problem: "invalid path",
		},
		{
			name:    "unknown mask strategy",
			change:  func(f *File) { f.Grants[0].Masks["id_number"] = "clear" },
			entry:   "grants[0]",
			id:      first,
			field:   `masks["id_number"]`,
			problem: `invalid mask strategy "clear"`,
		},
		{
			name:    "mask for invalid class",
			change:  func(f *File) { f.Grants[0].Masks["ID"] = MaskHash },
			entry:   "grants[0]",
			id:      first,
			field:   `masks["ID"]`,
			problem: `invalid field class "ID"`,
		},
		{
			name:    "negative daily quota",
			change:  func(f *File) { f.Grants[0].Quota.PerDay = -1 },
			entry:   "grants[0]",
			id:      first,
			field:   "quota",
			problem: "negative quota",
		},
		{
			name:    "negative minute quota",
			change:  func(f *File) { f.Grants[0].Quota.PerMinute = -5 },
			entry:   "grants[0]",
			id:      first,
			field:   "quota",
			problem: "per_minute -5",
		},
	})
}

func TestValidateCreditLists(t *testing.T) {
	runValidationCases(t, []validationCase{
		{
			name: "wrong check character",
			change: func(f *File) {
				f.CreditLists.SeriousDishonest = []string{"91350200MA0000007G"}
			},
			entry:   "credit_lists",
			field:   "serious_dishonest[0]",
			problem: "check character",
		},
		{
			name: "lowercase code",
			change: func(f *File) {
				f.CreditLists.DishonestDebtor = []string{"91350200ma0000007f"}
			},
			entry:   "credit_lists",
			field:   "dishonest_debtor[0]",
			problem: "uppercase",
		},
		{
			name: "duplicate code",
			change: func(f *File) {
				l := &f.CreditLists
				l.AbnormalOperation = append(l.AbnormalOperation, l.AbnormalOperation[0])
			},
			entry:   "credit_lists",
			field:   "abnormal_operation[2]",
			problem: "also abnormal_operation[0]",
		},
	})
}

func TestValidateReportsEveryProblem(t *testing.T) {
	file := testFile(t)
	file.Consumers[2].CreditCode = "91350200MA00000047"
	file.Resources[0].PathPrefix = "/api/population//persons/"
	file.Resources[3].Upstream = "ftp://127.0.0.1:21"
	file.Grants[2].Scenario = ""
	file.CreditLists.SeriousDishonest = []string{"bad"}

	errs := validationErrors(t, &file)
	want := []struct{ entry, field string }{
		{"consumers[2]", "credit_code"},
		{"resources[0]", "path_prefix"},
		{"resources[3]", "upstream"},
		{"grants[2]", "scenario"},
		{"credit_lists", "serious_dishonest[0]"},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Entry != w.entry {
			t.Errorf("errs[%d].Entry = %q, want %q", i, errs[i].Entry, w.entry)
		}
		if errs[i].Field != w.field {
			t.Errorf("errs[%d].Field = %q, want %q", i, errs[i].Field, w.field)
		}
	}
	if !strings.HasPrefix(errs.Error(), "5 problems:\n") {
		t.Errorf("message %q does not start with the count", errs.Error())
	}
}

func TestEntryErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  EntryError
		want string
	}{
		{
			name: "with id",
			err:  EntryError{Entry: "resources[2]", ID: "x", Field: "path_prefix", Problem: "bad"},
			want: `resources[2] (id "x"): path_prefix: bad`,
		},
		{
			name: "without id",
			err:  EntryError{Entry: "credit_lists", Field: "dishonest_debtor[0]", Problem: "bad"},
			want: `credit_lists: dishonest_debtor[0]: bad`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFieldsOverCombinedLimitRejected(t *testing.T) {
	var fields []Field
	// Each wildcard key is short enough alone; together they pass the
	// masker's limit on wildcard bytes.
	for i := 0; i < 20; i++ {
		fields = append(fields, Field{Path: fmt.Sprintf("k%02d*suffix_to_make_it_long", i), Class: "name"})
	}
	v := &validator{}
	e := entry{v: v, name: "resources[0]", id: "r"}
	e.checkFields(fields)
	if len(v.errs) == 0 {
		t.Fatalf("no error for fields over the masker's combined limit")
	}
	if got := v.errs[0].Field; got != "fields" {
		t.Errorf("error field = %q, want fields", got)
	}
}

func TestIDMustStartWithLetterOrDigit(t *testing.T) {
	for _, id := range []string{".", "..", "-", "_a", ".hidden"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true, want false", id)
		}
	}
	for _, id := range []string{"a", "0", "population.person", "xm-housing-fund"} {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false, want true", id)
		}
	}
}

func TestFreeTextWithIdentityNumberRejected(t *testing.T) {
	v := &validator{}
	e := entry{v: v, name: "resources[0]", id: "r"}
	e.checkNoIDNumber("legal_basis", "依据 350203196804140613 的申请")
	if len(v.errs) != 1 {
		t.Fatalf("got %d errors, want 1", len(v.errs))
	}
	if strings.Contains(v.errs[0].Error(), "350203196804140613") {
		t.Errorf("error quotes the identity number: %v", v.errs[0])
	}
	e.checkNoIDNumber("name", "人口基本信息")
	if len(v.errs) != 1 {
		t.Errorf("plain text rejected: %v", v.errs)
	}
}
