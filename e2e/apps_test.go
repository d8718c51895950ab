package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syncBound is how soon every instance must apply a registry change: the
// sync polls the registry version every second, and pub/sub is faster.
// The margin covers the polling request itself on a loaded machine.
const syncBound = 1500 * time.Millisecond

// registrySite is the site block that serves the registry API beside the
// data API.
const registrySite = `
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
`

// startRegistryStack starts the demo stack with the registry API, and a
// second gateway instance on the same Redis and providers, with its own
// address, admin endpoint and spool.
func startRegistryStack(t *testing.T) (*stack, *stack) {
	t.Helper()
	s := startStack(t, stackOptions{})
	global, _, ok := strings.Cut(s.caddyfile, "\nhttp://")
	if !ok {
		t.Fatalf("the harness Caddyfile has no http:// site:\n%s", s.caddyfile)
	}
	if !strings.Contains(s.caddyfile, "data_gateway_registry") {
		cf := global + fmt.Sprintf(registrySite, strings.TrimPrefix(s.base, "http://"))
		if err := s.load(cf); err != nil {
			t.Fatalf("loading the registry site: %v", err)
		}
		s.caddyfile = cf
	}

	second := *s
	second.logs = new(syncBuffer)
	second.dir = t.TempDir()
	second.spoolDir = filepath.Join(second.dir, "spool")
	addr, admin := freeAddr(t), freeAddr(t)
	global2, _, _ := strings.Cut(s.caddyfile, "\nhttp://")
	global2 = strings.Replace(global2, "admin "+s.admin, "admin "+admin, 1)
	global2 = strings.Replace(global2, "spool_dir "+s.spoolDir, "spool_dir "+second.spoolDir, 1)
	second.caddyfile = global2 + fmt.Sprintf(registrySite, addr)
	second.base, second.admin = "http://"+addr, admin
	second.cfPath = filepath.Join(second.dir, "Caddyfile")
	if err := os.WriteFile(second.cfPath, []byte(second.caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	second.startGateway(second.cfPath, second.dir)
	return s, &second
}

// api sends one registry call with the named demo key and a JSON body (nil
// for none) and decodes the JSON response.
func api(t *testing.T, s *stack, method, path, keyName string, body any) result {
	t.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.base+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key(keyName))
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

func send(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, body: data}
	if len(data) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &r.json); err != nil {
			t.Fatalf("body is not a JSON object: %v\n%s", err, data)
		}
	}
	return r
}

func (s *stack) key(name string) string {
	s.t.Helper()
	key, ok := s.keys[name]
	if !ok {
		s.t.Fatalf("no demo key named %q in examples/demo-keys.env", name)
	}
	return key
}

// cli runs `caddy data-gateway <args>` against the stack's gateway with
// the named key and returns its standard output and error. It fails the
// test when the command's success differs from !wantFail.
func cli(t *testing.T, s *stack, keyName string, wantFail bool, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(gatewayBin, append([]string{"data-gateway"}, args...)...)
	cmd.Env = append(os.Environ(), "DATA_GATEWAY_KEY="+s.key(keyName), "DATA_GATEWAY_URL="+s.base)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if (err != nil) != wantFail {
		t.Fatalf("data-gateway %s: error %v, want failure %v\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), err, wantFail, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// waitStatus calls path on s until the status is want, failing the test
// after within, and returns how long that took.
func waitStatus(t *testing.T, s *stack, path, keyName, scenario string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := do(t, s, "GET", path, keyName, scenario)
		if r.status == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s on %s: status %d after %s, want %d; body: %s",
				path, s.base, r.status, within, want, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeJSONFile(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "application.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// marriageApplication is a share application of the water group for the
// marriage register, valid from validFrom for a year.
func marriageApplication(validFrom time.Time) map[string]any {
	return map[string]any{
		"kind":              "share",
		"resource":          "marriage.record",
		"scenario":          "social_assistance_review",
		"fields":            []string{"name", "marriage_status"},
		"valid_from":        validFrom.Format(time.RFC3339Nano),
		"valid_until":       validFrom.AddDate(1, 0, 0).Format(time.RFC3339),
		"purpose":           "水费减免对象核查：核验申请人的婚姻状况",
		"security_measures": "专线访问，结果仅存于业务系统，日志留存六个月",
	}
}

const marriagePath = "/api/marriage/records/" + person

func TestApplicationFlowTwoInstances(t *testing.T) {
	s, s2 := startRegistryStack(t)

	// Before any application, the water group has no grant.
	wantStatus(t, do(t, s, "GET", marriagePath, "KEY_WATER_GROUP", "social_assistance_review"), http.StatusForbidden)

	// The consumer applies through the CLI; the grant is to start a few
	// seconds from now.
	validFrom := time.Now().Add(4 * time.Second).Truncate(time.Second)
	out, _ := cli(t, s, "KEY_WATER_GROUP", false, "apply", writeJSONFile(t, marriageApplication(validFrom)))
	var app map[string]any
	if err := json.Unmarshal([]byte(out), &app); err != nil {
		t.Fatalf("apply output is not JSON: %v\n%s", err, out)
	}
	id, _ := app["id"].(string)
	if app["status"] != "pending" || id == "" {
		t.Fatalf("submitted application = %v, want a pending one with an id", app)
	}
	if app["decision_due"] == nil {
		t.Errorf("share application has no decision_due: %v", app)
	}

	t.Run("pending list shows it", func(t *testing.T) {
		r := api(t, s2, "GET", "/registry/applications?status=pending", "KEY_PROVIDER_CIVIL_AFFAIRS", nil)
		wantStatus(t, r, http.StatusOK)
		list, _ := r.json["applications"].([]any)
		if len(list) != 1 || field(list[0], "id") != id {
			t.Fatalf("pending applications = %v, want [%s]", list, id)
		}
		if field(list[0], "overdue") != false {
			t.Errorf("fresh application overdue = %v, want false", field(list[0], "overdue"))
		}
	})
	t.Run("other department cannot list it", func(t *testing.T) {
		r := api(t, s, "GET", "/registry/applications?status=pending", "KEY_PROVIDER_MARKET_REGULATION", nil)
		wantStatus(t, r, http.StatusOK)
		if list, _ := r.json["applications"].([]any); len(list) != 0 {
			t.Errorf("market regulation sees %d applications of civil affairs, want 0", len(list))
		}
	})
	t.Run("other department cannot approve", func(t *testing.T) {
		r := api(t, s, "POST", "/registry/applications/"+id+"/approve", "KEY_PROVIDER_MARKET_REGULATION", nil)
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(reasons(r), "only for its own department's resources") {
			t.Errorf("refusal reasons = %s, want the policy's department rule", reasons(r))
		}
	})
	t.Run("consumer cannot approve its own", func(t *testing.T) {
		r := api(t, s, "POST", "/registry/applications/"+id+"/approve", "KEY_WATER_GROUP", nil)
		wantStatus(t, r, http.StatusForbidden)
	})

	cli(t, s, "KEY_PROVIDER_CIVIL_AFFAIRS", false, "approve", id, "--per-day", "1000")
	grantID := "grant-" + id

	// Approved but not yet valid: refused on both instances until
	// valid_from, then served.
	// The grant reaches the second instance through the registry sync,
	// so ask until it is there (or valid_from is near).
	if time.Now().Before(validFrom.Add(-time.Second)) {
		var r result
		for deadline := time.Now().Add(syncBound); ; {
			r = do(t, s2, "GET", marriagePath, "KEY_WATER_GROUP", "social_assistance_review")
			if strings.Contains(reasons(r), "not valid until") || time.Now().After(deadline) ||
				!time.Now().Before(validFrom.Add(-time.Second)) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if time.Now().Before(validFrom.Add(-time.Second)) {
			wantStatus(t, r, http.StatusForbidden)
			if !strings.Contains(reasons(r), "not valid until") {
				t.Errorf("reasons before valid_from = %s, want not valid until", reasons(r))
			}
		}
	}
	time.Sleep(time.Until(validFrom))
	for _, inst := range []*stack{s, s2} {
		waitStatus(t, inst, marriagePath, "KEY_WATER_GROUP", "social_assistance_review", http.StatusOK, syncBound)
	}

	t.Run("revoke needs reason", func(t *testing.T) {
		_, stderr := cli(t, s, "KEY_PROVIDER_CIVIL_AFFAIRS", true, "revoke", grantID, "--reason", " ")
		if !strings.Contains(stderr, "missing --reason") {
			t.Errorf("stderr = %q, want missing --reason", stderr)
		}
		r := api(t, s, "POST", "/registry/grants/"+grantID+"/revoke", "KEY_PROVIDER_CIVIL_AFFAIRS",
			map[string]string{"reason": ""})
		wantStatus(t, r, http.StatusBadRequest)
	})

	r := api(t, s, "POST", "/registry/grants/"+grantID+"/revoke", "KEY_PROVIDER_CIVIL_AFFAIRS",
		map[string]string{"reason": "水务集团该项业务已停止"})
	wantStatus(t, r, http.StatusOK)
	revokedAt := time.Now()
	for _, inst := range []*stack{s2, s} {
		waitStatus(t, inst, marriagePath, "KEY_WATER_GROUP", "social_assistance_review", http.StatusForbidden, syncBound)
		t.Logf("%s refused the revoked grant %s after the revocation", inst.base, time.Since(revokedAt))
	}

	revoked, err := s.rdb.LRange(context.Background(), "{data_gateway:registry}:grants:revoked", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rec := range revoked {
		if strings.Contains(rec, grantID) && strings.Contains(rec, `"revoked_by":"xm-civil-affairs"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("revoked grants list %v has no record of %s by xm-civil-affairs", revoked, grantID)
	}

	t.Run("audit names every author", func(t *testing.T) {
		want := map[string]string{
			"application.submit":  "xm-water-group",
			"application.approve": "xm-civil-affairs",
			"grant.revoke":        "xm-civil-affairs",
		}
		recs := s.waitRecords(1, 5*time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for len(want) > 0 && time.Now().Before(deadline) {
			for _, rec := range recs {
				if author, ok := want[fmt.Sprint(rec["decision"])]; ok && rec["consumer"] == author {
					delete(want, fmt.Sprint(rec["decision"]))
				}
			}
			time.Sleep(100 * time.Millisecond)
			recs = s.auditRecords()
		}
		if len(want) > 0 {
			t.Errorf("audit stream lacks records for %v", want)
		}
	})
}

func TestApplicationRefusals(t *testing.T) {
	s, _ := startRegistryStack(t)
	submit := func(t *testing.T) string {
		t.Helper()
		r := api(t, s, "POST", "/registry/applications", "KEY_WATER_GROUP", marriageApplication(time.Now()))
		wantStatus(t, r, http.StatusCreated)
		return fmt.Sprint(r.json["id"])
	}

	t.Run("refusal requires reason", func(t *testing.T) {
		id := submit(t)
		for _, reason := range []string{"", "   \n "} {
			r := api(t, s, "POST", "/registry/applications/"+id+"/refuse", "KEY_PROVIDER_CIVIL_AFFAIRS",
				map[string]string{"reason": reason})
			wantStatus(t, r, http.StatusBadRequest)
		}
		_, stderr := cli(t, s, "KEY_PROVIDER_CIVIL_AFFAIRS", true, "refuse", id)
		if !strings.Contains(stderr, "missing --reason") {
			t.Errorf("refuse without --reason: stderr %q", stderr)
		}
		out, _ := cli(t, s, "KEY_PROVIDER_CIVIL_AFFAIRS", false, "refuse", id, "--reason", "用途不在共享条件列明的场景内")
		if !strings.Contains(out, `"status": "refused"`) || !strings.Contains(out, "用途不在共享条件列明的场景内") {
			t.Errorf("refuse output lacks the status or the reason:\n%s", out)
		}
		r := api(t, s, "POST", "/registry/applications/"+id+"/approve", "KEY_PROVIDER_CIVIL_AFFAIRS", nil)
		wantStatus(t, r, http.StatusConflict)
	})

	t.Run("kind must match consumer", func(t *testing.T) {
		app := marriageApplication(time.Now())
		app["kind"] = "open"
		r := api(t, s, "POST", "/registry/applications", "KEY_WATER_GROUP", app)
		wantStatus(t, r, http.StatusBadRequest)
	})

	t.Run("provider cannot apply", func(t *testing.T) {
		r := api(t, s, "POST", "/registry/applications", "KEY_PROVIDER_CIVIL_AFFAIRS", marriageApplication(time.Now()))
		wantStatus(t, r, http.StatusForbidden)
	})

	t.Run("unknown field rejected", func(t *testing.T) {
		app := marriageApplication(time.Now())
		app["consumer"] = "xm-housing-bureau"
		r := api(t, s, "POST", "/registry/applications", "KEY_WATER_GROUP", app)
		wantStatus(t, r, http.StatusBadRequest)
	})

	t.Run("open application needs first check", func(t *testing.T) {
		app := map[string]any{
			"kind": "open", "resource": "enterprise.registration", "scenario": "market_research",
			"valid_from": time.Now().Format(time.RFC3339), "valid_until": time.Now().AddDate(0, 6, 0).Format(time.RFC3339),
			"purpose": "行业分析", "security_measures": "加密存储", "provision": "API 接口",
		}
		r := api(t, s, "POST", "/registry/applications", "KEY_HAIXI_TRADING", app)
		wantStatus(t, r, http.StatusCreated)
		id := fmt.Sprint(r.json["id"])
		if r.json["check_due"] == nil {
			t.Errorf("open application has no check_due: %s", r.body)
		}
		r = api(t, s, "POST", "/registry/applications/"+id+"/approve", "KEY_PROVIDER_MARKET_REGULATION", nil)
		wantStatus(t, r, http.StatusConflict)
		r = api(t, s, "POST", "/registry/applications/"+id+"/check", "KEY_PROVIDER_CIVIL_AFFAIRS", nil)
		wantStatus(t, r, http.StatusForbidden)
		cli(t, s, "KEY_OPERATOR", false, "check", id)
		r = api(t, s, "POST", "/registry/applications/"+id+"/approve", "KEY_PROVIDER_MARKET_REGULATION", nil)
		wantStatus(t, r, http.StatusOK)
	})

	t.Run("unknown application", func(t *testing.T) {
		r := api(t, s, "POST", "/registry/applications/app-nope/check", "KEY_OPERATOR", nil)
		wantStatus(t, r, http.StatusNotFound)
	})
}

// ludao is the demo company with an open grant for the enterprise register,
// whose resource requires a clean credit record.
const (
	ludaoCreditCode = "91350200721875499B"
	enterprisePath  = "/api/enterprise/companies/" + company
)

func TestCreditImportRefusesListedApplicant(t *testing.T) {
	s, s2 := startRegistryStack(t)
	wantStatus(t, do(t, s2, "GET", enterprisePath, "KEY_LUDAO_DATA", "supplier_due_diligence"), http.StatusOK)
	dir := t.TempDir()

	t.Run("bad file names line and imports nothing", func(t *testing.T) {
		path := filepath.Join(dir, "bad.csv")
		data := "credit_code,list,since,source\n" +
			ludaoCreditCode + ",dishonest_debtor,2026-01-05,厦门市中级人民法院\n" +
			"91350200MA3MEBQL6Y,abnormal_operation,2026-01-05,市场监管局\n" +
			company + ",blacklist,2026-01-05,市场监管局\n"
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr := cli(t, s, "KEY_OPERATOR", true, "import-credit", path)
		for _, want := range []string{"line 3, column credit_code", "line 4, column list"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("CLI error lacks %q:\n%s", want, stderr)
			}
		}

		req, err := http.NewRequest("POST", s.base+"/registry/credit-lists", strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.key("KEY_OPERATOR"))
		req.Header.Set("Content-Type", "text/csv")
		r := send(t, req)
		wantStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(reasons(r), "line 3, column credit_code") {
			t.Errorf("API reasons lack the line: %s", reasons(r))
		}
		n, err := s.rdb.HLen(context.Background(), "{data_gateway:registry}:credit:dishonest_debtor").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("dishonest_debtor list has %d codes after a bad import, want the 1 seeded", n)
		}
		wantStatus(t, do(t, s2, "GET", enterprisePath, "KEY_LUDAO_DATA", "supplier_due_diligence"), http.StatusOK)
	})

	t.Run("provider cannot import", func(t *testing.T) {
		path := filepath.Join(dir, "one.csv")
		data := "credit_code,list,since,source\n" + ludaoCreditCode + ",dishonest_debtor,2026-01-05,法院\n"
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr := cli(t, s, "KEY_PROVIDER_MARKET_REGULATION", true, "import-credit", path)
		if !strings.Contains(stderr, "403") {
			t.Errorf("provider import: stderr %q, want a 403", stderr)
		}
	})

	path := filepath.Join(dir, "good.csv")
	data := "credit_code,list,since,source\n" + ludaoCreditCode + ",dishonest_debtor,2026-01-05,厦门市中级人民法院\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, s, "KEY_OPERATOR", false, "import-credit", path)
	imported := time.Now()
	took := waitStatus(t, s2, enterprisePath, "KEY_LUDAO_DATA", "supplier_due_diligence", http.StatusForbidden, syncBound)
	t.Logf("the other instance refused the newly listed company %s after the import", took)
	r := do(t, s2, "GET", enterprisePath, "KEY_LUDAO_DATA", "supplier_due_diligence")
	if !strings.Contains(strings.ToLower(reasons(r)), "dishonest") {
		t.Errorf("refusal reasons = %s, want the dishonest judgment debtor list named", reasons(r))
	}
	if since := time.Since(imported); since > 5*time.Second {
		t.Errorf("import to refusal took %s", since)
	}
}
