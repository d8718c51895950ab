package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/gateway/catalog"
)

func keyDigest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// seedFile is a small valid catalogue with two departments, an operator,
// one consumer, two resources and a grant.
func seedFile() catalog.File {
	return catalog.File{
		Consumers: []catalog.Consumer{{
			ID: "xm-housing-bureau", Kind: catalog.KindGovernmentDepartment, Org: "厦门市住房局",
			CreditCode: "113502000036220590", APIKeySHA256: keyDigest("consumer-key"),
		}},
		Providers: []catalog.Provider{
			{ID: "xm-public-security", Role: catalog.RoleProvider, APIKeySHA256: keyDigest("police-key")},
			{ID: "xm-civil-affairs", Role: catalog.RoleProvider, APIKeySHA256: keyDigest("civil-key")},
			{ID: "xm-big-data-bureau", Role: catalog.RoleOperator, APIKeySHA256: keyDigest("operator-key")},
		},
		Resources: []catalog.Resource{
			{ID: "population.person", Provider: "xm-public-security",
				PathPrefix: "/api/population/persons/", Upstream: "http://10.0.0.5:8080",
				Share: catalog.ShareUnconditional, Open: catalog.OpenNotOpen,
				Fields: []catalog.Field{{Path: "id_number", Class: "id_number"}}},
			{ID: "marriage.record", Provider: "xm-civil-affairs",
				PathPrefix: "/api/marriage/records/", Upstream: "http://10.0.0.6:8080",
				Share: catalog.ShareConditional, Open: catalog.OpenNotOpen,
				Conditions: &catalog.Conditions{Scenarios: []string{"housing_subsidy_review"}}},
		},
		Grants: []catalog.Grant{{
			ID: "grant-housing-marriage", Kind: catalog.GrantShare, Consumer: "xm-housing-bureau",
			Resource: "marriage.record", Scenario: "housing_subsidy_review",
			ValidFrom:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			ValidUntil: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		}},
		CreditLists: catalog.CreditLists{DishonestDebtor: []string{"91350200MA3M0RBR75"}},
	}
}

// fakeResolver resolves the names it lists and fails for the rest.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, fmt.Errorf("no such host %q", host)
	}
	return addrs, nil
}

// seededStore returns a store on a fresh redis-server seeded with
// seedFile, whose upstream guard resolves names with fakeResolver.
func seededStore(t *testing.T, allow ...string) (*Store, *redis.Client) {
	t.Helper()
	prefixes, err := catalog.ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	guard := &catalog.UpstreamGuard{Allow: prefixes, Resolver: fakeResolver{
		"police.internal":   {netip.MustParseAddr("10.1.2.3")},
		"localhost":         {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"rebind.example":    {netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("169.254.169.254")},
		"nat64.example":     {netip.MustParseAddr("64:ff9b::7f00:1")},
		"aliyun-meta.local": {netip.MustParseAddr("100.100.100.200")},
	}}
	store, client := startStore(t, Options{Guard: guard})
	seeded, err := store.Seed(context.Background(), seedFile())
	if err != nil {
		t.Fatal(err)
	}
	if !seeded {
		t.Fatal("Seed wrote nothing to an empty registry")
	}
	return store, client
}

// registryState is what a refused change must leave untouched.
type registryState struct {
	version   string
	resources map[string]string
	retired   map[string]string
	grants    map[string]string
}

func readState(t *testing.T, store *Store, client *redis.Client) registryState {
	t.Helper()
	ctx := context.Background()
	keys := store.Keys()
	version, _ := client.Get(ctx, keys.Version()).Result()
	resources, err := client.HGetAll(ctx, keys.Resources()).Result()
	if err != nil {
		t.Fatal(err)
	}
	retired, _ := client.HGetAll(ctx, keys.Retired()).Result()
	grants, _ := client.HGetAll(ctx, keys.Grants()).Result()
	return registryState{version: version, resources: resources, retired: retired, grants: grants}
}

func sameState(t *testing.T, before, after registryState) {
	t.Helper()
	if before.version != after.version {
		t.Errorf("registry version changed from %s to %s", before.version, after.version)
	}
	if fmt.Sprint(before.resources) != fmt.Sprint(after.resources) {
		t.Errorf("resources changed:\nbefore %v\nafter  %v", before.resources, after.resources)
	}
	if fmt.Sprint(before.retired) != fmt.Sprint(after.retired) {
		t.Errorf("retired resources changed")
	}
	if fmt.Sprint(before.grants) != fmt.Sprint(after.grants) {
		t.Errorf("grants changed")
	}
}

// newResource is a valid resource of xm-public-security that no seeded
// resource overlaps.
func newResource() catalog.Resource {
	return catalog.Resource{
		ID: "population.household", Provider: "xm-public-security",
		PathPrefix: "/api/population/households/", Upstream: "http://10.0.0.5:8080",
		Share: catalog.ShareUnconditional, Open: catalog.OpenNotOpen,
		Fields: []catalog.Field{{Path: "members.#.id_number", Class: "id_number"}},
	}
}

func TestRegisterResource(t *testing.T) {
	store, _ := seededStore(t)
	ctx := context.Background()

	record, err := store.RegisterResource(ctx, "xm-public-security", newResource(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if record.Version != 2 {
		t.Errorf("record version = %d, want 2", record.Version)
	}
	if record.Action != ActionRegister {
		t.Errorf("record action = %q, want %q", record.Action, ActionRegister)
	}
	if record.Author != "xm-public-security" {
		t.Errorf("record author = %q, want xm-public-security", record.Author)
	}
	wantChanges := []string{"fields", "id", "open", "path_prefix", "provider", "share", "upstream"}
	if !slices.Equal(record.Changes, wantChanges) {
		t.Errorf("record changes = %q, want %q", record.Changes, wantChanges)
	}

	snap, err := store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 2 {
		t.Errorf("snapshot version = %d, want 2", snap.Version)
	}
	if _, err := catalog.New(snap.File, "test"); err != nil {
		t.Errorf("snapshot after registration does not load: %v", err)
	}
	history, err := store.History(ctx, "population.household")
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 1 {
		t.Fatalf("history has %d versions, want 1", len(history))
	}
	if history[0].Resource.PathPrefix != "/api/population/households/" {
		t.Errorf("history resource path prefix = %q", history[0].Resource.PathPrefix)
	}
}

func TestRegisterExistingIsConflict(t *testing.T) {
	store, client := seededStore(t)
	before := readState(t, store, client)
	res := seedFile().Resources[0]
	_, err := store.RegisterResource(context.Background(), "xm-public-security", res, nil)
	if !errors.Is(err, ErrExists) {
		t.Errorf("error = %v, want ErrExists", err)
	}
	sameState(t, before, readState(t, store, client))
}

func TestRegisterRefusals(t *testing.T) {
	with := func(change func(r *catalog.Resource)) catalog.Resource {
		r := newResource()
		change(&r)
		return r
	}
	tests := []struct {
		name     string
		resource catalog.Resource
		field    string
		// fix is a part of the message, such as the fault or the remedy.
		fix string
	}{
		{"ftp scheme", with(func(r *catalog.Resource) { r.Upstream = "ftp://10.0.0.5:21" }),
			"upstream", "must use http or https"},
		{"missing host", with(func(r *catalog.Resource) { r.Upstream = "http://:8080" }),
			"upstream", "has no host"},
		{"missing upstream", with(func(r *catalog.Resource) { r.Upstream = "" }),
			"upstream", "set the provider's base address"},
		{"loopback literal", with(func(r *catalog.Resource) { r.Upstream = "http://127.0.0.1:9101" }),
			"upstream", "loopback"},
		{"loopback ipv6", with(func(r *catalog.Resource) { r.Upstream = "http://[::1]:9101" }),
			"upstream", "loopback"},
		{"mapped loopback", with(func(r *catalog.Resource) { r.Upstream = "http://[::ffff:127.0.0.1]:9101" }),
			"upstream", "loopback"},
		{"unspecified", with(func(r *catalog.Resource) { r.Upstream = "http://0.0.0.0:80" }),
			"upstream", "unspecified"},
		{"this network", with(func(r *catalog.Resource) { r.Upstream = "http://0.1.2.3:80" }),
			"upstream", "local network"},
		{"link-local", with(func(r *catalog.Resource) { r.Upstream = "http://169.254.10.1:80" }),
			"upstream", "link-local"},
		{"aws metadata", with(func(r *catalog.Resource) { r.Upstream = "http://169.254.169.254:80" }),
			"upstream", "metadata"},
		{"aws metadata ipv6", with(func(r *catalog.Resource) { r.Upstream = "http://[fd00:ec2::254]:80" }),
			"upstream", "metadata"},
		{"alibaba metadata", with(func(r *catalog.Resource) { r.Upstream = "http://100.100.100.200:80" }),
			"upstream", "metadata"},
		{"google metadata name", with(func(r *catalog.Resource) { r.Upstream = "http://metadata.google.internal:80" }),
			"upstream", "metadata"},
		{"google metadata name with dot", with(func(r *catalog.Resource) { r.Upstream = "http://Metadata.Google.Internal.:80" }),
			"upstream", "metadata"},
		{"multicast", with(func(r *catalog.Resource) { r.Upstream = "http://224.0.0.1:80" }),
			"upstream", "multicast"},
		{"decimal address", with(func(r *catalog.Resource) { r.Upstream = "http://2130706433:80" }),
			"upstream", "not a standard IP address"},
		{"octal address", with(func(r *catalog.Resource) { r.Upstream = "http://0177.0.0.1:80" }),
			"upstream", "not a standard IP address"},
		{"hex address", with(func(r *catalog.Resource) { r.Upstream = "http://0x7f.0.0.1:80" }),
			"upstream", "not a standard IP address"},
		{"name resolving to loopback", with(func(r *catalog.Resource) { r.Upstream = "http://localhost:9101" }),
			"upstream", "resolves to 127.0.0.1"},
		{"name with one metadata address", with(func(r *catalog.Resource) { r.Upstream = "http://rebind.example:80" }),
			"upstream", "resolves to 169.254.169.254"},
		{"name resolving to nat64 loopback", with(func(r *catalog.Resource) { r.Upstream = "http://nat64.example:80" }),
			"upstream", "loopback"},
		{"name resolving to alibaba metadata", with(func(r *catalog.Resource) { r.Upstream = "http://aliyun-meta.local:80" }),
			"upstream", "metadata"},
		{"unresolvable name", with(func(r *catalog.Resource) { r.Upstream = "http://nowhere.invalid:80" }),
			"upstream", "looking up host"},
		{"same prefix as another provider", with(func(r *catalog.Resource) { r.PathPrefix = "/api/marriage/records/" }),
			"path_prefix", `of resource "marriage.record" of provider "xm-civil-affairs"`},
		{"prefix inside another", with(func(r *catalog.Resource) { r.PathPrefix = "/api/marriage/records/archive/" }),
			"path_prefix", "overlaps"},
		{"prefix containing another", with(func(r *catalog.Resource) { r.PathPrefix = "/api/marriage/" }),
			"path_prefix", "overlaps"},
		{"unparsable field path", with(func(r *catalog.Resource) { r.Fields = []catalog.Field{{Path: "members.#(age>", Class: "name"}} }),
			"fields[0].path", "invalid path"},
		{"invalid share attribute", with(func(r *catalog.Resource) { r.Share = "sometimes" }),
			"share", `use "unconditional"`},
		{"not shared without legal basis", with(func(r *catalog.Resource) { r.Share = catalog.ShareNotShared }),
			"legal_basis", "missing"},
		{"conditional without conditions", with(func(r *catalog.Resource) { r.Share = catalog.ShareConditional }),
			"conditions", "missing"},
		{"unknown provider", with(func(r *catalog.Resource) { r.Provider = "xm-nobody" }),
			"provider", "unknown provider"},
		{"operator as provider", with(func(r *catalog.Resource) { r.Provider = "xm-big-data-bureau" }),
			"provider", `the role "operator"`},
		{"identity number as id", with(func(r *catalog.Resource) { r.ID = "350203196804140613" }),
			"id", "resident identity number"},
		{"bad path prefix", with(func(r *catalog.Resource) { r.PathPrefix = "/api/../admin/" }),
			"path_prefix", "dot segment"},
	}
	store, client := seededStore(t)
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := readState(t, store, client)
			_, err := store.RegisterResource(ctx, "xm-public-security", tc.resource, nil)
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want *InvalidError", err)
			}
			var found *Problem
			for i := range invalid.Problems {
				if invalid.Problems[i].Field == tc.field {
					found = &invalid.Problems[i]
				}
			}
			if found == nil {
				t.Fatalf("no problem with field %q in %v", tc.field, invalid.Problems)
			}
			if !strings.Contains(found.Message, tc.fix) {
				t.Errorf("message %q does not contain %q", found.Message, tc.fix)
			}
			if strings.Contains(err.Error(), "350203196804140613") {
				t.Errorf("error quotes an identity number: %v", err)
			}
			sameState(t, before, readState(t, store, client))
		})
	}
}

func TestAllowListPermitsUpstream(t *testing.T) {
	store, _ := seededStore(t, "127.0.0.0/8", "::1/128")
	tests := []struct {
		name     string
		upstream string
	}{
		{"loopback literal", "http://127.0.0.1:9101"},
		{"name resolving to allowed loopback", "http://localhost:9101"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newResource()
			res.ID = fmt.Sprintf("population.allowed%d", i)
			res.PathPrefix = fmt.Sprintf("/api/population/allowed%d/", i)
			res.Upstream = tc.upstream
			if _, err := store.RegisterResource(context.Background(), "xm-public-security", res, nil); err != nil {
				t.Errorf("registration refused: %v", err)
			}
		})
	}
}

func TestAllowListDoesNotCoverOtherAddresses(t *testing.T) {
	store, _ := seededStore(t, "127.0.0.0/8")
	res := newResource()
	res.Upstream = "http://169.254.169.254:80"
	_, err := store.RegisterResource(context.Background(), "xm-public-security", res, nil)
	var invalid *InvalidError
	if !errors.As(err, &invalid) {
		t.Errorf("error = %v, want *InvalidError", err)
	}
}

func TestAuthorizeSeesExistingAndStopsChange(t *testing.T) {
	store, client := seededStore(t)
	ctx := context.Background()
	before := readState(t, store, client)
	refusal := errors.New("refused by policy")

	var seen Existing
	taken := seedFile().Resources[1]
	taken.Provider = "xm-public-security"
	_, err := store.UpdateResource(ctx, "xm-public-security", taken, func(existing Existing) error {
		seen = existing
		return refusal
	})
	if err != refusal {
		t.Errorf("error = %v, want the authorizer's error unchanged", err)
	}
	if seen.Resource == nil || seen.Resource.Provider != "xm-civil-affairs" {
		t.Errorf("authorizer saw %+v, want the stored resource of xm-civil-affairs", seen.Resource)
	}
	sameState(t, before, readState(t, store, client))
}

func TestUpdateResource(t *testing.T) {
	store, _ := seededStore(t)
	ctx := context.Background()
	res := seedFile().Resources[0]
	res.Name = "人口登记信息"
	res.Upstream = "http://police.internal:8443"

	record, err := store.UpdateResource(ctx, "xm-public-security", res, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"name", "upstream"}; !slices.Equal(record.Changes, want) {
		t.Errorf("changes = %q, want %q", record.Changes, want)
	}
	history, err := store.History(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 {
		t.Fatalf("history has %d versions, want 2 (seed and update)", len(history))
	}
	if history[0].Author != SeedAuthor {
		t.Errorf("first version author = %q, want %q", history[0].Author, SeedAuthor)
	}
	if history[1].Resource.Upstream != "http://police.internal:8443" {
		t.Errorf("second version upstream = %q", history[1].Resource.Upstream)
	}
}

func TestUpdateUnknownIsNotFound(t *testing.T) {
	store, client := seededStore(t)
	before := readState(t, store, client)
	_, err := store.UpdateResource(context.Background(), "xm-public-security", newResource(), nil)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("error = %v, want ErrNotFound", err)
	}
	sameState(t, before, readState(t, store, client))
}

func TestRetireResource(t *testing.T) {
	store, client := seededStore(t)
	ctx := context.Background()

	record, err := store.RetireResource(ctx, "xm-civil-affairs", "marriage.record", nil)
	if err != nil {
		t.Fatal(err)
	}
	if record.Action != ActionRetire {
		t.Errorf("action = %q, want %q", record.Action, ActionRetire)
	}

	snap, err := store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range snap.File.Resources {
		if r.ID == "marriage.record" {
			t.Error("retired resource is still in the snapshot")
		}
	}
	if len(snap.File.Grants) != 0 {
		t.Errorf("snapshot has %d grants, want 0: the retired resource's grant stays", len(snap.File.Grants))
	}
	if _, err := catalog.New(snap.File, "test"); err != nil {
		t.Errorf("snapshot after retirement does not load: %v", err)
	}
	revoked, _ := client.LRange(ctx, store.Keys().RevokedGrants(), 0, -1).Result()
	if len(revoked) != 1 || !strings.Contains(revoked[0], RetireReason) {
		t.Errorf("revoked grants = %q, want one with reason %q", revoked, RetireReason)
	}

	existing, err := store.Resource(ctx, "marriage.record")
	if err != nil {
		t.Fatal(err)
	}
	if !existing.Retired {
		t.Error("Resource does not report the retired resource as retired")
	}
	history, err := store.History(ctx, "marriage.record")
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 {
		t.Errorf("history has %d versions after retirement, want 2", len(history))
	}

	before := readState(t, store, client)
	if _, err := store.RetireResource(ctx, "xm-civil-affairs", "marriage.record", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("second retirement error = %v, want ErrNotFound", err)
	}
	sameState(t, before, readState(t, store, client))

	// Registering the id again brings it back, and the history goes on.
	if _, err := store.RegisterResource(ctx, "xm-civil-affairs", *existing.Resource, nil); err != nil {
		t.Fatalf("registering a retired id again: %v", err)
	}
	history, _ = store.History(ctx, "marriage.record")
	if len(history) != 3 {
		t.Errorf("history has %d versions after re-registration, want 3", len(history))
	}
	if retired, _ := client.HExists(ctx, store.Keys().Retired(), "marriage.record").Result(); retired {
		t.Error("re-registered resource is still in the retired hash")
	}
}
