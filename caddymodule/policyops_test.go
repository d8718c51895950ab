package caddymodule

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/policies"
)

// withdrawCensus refuses every read of population.census, a resource the
// embedded Rego tests never read, so a bundle with it still passes them.
const withdrawCensus = `package data_gateway

deny contains "resource population.census is withdrawn for review" if {
	input.resource.id == "population.census"
}
`

func copyPolicies(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS, ".", func(name string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		data, err := fs.ReadFile(policies.FS, name)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying policies: %v", err)
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(dir, "data_gateway", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// provisionApp provisions an App without Redis on a new Caddy context,
// as one config load does, and cleans both up at the end of the test.
func provisionApp(t *testing.T, policiesDir, dryRunDir string) (*App, caddy.Context) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	app := &App{
		Catalogue:      filepath.Join("..", "examples", "catalogue.json"),
		Policies:       policiesDir,
		DryRunPolicies: dryRunDir,
		SpoolDir:       t.TempDir(),
		HMACKey:        strings.Repeat("k", minHMACKeyLen),
	}
	if err := app.Provision(ctx); err != nil {
		cancel()
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() {
		if err := app.Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		cancel()
	})
	return app, ctx
}

// decideFor makes one decision through App.decide, as the handler does.
func decideFor(t *testing.T, app *App, consumerID, resourceID, scenario string) (policy.Decision, string) {
	t.Helper()
	st := app.live.state.Load()
	consumer := st.catalog.ConsumerByID(consumerID)
	resource := st.catalog.ResourceByID(resourceID)
	if consumer == nil || resource == nil {
		t.Fatalf("catalogue has no consumer %q or resource %q", consumerID, resourceID)
	}
	in := decisionInput(st.catalog, consumer, resource, policy.Request{
		Method: "GET", Path: resource.PathPrefix, Scenario: scenario,
	}, time.Now())
	decision, version, err := app.decide(context.Background(), st.resources[resource], &in, "test-1")
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	return decision, version
}

func gatherValue(t *testing.T, ctx caddy.Context, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatalf("gathering the config's metrics registry: %v", err)
	}
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
	metrics:
		for _, metric := range family.GetMetric() {
			for _, pair := range metric.GetLabel() {
				if want, ok := labels[pair.GetName()]; ok && want != pair.GetValue() {
					continue metrics
				}
			}
			return metric.GetCounter().GetValue() + metric.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsSurviveConfigReload(t *testing.T) {
	first, firstCtx := provisionApp(t, "", "")
	decideFor(t, first, "siming-civil-affairs", "population.census", "")
	labels := map[string]string{"result": "allow", "resource": "population.census"}
	before, ok := gatherValue(t, firstCtx, "data_gateway_decisions_total", labels)
	if !ok {
		t.Fatal("first config's registry has no data_gateway_decisions_total")
	}

	// A config reload provisions a new App on a new context while the old
	// one still runs.
	second, secondCtx := provisionApp(t, "", "")
	decideFor(t, second, "siming-civil-affairs", "population.census", "")
	after, ok := gatherValue(t, secondCtx, "data_gateway_decisions_total", labels)
	if !ok {
		t.Fatal("second config's registry has no data_gateway_decisions_total")
	}
	if after != before+1 {
		t.Errorf("decisions after reload = %v, want %v", after, before+1)
	}
	if err := second.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for _, name := range []string{
		"data_gateway_audit_queue_depth", "data_gateway_spool_bytes", "data_gateway_redis_errors_total",
	} {
		if _, ok := gatherValue(t, secondCtx, name, nil); !ok {
			t.Errorf("second config's registry has no %s", name)
		}
	}
}

func TestMetricsSnapshotCountsDecisions(t *testing.T) {
	app, _ := provisionApp(t, "", "")
	before, err := app.MetricsSnapshot()
	if err != nil {
		t.Fatalf("MetricsSnapshot: %v", err)
	}
	decideFor(t, app, "siming-civil-affairs", "civil.adoption", "")
	after, err := app.MetricsSnapshot()
	if err != nil {
		t.Fatalf("MetricsSnapshot: %v", err)
	}
	if got, want := after.Decisions["civil.adoption"]["deny"], before.Decisions["civil.adoption"]["deny"]+1; got != want {
		t.Errorf("Decisions[civil.adoption][deny] = %d, want %d", got, want)
	}
	if after.PolicyEvaluations != before.PolicyEvaluations+1 {
		t.Errorf("PolicyEvaluations = %d, want %d", after.PolicyEvaluations, before.PolicyEvaluations+1)
	}
	if after.PolicyVersion != app.live.engine.Load().Version() {
		t.Errorf("PolicyVersion = %q, want the running engine's", after.PolicyVersion)
	}
}

func TestCleanupStopsPolicyGoroutines(t *testing.T) {
	baseline := runtime.NumGoroutine()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := &App{
		Catalogue:      filepath.Join("..", "examples", "catalogue.json"),
		Policies:       copyPolicies(t, nil),
		DryRunPolicies: copyPolicies(t, map[string]string{"withdraw.rego": withdrawCensus}),
		SpoolDir:       t.TempDir(),
		HMACKey:        strings.Repeat("k", minHMACKeyLen),
	}
	if err := app.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if err := app.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := app.Cleanup(); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if err := app.Cleanup(); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines after Cleanup, %d before Provision:\n%s",
				runtime.NumGoroutine(), baseline, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDecideFeedsDryRun(t *testing.T) {
	dryRun := copyPolicies(t, map[string]string{"withdraw.rego": withdrawCensus})
	app, _ := provisionApp(t, "", dryRun)
	decideFor(t, app, "siming-civil-affairs", "population.census", "")
	decision, version := decideFor(t, app, "siming-civil-affairs", "population.person", "")

	if !decision.Allow {
		t.Error("the enforced decision on population.person is a refusal, want allow")
	}
	if version != app.live.engine.Load().Version() {
		t.Errorf("decide version = %q, want the running engine's", version)
	}
	deadline := time.Now().Add(5 * time.Second)
	for app.ops.dryRun.Stats().Evaluated < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := app.DryRunDisagreements()
	if len(got) != 1 {
		t.Fatalf("got %d disagreements, want 1: %+v", len(got), got)
	}
	if got[0].Resource != "population.census" {
		t.Errorf("disagreement resource = %q, want population.census", got[0].Resource)
	}
	if !got[0].Enforced.Allow {
		t.Error("disagreement: enforced outcome is a refusal, want allow")
	}
	if got[0].Candidate.Allow {
		t.Error("disagreement: candidate outcome allows, want a refusal")
	}
}

func TestProvisionRejectsBrokenDryRun(t *testing.T) {
	broken := copyPolicies(t, map[string]string{"broken.rego": "package data_gateway\n\n!!! not rego\n"})
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := &App{
		Catalogue:      filepath.Join("..", "examples", "catalogue.json"),
		DryRunPolicies: broken,
		SpoolDir:       t.TempDir(),
		HMACKey:        strings.Repeat("k", minHMACKeyLen),
	}
	err := app.Provision(ctx)
	app.Cleanup()
	if err == nil {
		t.Fatal("Provision accepted a dry-run folder that does not parse")
	}
	if want := filepath.Join(broken, "data_gateway", "broken.rego") + ":3"; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to name %q", err, want)
	}
}

func TestServeReload(t *testing.T) {
	dir := copyPolicies(t, nil)
	app, _ := provisionApp(t, dir, "")
	embedded, _ := provisionApp(t, "", "")
	share := filepath.Join(dir, "data_gateway", "share.rego")
	source, err := os.ReadFile(share)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		app        *App
		method     string
		target     string
		prepare    func()
		wantStatus int
		wantResult string
	}{
		{"embedded bundle", embedded, "POST", "/data_gateway/policies/reload", nil, http.StatusConflict, ""},
		{"get refused", app, "GET", "/data_gateway/policies/reload", nil, http.StatusMethodNotAllowed, ""},
		{"unknown bundle", app, "POST", "/data_gateway/policies/reload?bundle=x", nil, http.StatusBadRequest, ""},
		{"no dry run", app, "POST", "/data_gateway/policies/reload?bundle=dry_run", nil, http.StatusConflict, ""},
		{"unchanged", app, "POST", "/data_gateway/policies/reload", nil, http.StatusOK, policy.ReloadUnchanged},
		{"broken", app, "POST", "/data_gateway/policies/reload", func() {
			os.WriteFile(share, append([]byte("!!! not rego\n"), source...), 0o644)
		}, http.StatusUnprocessableEntity, policy.ReloadRejected},
		{"fixed", app, "POST", "/data_gateway/policies/reload", func() {
			os.WriteFile(share, source, 0o644)
			os.WriteFile(filepath.Join(dir, "data_gateway", "withdraw.rego"), []byte(withdrawCensus), 0o644)
		}, http.StatusOK, policy.ReloadApplied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare()
			}
			w := httptest.NewRecorder()
			err := serveReload(tt.app, w, httptest.NewRequest(tt.method, tt.target, nil))
			status := w.Code
			if apiErr, ok := err.(caddy.APIError); ok {
				status = apiErr.HTTPStatus
			} else if err != nil {
				t.Fatalf("serveReload: %v", err)
			}
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tt.wantStatus, w.Body)
			}
			if tt.wantResult == "" {
				return
			}
			var result policy.ReloadResult
			if err := json.Unmarshal(w.Body.Bytes(), &result); err != nil {
				t.Fatalf("decoding body: %v", err)
			}
			if result.Result != tt.wantResult {
				t.Errorf("result = %q, want %q", result.Result, tt.wantResult)
			}
			if tt.wantResult == policy.ReloadRejected {
				if len(result.Errors) == 0 || result.Errors[0].File != share || result.Errors[0].Row != 1 {
					t.Errorf("errors = %+v, want the first at %s line 1", result.Errors, share)
				}
			}
		})
	}
}

func TestServeExplain(t *testing.T) {
	app, _ := provisionApp(t, "", "")
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		wantStatus int
		wantAllow  bool
	}{
		{"allowed by query", "GET", "/data_gateway/explain?consumer=siming-civil-affairs&resource=population.census" +
			"&time=2026-03-01T09:30:00%2B08:00", "", http.StatusOK, true},
		{"refused by body", "POST", "/data_gateway/explain",
			`{"consumer": "siming-civil-affairs", "resource": "civil.adoption"}`, http.StatusOK, false},
		{"unknown consumer", "GET", "/data_gateway/explain?consumer=nobody&resource=population.census", "",
			http.StatusBadRequest, false},
		{"missing resource", "GET", "/data_gateway/explain?consumer=siming-civil-affairs", "",
			http.StatusBadRequest, false},
		{"bad time", "GET", "/data_gateway/explain?consumer=siming-civil-affairs&resource=population.census&time=tomorrow",
			"", http.StatusBadRequest, false},
		{"bad scenario", "GET", "/data_gateway/explain?consumer=siming-civil-affairs&resource=population.census&scenario=DROP%20TABLE",
			"", http.StatusBadRequest, false},
		{"path of another resource", "POST", "/data_gateway/explain",
			`{"consumer": "siming-civil-affairs", "resource": "civil.adoption", "path": "/api/population/census/350203"}`,
			http.StatusBadRequest, false},
		{"unknown field", "POST", "/data_gateway/explain", `{"consumer": "x", "api_key": "y"}`,
			http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := serveExplain(app, w, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
			status := w.Code
			if apiErr, ok := err.(caddy.APIError); ok {
				status = apiErr.HTTPStatus
			} else if err != nil {
				t.Fatalf("serveExplain: %v", err)
			}
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tt.wantStatus, w.Body)
			}
			if status != http.StatusOK {
				return
			}
			var report explainReport
			if err := json.Unmarshal(w.Body.Bytes(), &report); err != nil {
				t.Fatalf("decoding body: %v", err)
			}
			if report.Allow != tt.wantAllow {
				t.Errorf("allow = %v, want %v", report.Allow, tt.wantAllow)
			}
			if report.PolicyVersion != app.live.engine.Load().Version() {
				t.Errorf("policy_version = %q, want the running engine's", report.PolicyVersion)
			}
		})
	}
}

func TestExplainRedactsSubject(t *testing.T) {
	app, _ := provisionApp(t, "", "")
	st := app.live.state.Load()
	report, err := explain(context.Background(), st.catalog, app.live.engine.Load(), explainQuery{
		Consumer: "siming-civil-affairs",
		Path:     "/api/population/persons/350203196804140613",
	})
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	if strings.Contains(report.Path, "350203196804140613") {
		t.Errorf("report path holds the identity number: %q", report.Path)
	}
	if strings.Contains(string(report.Input), "350203196804140613") {
		t.Errorf("report input holds the identity number: %s", report.Input)
	}
	if report.Resource != "population.person" {
		t.Errorf("resource = %q, want population.person", report.Resource)
	}
}

func TestGlobalOptionDryRunPolicies(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    string
		wantErr bool
	}{
		{"folder", "data_gateway {\n\tdry_run_policies /etc/dg/candidate\n}", "/etc/dg/candidate", false},
		{"missing folder", "data_gateway {\n\tdry_run_policies\n}", "", true},
		{"two folders", "data_gateway {\n\tdry_run_policies /a /b\n}", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := new(App)
			err := app.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr {
				if err == nil {
					t.Fatal("UnmarshalCaddyfile returned no error")
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if app.DryRunPolicies != tt.want {
				t.Errorf("DryRunPolicies = %q, want %q", app.DryRunPolicies, tt.want)
			}
		})
	}
}
