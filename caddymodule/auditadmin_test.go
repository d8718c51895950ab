package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/policy"
)

const (
	testPerson  = "350203196804140613"
	testCompany = "91350200MA3MEBQL6X"
)

func testSubjectApp() *App {
	return &App{subjectMAC: deriveKey("console-test-hmac-key-0123456789abcdef", "subject")}
}

func TestSubjectKind(t *testing.T) {
	tests := []struct {
		name, raw, kind    string
		wantKind, wantCode string
	}{
		{"identity number", testPerson, "", subjectIDNumber, testPerson},
		{"credit code", testCompany, "", subjectCreditCode, testCompany},
		{"identity number with kind", testPerson, subjectIDNumber, subjectIDNumber, testPerson},
		{"lowercase check character", "11010519491231002x", "", subjectIDNumber, "11010519491231002X"},
		{"surrounding spaces", "  " + testPerson + "\n", "", subjectIDNumber, testPerson},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, value, err := subjectKind(tt.raw, tt.kind)
			if err != nil {
				t.Fatalf("subjectKind: %v", err)
			}
			if kind != tt.wantKind {
				t.Errorf("kind = %q, want %q", kind, tt.wantKind)
			}
			if value != tt.wantCode {
				t.Errorf("canonical value differs from %q", tt.wantCode)
			}
		})
	}
}

func TestSubjectKindRejects(t *testing.T) {
	tests := []struct {
		name, raw, kind, want string
	}{
		{"bad check digit", "350203196804140614", "", "check character"},
		{"too short", "35020319680414061", "", "18 characters"},
		{"credit code given as identity number", testCompany, subjectIDNumber, "invalid subject"},
		{"identity number given as credit code", "350203196804140614", subjectCreditCode, "invalid subject"},
		{"unknown kind", testPerson, "passport", `invalid subject_kind "passport"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := subjectKind(tt.raw, tt.kind)
			if err == nil {
				t.Fatal("subjectKind accepted the subject")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(tt.raw)) {
				t.Errorf("error %q contains the raw subject", err)
			}
		})
	}
}

func TestAuditQueryFilterHashesSubject(t *testing.T) {
	app := testSubjectApp()
	f, err := auditQuery{Subject: testPerson}.filter(app.subjectHash, time.Now())
	if err != nil {
		t.Fatalf("filter: %v", err)
	}
	if want := app.subjectHash(subjectIDNumber, testPerson); f.SubjectHash != want {
		t.Errorf("SubjectHash = %q, want the gateway's hash %q", f.SubjectHash, want)
	}
	if strings.Contains(f.SubjectHash, testPerson) {
		t.Error("filter holds the raw subject")
	}
}

func TestAuditQueryFilter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		query auditQuery
		check func(audit.Filter) bool
	}{
		{"relative since", auditQuery{Since: "24h"},
			func(f audit.Filter) bool { return f.Since.Equal(now.Add(-24 * time.Hour)) }},
		{"days", auditQuery{Since: "7d"},
			func(f audit.Filter) bool { return f.Since.Equal(now.Add(-7 * 24 * time.Hour)) }},
		{"RFC 3339 until", auditQuery{Until: "2025-03-01T08:00:00+08:00"},
			func(f audit.Filter) bool { return f.Until.Equal(now.Add(-12 * time.Hour)) }},
		{"status and limit", auditQuery{Status: "403", Limit: "5"},
			func(f audit.Filter) bool { return f.Status == 403 && f.Limit == 5 }},
		{"uppercase subject hash", auditQuery{SubjectHash: strings.Repeat("AB", 16)},
			func(f audit.Filter) bool { return f.SubjectHash == strings.Repeat("ab", 16) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.query.filter(testSubjectApp().subjectHash, now)
			if err != nil {
				t.Fatalf("filter: %v", err)
			}
			if !tt.check(f) {
				t.Errorf("unexpected filter %+v", f)
			}
		})
	}
}

func TestAuditQueryFilterRejects(t *testing.T) {
	tests := []struct {
		name  string
		query auditQuery
		want  string
	}{
		{"subject and hash", auditQuery{Subject: testPerson, SubjectHash: strings.Repeat("a", 32)}, "give one"},
		{"bad since", auditQuery{Since: "yesterday"}, `invalid since "yesterday"`},
		{"negative duration", auditQuery{Until: "-5h"}, `invalid until "-5h"`},
		{"bad status", auditQuery{Status: "forbidden"}, `invalid status "forbidden"`},
		{"bad limit", auditQuery{Limit: "all"}, `invalid limit "all"`},
		{"limit too large", auditQuery{Limit: "100000"}, "invalid limit"},
		{"bad decision", auditQuery{Decision: "permit"}, `invalid decision "permit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.query.filter(testSubjectApp().subjectHash, time.Now())
			if err == nil {
				t.Fatal("filter accepted the query")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestAuditRouteRejectsRawSubjectInURL(t *testing.T) {
	app := testSubjectApp()
	r := httptest.NewRequest(http.MethodGet, "/data_gateway/audit?subject="+testPerson, nil)
	err := serveAuditQuery(app, httptest.NewRecorder(), r)
	apiErr, ok := err.(caddy.APIError)
	if !ok {
		t.Fatalf("error = %v, want a caddy.APIError", err)
	}
	if apiErr.HTTPStatus != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", apiErr.HTTPStatus)
	}
	if strings.Contains(apiErr.Err.Error(), testPerson) {
		t.Errorf("error %q contains the raw subject", apiErr.Err)
	}
}

func TestAuditRouteWithoutRedis(t *testing.T) {
	app := testSubjectApp()
	body := strings.NewReader(`{"subject": "` + testPerson + `"}`)
	r := httptest.NewRequest(http.MethodPost, "/data_gateway/audit", body)
	r.Header.Set("Content-Type", "application/json")
	err := serveAuditQuery(app, httptest.NewRecorder(), r)
	apiErr, ok := err.(caddy.APIError)
	if !ok {
		t.Fatalf("error = %v, want a caddy.APIError", err)
	}
	if apiErr.HTTPStatus != http.StatusConflict {
		t.Errorf("status = %d, want 409", apiErr.HTTPStatus)
	}
}

func TestAuditRouteRejectsUnknownJSONField(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/data_gateway/audit", strings.NewReader(`{"consumr": "x"}`))
	r.Header.Set("Content-Type", "application/json")
	err := serveAuditQuery(testSubjectApp(), httptest.NewRecorder(), r)
	if apiErr, ok := err.(caddy.APIError); !ok || apiErr.HTTPStatus != http.StatusBadRequest {
		t.Errorf("error = %v, want 400", err)
	}
}

func writeTestCaddyfile(t *testing.T, option string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Caddyfile")
	text := "{\n\tdata_gateway {\n" + option + "\n\t}\n}\n\nhttp://127.0.0.1:0 {\n\tdata_gateway\n}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadAuditTargetExpandsPlaceholders(t *testing.T) {
	const key = "cli-test-hmac-key-0123456789abcdef0123"
	t.Setenv("DG_TEST_HMAC_KEY", key)
	t.Setenv("DG_TEST_REDIS", "127.0.0.1:6390")
	path := writeTestCaddyfile(t, `		catalogue /nowhere/catalogue.json
		redis {env.DG_TEST_REDIS}
		audit_stream dg:test
		hmac_key {env.DG_TEST_HMAC_KEY}`)

	target, err := loadAuditTarget(path, "")
	if err != nil {
		t.Fatalf("loadAuditTarget: %v", err)
	}
	defer target.client.Close()
	checks := []struct {
		name string
		ok   bool
	}{
		{"stream", target.stream == "dg:test"},
		{"redis address", target.app.Redis.Addrs[0] == "127.0.0.1:6390"},
		{"chain key", bytes.Equal(target.chainKey, deriveKey(key, "audit-chain"))},
		{"subject key", bytes.Equal(target.app.subjectMAC, deriveKey(key, "subject"))},
	}
	for _, ck := range checks {
		if !ck.ok {
			t.Errorf("%s differs from the gateway's", ck.name)
		}
	}
}

func TestLoadAuditTargetRejects(t *testing.T) {
	t.Setenv("DG_TEST_HMAC_KEY", "")
	tests := []struct {
		name, option, want string
	}{
		{"unset key variable", "\t\tcatalogue /c.json\n\t\tredis 127.0.0.1:1\n\t\thmac_key {env.DG_TEST_HMAC_KEY}",
			"set the environment variable"},
		{"no redis", "\t\tcatalogue /c.json\n\t\thmac_key 0123456789abcdef0123456789abcdef",
			"no redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadAuditTarget(writeTestCaddyfile(t, tt.option), "")
			if err == nil {
				t.Fatal("loadAuditTarget accepted the config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestReadSubjectFromStdin(t *testing.T) {
	got, err := readSubject("-", strings.NewReader(testPerson+"\n"))
	if err != nil {
		t.Fatalf("readSubject: %v", err)
	}
	if got != testPerson {
		t.Error("readSubject did not return the line read")
	}
	if _, err := readSubject("-", strings.NewReader("\n")); err == nil {
		t.Error("readSubject accepted an empty line")
	}
}

func TestPrintableStripsControlCharacters(t *testing.T) {
	if got := printable("ok\x1b[31mred\x07"); got != "ok?[31mred?" {
		t.Errorf("printable = %q", got)
	}
}

func TestGrantState(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		from, until time.Time
		want        string
	}{
		{"valid", now.AddDate(0, -1, 0), now.AddDate(0, 1, 0), grantValid},
		{"expired", now.AddDate(-1, 0, 0), now.AddDate(0, -1, 0), grantExpired},
		{"ends now", now.AddDate(-1, 0, 0), now, grantExpired},
		{"not yet valid", now.AddDate(0, 1, 0), now.AddDate(1, 0, 0), grantNotYetValid},
		{"starts now", now, now.AddDate(1, 0, 0), grantValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &catalog.Grant{ValidFrom: tt.from, ValidUntil: tt.until}
			if got := grantState(g, now); got != tt.want {
				t.Errorf("grantState = %q, want %q", got, tt.want)
			}
		})
	}
}

// stubFeed replaces the app's metrics and dry run. The e2e console test
// covers the real ones.
type stubFeed struct {
	snap          MetricsSnapshot
	disagreements []policy.Disagreement
}

func (s stubFeed) MetricsSnapshot() (MetricsSnapshot, error)  { return s.snap, nil }
func (s stubFeed) DryRunDisagreements() []policy.Disagreement { return s.disagreements }

func TestConsoleStatsTotalsAndOrder(t *testing.T) {
	feed := stubFeed{
		snap: MetricsSnapshot{Decisions: map[string]map[string]uint64{
			"population.person": {"allow": 3, "deny": 1},
			"marriage.record":   {"deny": 2, "error": 1},
		}},
		disagreements: []policy.Disagreement{{RequestID: "old"}, {RequestID: "new"}},
	}
	stats, err := newConsoleStats(feed, "dg:audit", audit.Stats{})
	if err != nil {
		t.Fatalf("newConsoleStats: %v", err)
	}
	totals, _ := json.Marshal(stats.Totals)
	if string(totals) != `{"allow":3,"deny":3,"error":1}` {
		t.Errorf("totals = %s", totals)
	}
	if stats.Disagreements[0].RequestID != "new" {
		t.Errorf("first disagreement = %q, want the newest", stats.Disagreements[0].RequestID)
	}
}

func TestConsoleFileRoute(t *testing.T) {
	tests := []struct {
		path       string
		wantStatus int
		wantType   string
	}{
		{"/data_gateway/console/console.js", http.StatusOK, "text/javascript; charset=utf-8"},
		{"/data_gateway/console/console.css", http.StatusOK, "text/css; charset=utf-8"},
		{"/data_gateway/console/index.html", http.StatusNotFound, ""},
		{"/data_gateway/console/../app.go", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := serveConsoleFile(nil, w, httptest.NewRequest(http.MethodGet, tt.path, nil))
			status := http.StatusOK
			if apiErr, ok := err.(caddy.APIError); ok {
				status = apiErr.HTTPStatus
			} else if err != nil {
				t.Fatalf("serveConsoleFile: %v", err)
			}
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", status, tt.wantStatus)
			}
			if tt.wantType != "" && w.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", w.Header().Get("Content-Type"), tt.wantType)
			}
			if tt.wantType != "" && !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
				t.Error("response has no restrictive Content-Security-Policy")
			}
		})
	}
}

func TestConsoleScriptNeverUsesInnerHTML(t *testing.T) {
	js, err := consoleFiles.ReadFile("console/console.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if bytes.Contains(js, []byte(sink)) {
			t.Errorf("console.js uses %s; set textContent instead", sink)
		}
	}
}
