// Package e2e runs the real gateway binary, built from cmd/datagateway, with
// a real Caddyfile in front of the demo providers and a real redis-server,
// and checks what consumers, Redis and the logs see.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/internal/redistest"
)

// Binaries built once for the whole package, unless CI passes prebuilt ones
// in DATA_GATEWAY_BIN and DATA_GATEWAY_PROVIDERS_BIN.
var (
	gatewayBin   string
	providersBin string
	repoRoot     string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding repository root:", err)
		return 1
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "datagateway-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "making temp folder:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	gatewayBin = os.Getenv("DATA_GATEWAY_BIN")
	if gatewayBin == "" {
		gatewayBin = filepath.Join(tmp, "datagateway")
		if err := goBuild(gatewayBin, "./cmd/datagateway"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	providersBin = os.Getenv("DATA_GATEWAY_PROVIDERS_BIN")
	if providersBin == "" {
		providersBin = filepath.Join(tmp, "providers")
		if err := goBuild(providersBin, "./examples/providers"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

// stack is one running demo: Redis, the providers and the gateway.
type stack struct {
	t        *testing.T
	redis    *redistest.Server
	rdb      *redis.Client
	base     string // gateway base URL
	spoolDir string
	keys     map[string]string // demo key name -> API key
	logs     *syncBuffer       // gateway stdout and stderr
	gateway  *exec.Cmd
	// admin is the host:port of Caddy's admin endpoint, and caddyfile the
	// text the gateway started with, for tests that reload the config.
	admin     string
	caddyfile string
	// dir is the stack's temp folder and cfPath its Caddyfile, for tests
	// that stop the gateway and start it again.
	dir    string
	cfPath string
	// policies is the policy folder the gateway runs.
	policies string
	// peer is the second gateway instance on the same Redis, when the
	// options ask for one.
	peer *peerGateway
}

// peerGateway is a second gateway process with its own address, admin
// endpoint, spool and data folders, sharing Redis and the catalogue file
// with the first.
type peerGateway struct {
	base    string
	logs    *syncBuffer
	gateway *exec.Cmd
}

type stackOptions struct {
	maxBody string
	// upstreamTimeout sets the upstream_timeout option; default 10s.
	upstreamTimeout string
	// spoolMax sets the data_gateway spool_max option; empty keeps the
	// default.
	spoolMax string
	// resources are extra catalogue resources, appended to the example
	// catalogue's.
	resources []map[string]any
	// ownPolicies copies policies/ into the stack's temp folder and runs
	// the copy, so a test can edit it.
	ownPolicies bool
	// dryRunPolicies sets the data_gateway dry_run_policies option.
	dryRunPolicies string
	// browserAdmin lets a browser open pages on the admin endpoint: it
	// adds the empty origin, which a typed address sends, to the admin
	// origins.
	browserAdmin bool
	// grants are extra catalogue grants, appended to the example
	// catalogue's.
	grants []map[string]any
	// upstreamAllow sets the data_gateway upstream_allow option, the
	// networks registered upstreams may use; empty allows none.
	upstreamAllow string
	// peer starts a second gateway instance on the same Redis.
	peer bool
	// mtls serves the gateway over HTTPS on localhost, asking clients for
	// a certificate signed by mtls.caFile.
	mtls *mtlsFiles
	// consumerCerts sets cert_sha256 on the named catalogue consumers.
	consumerCerts map[string]string
}

// mtlsFiles are the PEM files of an HTTPS site with client certificates.
type mtlsFiles struct {
	serverCert, serverKey, caFile string
}

const hmacKey = "e2e-hmac-key-0123456789abcdef0123456789"

func startStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	if opts.maxBody == "" {
		opts.maxBody = "1MiB"
	}
	if opts.upstreamTimeout == "" {
		opts.upstreamTimeout = "10s"
	}
	dir := t.TempDir()
	s := &stack{t: t, spoolDir: filepath.Join(dir, "spool"), logs: new(syncBuffer)}
	s.redis = redistest.Start(t)
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	t.Cleanup(func() { s.rdb.Close() })
	s.keys = readKeys(t, filepath.Join(repoRoot, "examples", "demo-keys.env"))

	ports := map[string]string{}
	var flags []string
	for _, dept := range []string{"population", "marriage", "enterprise", "housing-fund", "emergency"} {
		addr := freeAddr(t)
		ports[dept] = addr
		flags = append(flags, "-"+dept, addr)
	}
	s.startProviders(flags, ports)

	catalogue := rewriteCatalogue(t, dir, ports, opts.resources)
	if len(opts.consumerCerts) > 0 {
		setConsumerCerts(t, catalogue, opts.consumerCerts)
	}
	if len(opts.grants) > 0 {
		appendGrants(t, catalogue, opts.grants)
	}
	spoolMax := ""
	if opts.spoolMax != "" {
		spoolMax = "\n\t\tspool_max " + opts.spoolMax
	}
	s.policies = filepath.Join(repoRoot, "policies")
	if opts.ownPolicies {
		s.policies = filepath.Join(dir, "policies")
		copyTree(t, filepath.Join(repoRoot, "policies"), s.policies)
	}
	dryRun := ""
	if opts.dryRunPolicies != "" {
		dryRun = "\n\t\tdry_run_policies " + opts.dryRunPolicies
	}
	upstreamAllow := ""
	if opts.upstreamAllow != "" {
		upstreamAllow = "\n\t\tupstream_allow " + opts.upstreamAllow
	}
	gwAddr := freeAddr(t)
	adminAddr := freeAddr(t)
	adminOrigins := ""
	if opts.browserAdmin {
		_, port, _ := net.SplitHostPort(adminAddr)
		adminOrigins = fmt.Sprintf(" {\n\t\torigins %s localhost:%s \"\"\n\t}", adminAddr, port)
	}
	siteAddress, siteTLS := "http://"+gwAddr, ""
	if opts.mtls != nil {
		_, port, _ := net.SplitHostPort(gwAddr)
		siteAddress = "https://localhost:" + port
		siteTLS = fmt.Sprintf(`
	tls %s %s {
		client_auth {
			mode verify_if_given
			trust_pool file %s
		}
	}`, opts.mtls.serverCert, opts.mtls.serverKey, opts.mtls.caFile)
	}
	caddyfile := fmt.Sprintf(`{
	default_bind 127.0.0.1
	admin %s%s
	data_gateway {
		catalogue %s
		policies %s%s
		redis %s
		audit_stream data_gateway:audit
		spool_dir %s%s
		hmac_key {env.DATA_GATEWAY_HMAC_KEY}
		max_body %s
		upstream_timeout %s%s
	}
}

%s {%s
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
`, adminAddr, adminOrigins, catalogue, s.policies, dryRun, s.redis.Addr,
		s.spoolDir, spoolMax, opts.maxBody, opts.upstreamTimeout, upstreamAllow,
		siteAddress, siteTLS)
	cfPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfPath, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	s.base = siteAddress
	s.admin = adminAddr
	s.caddyfile = caddyfile
	s.dir, s.cfPath = dir, cfPath
	s.startGateway(cfPath, dir)
	if opts.peer {
		s.startPeer(caddyfile, gwAddr, adminAddr)
	}
	return s
}

// startPeer starts a second gateway from the first one's Caddyfile, with
// its own site address, admin address and spool, after the first has
// seeded the registry.
func (s *stack) startPeer(caddyfile, gwAddr, adminAddr string) {
	t := s.t
	dir := filepath.Join(s.dir, "peer")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	peerAddr, peerAdmin := freeAddr(t), freeAddr(t)
	text := strings.Replace(caddyfile, "admin "+adminAddr, "admin "+peerAdmin, 1)
	text = strings.Replace(text, "http://"+gwAddr+" {", "http://"+peerAddr+" {", 1)
	text = strings.Replace(text, "spool_dir "+s.spoolDir, "spool_dir "+filepath.Join(dir, "spool"), 1)
	cfPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	p := &peerGateway{base: "http://" + peerAddr, logs: new(syncBuffer)}
	cmd := exec.Command(gatewayBin, "run", "--config", cfPath, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATA_GATEWAY_HMAC_KEY="+hmacKey,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting peer gateway: %v", err)
	}
	p.gateway = cmd
	s.peer = p
	t.Cleanup(func() {
		stopProcess(cmd)
		if t.Failed() {
			t.Logf("peer gateway log:\n%s", p.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", peerAddr)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer gateway did not start within 30s: %v\n%s", err, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *stack) startProviders(flags []string, ports map[string]string) {
	t := s.t
	cmd := exec.Command(providersBin, flags...)
	cmd.Stdout = s.logsFor("providers")
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting providers: %v", err)
	}
	t.Cleanup(func() { stopProcess(cmd) })
	for _, addr := range ports {
		waitHTTP(t, "http://"+addr+"/healthz")
	}
}

func (s *stack) startGateway(caddyfile, dir string) {
	t := s.t
	cmd := exec.Command(gatewayBin, "run", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATA_GATEWAY_HMAC_KEY="+hmacKey,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	s.gateway = cmd
	t.Cleanup(func() {
		stopProcess(cmd)
		if t.Failed() {
			t.Logf("gateway log:\n%s", s.logs.String())
		}
	})
	// A TCP probe, not an HTTP one: every HTTP request would leave an
	// audit record and upset the tests' counts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", s.hostPort())
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start within 30s: %v\n%s", err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restartGateway stops the gateway as an operator would, with SIGINT,
// and starts it again with the same Caddyfile, spool and address.
func (s *stack) restartGateway() {
	s.t.Helper()
	stopProcess(s.gateway)
	s.startGateway(s.cfPath, s.dir)
}

// hostPort is the gateway's listening address.
func (s *stack) hostPort() string {
	u, err := url.Parse(s.base)
	if err != nil {
		s.t.Fatalf("parsing gateway base %q: %v", s.base, err)
	}
	return u.Host
}

// setConsumerCerts sets cert_sha256 on catalogue consumers by id.
func setConsumerCerts(t *testing.T, path string, certs map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parsing catalogue: %v", err)
	}
	consumers, _ := doc["consumers"].([]any)
	for _, c := range consumers {
		entry, _ := c.(map[string]any)
		if digest, ok := certs[fmt.Sprint(entry["id"])]; ok {
			entry["cert_sha256"] = digest
		}
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) logsFor(name string) *prefixWriter {
	return &prefixWriter{t: s.t, prefix: name}
}

// request sends one call as the named demo consumer ("" sends no key).
func (s *stack) request(method, path, keyName, scenario string, header ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if keyName != "" {
		key, ok := s.keys[keyName]
		if !ok {
			s.t.Fatalf("no demo key named %q in examples/demo-keys.env", keyName)
		}
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if scenario != "" {
		req.Header.Set("X-Data-Scenario", scenario)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// auditRecords returns every audit record in the stream, as field maps.
func (s *stack) auditRecords() []map[string]any {
	s.t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), "data_gateway:audit", "-", "+").Result()
	if err != nil {
		s.t.Fatalf("reading audit stream: %v", err)
	}
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Values
	}
	return out
}

// waitRecords waits until the stream holds at least n records.
func (s *stack) waitRecords(n int, within time.Duration) []map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		recs := s.auditRecords()
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisDump returns every key and value in Redis as text, to search for
// values that must never be stored.
func (s *stack) redisDump() string {
	s.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	keys, err := s.rdb.Keys(ctx, "*").Result()
	if err != nil {
		s.t.Fatalf("listing redis keys: %v", err)
	}
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('\n')
		typ, _ := s.rdb.Type(ctx, k).Result()
		switch typ {
		case "stream":
			msgs, _ := s.rdb.XRange(ctx, k, "-", "+").Result()
			for _, m := range msgs {
				fmt.Fprintln(&b, m.Values)
			}
		case "hash":
			h, _ := s.rdb.HGetAll(ctx, k).Result()
			fmt.Fprintln(&b, h)
		case "string":
			v, _ := s.rdb.Get(ctx, k).Result()
			b.WriteString(v)
		case "set":
			v, _ := s.rdb.SMembers(ctx, k).Result()
			fmt.Fprintln(&b, v)
		}
	}
	return b.String()
}

func readKeys(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening demo keys: %v", err)
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, val, ok := strings.Cut(line, "=")
		if ok {
			keys[name] = strings.Trim(val, `"'`)
		}
	}
	return keys
}

// rewriteCatalogue copies the example catalogue with each provider's
// upstream pointed at the port the test started it on, and the extra
// resources appended.
func rewriteCatalogue(t *testing.T, dir string, ports map[string]string, extra []map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "catalogue.json"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{
		"population": "127.0.0.1:9101", "marriage": "127.0.0.1:9102",
		"enterprise": "127.0.0.1:9103", "housing-fund": "127.0.0.1:9104",
		"emergency": "127.0.0.1:9105",
	}
	text := string(data)
	for dept, old := range defaults {
		text = strings.ReplaceAll(text, "http://"+old, "http://"+ports[dept])
	}
	if len(extra) > 0 {
		text = appendResources(t, text, extra)
	}
	path := filepath.Join(dir, "catalogue.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func appendResources(t *testing.T, text string, extra []map[string]any) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("parsing example catalogue: %v", err)
	}
	resources, _ := doc["resources"].([]any)
	for _, r := range extra {
		resources = append(resources, r)
	}
	doc["resources"] = resources
	doc["providers"] = withProviders(doc["providers"], extra)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatalf("encoding catalogue: %v", err)
	}
	return string(out)
}

// withProviders adds a provider entry for each department that the extra
// resources name and the catalogue does not list, since every resource
// must name a listed provider. Each gets a key digest no test knows the key
// of.
func withProviders(listed any, extra []map[string]any) []any {
	providers, _ := listed.([]any)
	known := map[string]bool{}
	for _, p := range providers {
		if entry, ok := p.(map[string]any); ok {
			known[fmt.Sprint(entry["id"])] = true
		}
	}
	for _, r := range extra {
		id, _ := r["provider"].(string)
		if id == "" || known[id] {
			continue
		}
		known[id] = true
		digest := sha256.Sum256([]byte("e2e provider " + id))
		providers = append(providers, map[string]any{
			"id": id, "role": "provider", "api_key_sha256": hex.EncodeToString(digest[:]),
		})
	}
	return providers
}

// copyTree copies the .rego files under src to dst, keeping their paths.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, entry os.DirEntry, err error) error {
		if err != nil || entry.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 15s: %v", url, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// syncBuffer collects a process's output; the test reads it while the
// process still writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// prefixWriter forwards a helper process's output to the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Logf("%s: %s", w.prefix, strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
