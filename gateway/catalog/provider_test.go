package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func digestOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// addProviders lists every provider the test catalogue's resources name,
// and one operator, each with its own key.
func addProviders(f *File) {
	seen := map[string]bool{}
	for _, r := range f.Resources {
		if seen[r.Provider] {
			continue
		}
		seen[r.Provider] = true
		f.Providers = append(f.Providers, Provider{
			ID: r.Provider, Role: RoleProvider, APIKeySHA256: digestOf("key-" + r.Provider),
		})
	}
	f.Providers = append(f.Providers, Provider{
		ID: "xm-big-data-bureau", Role: RoleOperator, APIKeySHA256: digestOf("key-operator"),
	})
}

func TestValidateAcceptsProviders(t *testing.T) {
	file := testFile(t)
	addProviders(&file)
	if err := file.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestValidateProviders(t *testing.T) {
	cases := []validationCase{
		{
			name:    "missing id",
			change:  func(f *File) { addProviders(f); f.Providers[4].ID = "" },
			entry:   "providers[4]",
			field:   "id",
			problem: "missing",
		},
		{
			name: "duplicate id",
			change: func(f *File) {
				addProviders(f)
				f.Providers = append(f.Providers, Provider{ID: f.Providers[0].ID,
					Role: RoleProvider, APIKeySHA256: digestOf("another")})
			},
			entry:   "providers[5]",
			id:      "xm-public-security",
			field:   "id",
			problem: "duplicate id",
		},
		{
			name:    "unknown role",
			change:  func(f *File) { addProviders(f); f.Providers[1].Role = "admin" },
			entry:   "providers[1]",
			id:      "xm-market-regulation",
			field:   "role",
			problem: `invalid role "admin"`,
		},
		{
			name:    "missing key",
			change:  func(f *File) { addProviders(f); f.Providers[1].APIKeySHA256 = "" },
			entry:   "providers[1]",
			id:      "xm-market-regulation",
			field:   "api_key_sha256",
			problem: "missing",
		},
		{
			name:    "raw key instead of digest",
			change:  func(f *File) { addProviders(f); f.Providers[1].APIKeySHA256 = "dgk_secret" },
			entry:   "providers[1]",
			id:      "xm-market-regulation",
			field:   "api_key_sha256",
			problem: "never the credential itself",
		},
		{
			name:    "key shared with a consumer",
			change:  func(f *File) { addProviders(f); f.Providers[1].APIKeySHA256 = goodKeyHash },
			entry:   "providers[1]",
			id:      "xm-market-regulation",
			field:   "api_key_sha256",
			problem: "consumers[0]",
		},
		{
			name: "resource names unknown provider",
			change: func(f *File) {
				addProviders(f)
				f.Resources[3].Provider = "xm-nobody"
			},
			entry:   "resources[3]",
			id:      f3ID,
			field:   "provider",
			problem: `unknown provider "xm-nobody"`,
		},
		{
			name: "resource names operator",
			change: func(f *File) {
				addProviders(f)
				f.Resources[3].Provider = "xm-big-data-bureau"
			},
			entry:   "resources[3]",
			id:      f3ID,
			field:   "provider",
			problem: `the role "operator"`,
		},
	}
	runValidationCases(t, cases)
}

// f3ID is the id of resources[3] in the test catalogue.
const f3ID = "transport.bus-stops"

func TestValidateWithoutProvidersSkipsReference(t *testing.T) {
	file := testFile(t)
	file.Resources[3].Provider = "xm-nobody"
	if err := file.Validate(); err != nil {
		t.Errorf("a catalogue without providers checked a resource's provider: %v", err)
	}
}

func TestProviderByKey(t *testing.T) {
	file := testFile(t)
	addProviders(&file)
	cat, err := New(file, "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  string
		want string
	}{
		{"provider", "key-xm-public-security", "xm-public-security"},
		{"operator", "key-operator", "xm-big-data-bureau"},
		{"unknown key", "key-nobody", ""},
		{"empty key", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cat.ProviderByKey(tc.key)
			id := ""
			if got != nil {
				id = got.ID
			}
			if id != tc.want {
				t.Errorf("ProviderByKey = %q, want %q", id, tc.want)
			}
		})
	}
	var none *Catalog
	if none.ProviderByKey("key-operator") != nil {
		t.Error("nil catalogue found a provider")
	}
}

func TestDecodeResource(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		problem string
	}{
		{"valid", `{"id":"a.b","provider":"p","path_prefix":"/api/a/","upstream":"http://10.0.0.1:80","share":"unconditional","open":"open"}`, ""},
		{"unknown field", `{"id":"a.b","upstrem":"http://10.0.0.1:80"}`, `unknown field "upstrem"`},
		{"not an object", `["a"]`, "must be a JSON object"},
		{"wrong type", `{"id":7}`, "want a string"},
		{"trailing data", `{"id":"a"} {"id":"b"}`, "unexpected data"},
		{"truncated", `{"id":"a"`, "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeResource([]byte(tc.body))
			if tc.problem == "" {
				if err != nil {
					t.Errorf("DecodeResource: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("error = %v, want it to contain %q", err, tc.problem)
			}
		})
	}
}

func TestValidIDRejectsIdentityNumber(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"population.person", true},
		{"350203196804140613", false},
		{"Population", false},
		{"", false},
		{"a/b", false},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
