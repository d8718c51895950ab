package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// registryPrefix is the default registry key prefix.
const registryPrefix = "{data_gateway:registry}"

// registryReply is one registry API response, decoded.
type registryReply struct {
	status int
	body   []byte
	json   map[string]any
}

func (r registryReply) reasons() []string {
	var out []string
	list, _ := r.json["reasons"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// registryDo sends one registry call to base with the named demo key, or
// none for "". A nil body sends none, a string is sent as it is, and any
// other value is sent as JSON.
func registryDo(t *testing.T, s *stack, base, method, path, keyName string, body any) registryReply {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}

	req, err := http.NewRequest(method, base+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if keyName != "" {
		key, ok := s.keys[keyName]
		if !ok {
			t.Fatalf("no demo key named %q", keyName)
		}
		req.Header.Set("Authorization", "Bearer "+key)
	}

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := registryReply{status: resp.StatusCode, body: data}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.json); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, data)
		}
	}
	return r
}

// registryState returns R:version and a digest of every live and retired
// resource, which a refused change must leave as they were.
func registryState(t *testing.T, s *stack) (string, string) {
	t.Helper()
	ctx := context.Background()
	version, err := s.rdb.Get(ctx, registryPrefix+":version").Result()
	if err != nil {
		t.Fatalf("reading registry version: %v", err)
	}
	hash := sha256.New()
	for _, key := range []string{":resources", ":retired"} {
		entries, err := s.rdb.HGetAll(ctx, registryPrefix+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 0, len(entries))
		for id := range entries {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(hash, "%s%s=%s\n", key, id, entries[id])
		}
	}
	return version, hex.EncodeToString(hash.Sum(nil))
}

// petsUpstream starts a loopback API that returns a small JSON record for
// every GET, standing in for a newly connected department.
func petsUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"kind":"dog"}`, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// petsResource is a resource of the public security department served by
// upstream.
func petsResource(upstream string) map[string]any {
	return map[string]any{
		"id":          "population.pets",
		"provider":    "xm-public-security",
		"name":        "犬只登记信息",
		"path_prefix": "/api/population/pets/",
		"upstream":    upstream,
		"share":       "unconditional",
		"open":        "not_open",
	}
}

// pollStatus calls path on base as the Siming civil affairs consumer until
// the status is want, and returns how long that took.
func pollStatus(t *testing.T, s *stack, base, path string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.keys["KEY_SIMING_CIVIL"])
		req.Header.Set("X-Data-Scenario", "social_assistance_review")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("GET %s%s: status %d after %s, want %d", base, path, resp.StatusCode, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRegistrySpreadsAcrossInstances registers a resource through one
// gateway and expects the other, on the same Redis, to serve it within a
// second. It then retires the resource through the second and expects 404
// on both.
func TestRegistrySpreadsAcrossInstances(t *testing.T) {
	s := startStack(t, stackOptions{peer: true, upstreamAllow: "127.0.0.0/8"})
	a, b := s.base, s.peer.base
	const path = "/api/population/pets/42"

	pollStatus(t, s, b, path, http.StatusNotFound, 5*time.Second)

	reg := registryDo(t, s, a, http.MethodPost, "/registry/resources",
		"KEY_PROVIDER_PUBLIC_SECURITY", petsResource(petsUpstream(t)))
	if reg.status != http.StatusCreated {
		t.Fatalf("register: status %d, want 201: %s", reg.status, reg.body)
	}
	took := pollStatus(t, s, b, path, http.StatusOK, 3*time.Second)
	t.Logf("instance B served the registration after %s", took)
	if took >= time.Second {
		t.Errorf("instance B served the registration after %s, want under 1s", took)
	}
	pollStatus(t, s, a, path, http.StatusOK, 0)

	ret := registryDo(t, s, b, http.MethodDelete, "/registry/resources/population.pets",
		"KEY_PROVIDER_PUBLIC_SECURITY", nil)
	if ret.status != http.StatusOK {
		t.Fatalf("retire: status %d, want 200: %s", ret.status, ret.body)
	}
	took = pollStatus(t, s, a, path, http.StatusNotFound, 3*time.Second)
	if took >= time.Second {
		t.Errorf("instance A served the retired resource for %s, want under 1s", took)
	}
	pollStatus(t, s, b, path, http.StatusNotFound, 0)

	hist := registryDo(t, s, a, http.MethodGet, "/registry/resources/population.pets/history",
		"KEY_PROVIDER_PUBLIC_SECURITY", nil)
	if hist.status != http.StatusOK {
		t.Fatalf("history: status %d: %s", hist.status, hist.body)
	}
	versions, _ := hist.json["versions"].([]any)
	if len(versions) != 2 {
		t.Fatalf("history has %d versions, want 2: %s", len(versions), hist.body)
	}
	var actions []string
	for _, v := range versions {
		record := v.(map[string]any)
		actions = append(actions, fmt.Sprint(record["action"]))
		if record["author"] != "xm-public-security" {
			t.Errorf("version author = %v, want xm-public-security", record["author"])
		}
	}
	if !slices.Equal(actions, []string{"register", "retire"}) {
		t.Errorf("history actions = %q, want register, retire", actions)
	}
	if hist.json["retired"] != true {
		t.Errorf("history does not say the resource is retired: %s", hist.body)
	}

	// Each instance writes its own records, in its own time.
	found := map[string]bool{}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		for _, rec := range s.auditRecords() {
			if rec["resource"] == "population.pets" && rec["consumer"] == "xm-public-security" {
				found[fmt.Sprint(rec["decision"])] = true
			}
		}
		if found["register"] && found["retire"] {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, decision := range []string{"register", "retire"} {
		if !found[decision] {
			t.Errorf("no audit record with decision %q by xm-public-security", decision)
		}
	}
}

// TestRegistryRefusesBadRegistrations sends registrations that must be
// refused, and checks the status, that the reasons name the field, and
// that the registry is unchanged afterwards.
func TestRegistryRefusesBadRegistrations(t *testing.T) {
	s := startStack(t, stackOptions{})
	good := petsResource("http://10.0.0.5:8080")
	with := func(field string, value any) map[string]any {
		r := make(map[string]any, len(good))
		for k, v := range good {
			r[k] = v
		}
		r[field] = value
		return r
	}
	existingForCivil := map[string]any{
		"id": "population.person", "provider": "xm-civil-affairs",
		"path_prefix": "/api/population/persons/", "upstream": "http://10.0.0.5:8080",
		"share": "unconditional", "open": "not_open",
	}

	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   any
		status int
		// reason is a part of one of the reasons, or of the error when
		// the refusal has no reasons.
		reason string
	}{
		{"other department's provider", "POST", "/registry/resources", "KEY_PROVIDER_CIVIL_AFFAIRS",
			good, 403, `provider "xm-civil-affairs" may register and change only`},
		{"take over other department's resource", "PUT", "/registry/resources/population.person",
			"KEY_PROVIDER_CIVIL_AFFAIRS", existingForCivil, 403, `belongs to provider "xm-public-security"`},
		{"retire other department's resource", "DELETE", "/registry/resources/population.person",
			"KEY_PROVIDER_CIVIL_AFFAIRS", nil, 403, `belongs to provider "xm-public-security"`},
		{"consumer registers", "POST", "/registry/resources", "KEY_SIMING_CIVIL",
			good, 403, "may not register, update or retire resources"},
		{"operator registers", "POST", "/registry/resources", "KEY_OPERATOR",
			good, 403, "may not register, update or retire resources"},
		{"no credential", "POST", "/registry/resources", "", good, 401, "missing or unknown credential"},
		{"ftp upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "ftp://10.0.0.5:21"), 400, "upstream: "},
		{"upstream without host", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://:8080"), 400, "has no host"},
		{"loopback upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://127.0.0.1:9101"), 400, "a loopback address"},
		{"localhost upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://localhost:9101"), 400, "resolves to"},
		{"link-local upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://169.254.1.1:80"), 400, "link-local"},
		{"aws metadata upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://169.254.169.254:80"), 400, "metadata"},
		{"aws ipv6 metadata upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://[fd00:ec2::254]:80"), 400, "metadata"},
		{"alibaba metadata upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://100.100.100.200:80"), 400, "metadata"},
		{"google metadata upstream", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstream", "http://metadata.google.internal:80"), 400, "metadata"},
		{"colliding path prefix", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("path_prefix", "/api/marriage/records/"), 400, `path_prefix: "/api/marriage/records/" overlaps`},
		{"prefix inside another's", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("path_prefix", "/api/enterprise/companies/branches/"), 400, `of provider "xm-market-regulation"`},
		{"unparsable field path", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("fields", []any{map[string]any{"path": "owner.#(age>", "class": "name"}}), 400, "fields[0].path: "},
		{"invalid share attribute", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("share", "sometimes"), 400, `share: invalid share attribute "sometimes"`},
		{"not shared without legal basis", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("share", "not_shared"), 400, "legal_basis: missing"},
		{"unknown JSON field", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("upstrem", "http://10.0.0.5:8080"), 400, `unknown field "upstrem"`},
		{"body not JSON", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			"id=population.pets", 400, "must be a JSON object"},
		{"identity number as id", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("id", person), 400, "id: the id is a resident identity number"},
		{"register existing id", "POST", "/registry/resources", "KEY_PROVIDER_PUBLIC_SECURITY",
			with("id", "population.person"), 409, "already registered"},
		{"update unknown id", "PUT", "/registry/resources/population.pets", "KEY_PROVIDER_PUBLIC_SECURITY",
			good, 404, "not found"},
		{"body id differs from path", "PUT", "/registry/resources/population.person", "KEY_PROVIDER_PUBLIC_SECURITY",
			good, 400, "differs from the path's"},
		{"wrong method", "PATCH", "/registry/resources/population.person", "KEY_PROVIDER_PUBLIC_SECURITY",
			nil, 405, "use GET, PUT, DELETE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			version, digest := registryState(t, s)
			r := registryDo(t, s, s.base, tc.method, tc.path, tc.key, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.json["request_id"] == "" || r.json["error"] == "" {
				t.Errorf("refusal lacks error or request_id: %s", r.body)
			}
			text := strings.Join(append(r.reasons(), fmt.Sprint(r.json["error"])), "\n")
			if !strings.Contains(text, tc.reason) {
				t.Errorf("refusal does not contain %q:\n%s", tc.reason, r.body)
			}
			if strings.Contains(string(r.body), person) {
				t.Errorf("refusal quotes an identity number: %s", r.body)
			}
			afterVersion, afterDigest := registryState(t, s)
			if afterVersion != version {
				t.Errorf("R:version changed from %s to %s", version, afterVersion)
			}
			if afterDigest != digest {
				t.Error("the registry's resources changed")
			}
		})
	}

	// Every refusal above left an audit record naming no identity number.
	if dump := s.redisDump(); rawID.Match([]byte(dump)) {
		t.Error("Redis holds a raw identity number")
	}
}

// TestRegistryUpdateAndList updates a resource and lists what each caller
// may read.
func TestRegistryUpdateAndList(t *testing.T) {
	s := startStack(t, stackOptions{upstreamAllow: "127.0.0.0/8"})

	got := registryDo(t, s, s.base, http.MethodGet, "/registry/resources/population.person",
		"KEY_PROVIDER_PUBLIC_SECURITY", nil)
	if got.status != http.StatusOK {
		t.Fatalf("get: status %d: %s", got.status, got.body)
	}
	res := got.json["resource"].(map[string]any)
	res["name"] = "人口登记信息（个人，更新）"
	upd := registryDo(t, s, s.base, http.MethodPut, "/registry/resources/population.person",
		"KEY_PROVIDER_PUBLIC_SECURITY", res)
	if upd.status != http.StatusOK {
		t.Fatalf("update: status %d: %s", upd.status, upd.body)
	}
	if changes := fmt.Sprint(upd.json["changes"]); changes != "[name]" {
		t.Errorf("changes = %s, want [name]", changes)
	}

	tests := []struct {
		name string
		key  string
		want int // resources listed
	}{
		{"operator sees all", "KEY_OPERATOR", 7},
		{"provider sees its own", "KEY_PROVIDER_PUBLIC_SECURITY", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list := registryDo(t, s, s.base, http.MethodGet, "/registry/resources", tc.key, nil)
			if list.status != http.StatusOK {
				t.Fatalf("list: status %d: %s", list.status, list.body)
			}
			resources, _ := list.json["resources"].([]any)
			if len(resources) != tc.want {
				t.Errorf("listed %d resources, want %d", len(resources), tc.want)
			}
		})
	}
	if list := registryDo(t, s, s.base, http.MethodGet, "/registry/resources", "KEY_SIMING_CIVIL", nil); list.status != http.StatusForbidden {
		t.Errorf("consumer list: status %d, want 403", list.status)
	}
}

// TestRegistryCommands drives the provider workflow with the CLI.
func TestRegistryCommands(t *testing.T) {
	s := startStack(t, stackOptions{upstreamAllow: "127.0.0.0/8"})
	dir := t.TempDir()
	file := filepath.Join(dir, "pets.json")
	data, _ := json.Marshal(petsResource(petsUpstream(t)))
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	data, _ = json.Marshal(withField(petsResource("http://169.254.169.254:80"), "id", "population.bad"))
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(key string, args ...string) (string, string, error) {
		cmd := exec.Command(gatewayBin, append([]string{"data-gateway"}, args...)...)
		cmd.Env = append(os.Environ(), "DATA_GATEWAY_KEY="+key)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	police := s.keys["KEY_PROVIDER_PUBLIC_SECURITY"]

	out, errOut, err := run(police, "register", file, "--gateway", s.base)
	if err != nil {
		t.Fatalf("register: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, `"action": "register"`) {
		t.Errorf("register printed no version record:\n%s", out)
	}
	pollStatus(t, s, s.base, "/api/population/pets/7", http.StatusOK, time.Second)

	out, errOut, err = run("", "list", "--gateway", s.base, "--key", police)
	if err != nil {
		t.Fatalf("list: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "population.pets") {
		t.Errorf("list does not show the registered resource:\n%s", out)
	}

	_, errOut, err = run(police, "register", bad, "--gateway", s.base)
	if err == nil {
		t.Fatal("register of a metadata upstream succeeded")
	}
	if !strings.Contains(errOut, `"reasons"`) || !strings.Contains(errOut, "metadata") {
		t.Errorf("register refusal did not print the gateway's JSON error:\n%s", errOut)
	}

	if _, errOut, err = run(police, "retire", "population.pets", "--gateway", s.base); err != nil {
		t.Fatalf("retire: %v\n%s", err, errOut)
	}
	out, errOut, err = run(police, "history", "population.pets", "--gateway", s.base)
	if err != nil {
		t.Fatalf("history: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, `"action": "retire"`) {
		t.Errorf("history does not show the retirement:\n%s", out)
	}
	if strings.Contains(out+errOut, police) {
		t.Error("a command printed the API key")
	}
}

func withField(resource map[string]any, field string, value any) map[string]any {
	resource[field] = value
	return resource
}

// TestRegistryWithoutRedis runs a gateway without Redis: it serves the
// catalogue file, and the registry API responds with 503.
func TestRegistryWithoutRedis(t *testing.T) {
	dir := t.TempDir()
	s := &stack{t: t, logs: new(syncBuffer), dir: dir}
	s.keys = readKeys(t, filepath.Join(repoRoot, "examples", "demo-keys.env"))
	addr := freeAddr(t)
	caddyfile := fmt.Sprintf(`{
	default_bind 127.0.0.1
	admin %s
	data_gateway {
		catalogue %s
		policies %s
		spool_dir %s
		hmac_key {env.DATA_GATEWAY_HMAC_KEY}
	}
}

http://%s {
	handle /registry/* {
		data_gateway_registry
	}
	handle {
		data_gateway
		reverse_proxy {
			dynamic data_gateway
		}
	}
}
`, freeAddr(t), filepath.Join(repoRoot, "examples", "catalogue.json"),
		filepath.Join(repoRoot, "policies"), filepath.Join(dir, "spool"), addr)
	cfPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfPath, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	s.base = "http://" + addr
	s.startGateway(cfPath, dir)

	r := registryDo(t, s, s.base, http.MethodGet, "/registry/resources", "KEY_OPERATOR", nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.status, r.body)
	}
	if msg := fmt.Sprint(r.json["error"]); !strings.Contains(msg, "no Redis configured") {
		t.Errorf("error %q does not say Redis is not configured", msg)
	}
	// The data path serves the file catalogue: a path it has no resource
	// for is 404, not 503.
	pollStatus(t, s, s.base, "/api/population/pets/1", http.StatusNotFound, 5*time.Second)
}

// TestRegistryRejectsInvalidSnapshot writes an invalid resource to Redis
// behind the registry API's back and announces it: the gateway must log
// the rejection and keep serving the catalogue it had.
func TestRegistryRejectsInvalidSnapshot(t *testing.T) {
	s := startStack(t, stackOptions{})
	ctx := context.Background()
	const path = "/api/population/census/350203"
	pollStatus(t, s, s.base, path, http.StatusOK, 5*time.Second)

	broken := `{"id":"population.broken","provider":"xm-public-security",` +
		`"path_prefix":"/api/population/","upstream":"ftp://10.0.0.5:21",` +
		`"share":"unconditional","open":"not_open"}`
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, registryPrefix+":resources", "population.broken", broken)
	version := pipe.Incr(ctx, registryPrefix+":version")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s.rdb.Publish(ctx, registryPrefix+":changes", version.Val())

	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(s.logs.String(), "registry snapshot rejected, keeping the running catalogue") {
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not log the rejected snapshot within 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pollStatus(t, s, s.base, path, http.StatusOK, 0)
	if !strings.Contains(s.logs.String(), `(id \"population.broken\"): upstream: \"ftp://10.0.0.5:21\" must use http or https`) {
		t.Errorf("the rejection log does not name the invalid entry:\n%s", s.logs.String())
	}
}
