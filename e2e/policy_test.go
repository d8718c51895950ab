package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// withdrawCensus refuses every read of population.census. The policy
// tests never read that resource, so a bundle with it passes them.
const withdrawCensus = `package data_gateway

deny contains "resource population.census is withdrawn for review" if {
	input.resource.id == "population.census"
}
`

const (
	censusPath     = "/api/population/census/350203?count=3"
	withdrawReason = "resource population.census is withdrawn for review"
)

// adminDo sends one request to Caddy's admin endpoint and decodes the JSON
// response into out when out is not nil.
func (s *stack) adminDo(method, path, contentType, body string, out any) int {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.admin+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("reading %s: %v", path, err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// reloadResult is the response body of the admin reload route.
type reloadResult struct {
	Result          string `json:"result"`
	Version         string `json:"version"`
	PreviousVersion string `json:"previous_version"`
	Errors          []struct {
		File    string `json:"file"`
		Row     int    `json:"row"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (s *stack) policyVersion() string {
	s.t.Helper()
	var snapshot struct {
		PolicyVersion string `json:"policy_version"`
	}
	if status := s.adminDo("GET", "/data_gateway/metrics", "", "", &snapshot); status != http.StatusOK {
		s.t.Fatalf("GET /data_gateway/metrics: status %d", status)
	}
	return snapshot.PolicyVersion
}

// waitLog waits until the gateway log matches re, at most within.
func (s *stack) waitLog(re *regexp.Regexp, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for !re.MatchString(s.logs.String()) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// writeAtomic replaces path in one rename, as editors save, so the
// watcher never reads half a file.
func writeAtomic(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyHotReload(t *testing.T) {
	s := startStack(t, stackOptions{ownPolicies: true})
	share := filepath.Join(s.policies, "data_gateway", "share.rego")
	shareTest := filepath.Join(s.policies, "data_gateway", "share_test.rego")
	original := readText(t, share)
	startVersion := s.policyVersion()
	wantStatus(t, do(t, s, "GET", censusPath, "KEY_SIMING_CIVIL", ""), 200)

	t.Run("compile error leaves decisions unchanged", func(t *testing.T) {
		broken := strings.Replace(original, "share_refusals contains reason if {",
			"!!! not rego\n\nshare_refusals contains reason if {", 1)
		wantRow := strings.Count(broken[:strings.Index(broken, "!!! not rego")], "\n") + 1
		writeAtomic(t, share, broken)

		logged := regexp.MustCompile(`policy reload rejected.*` + regexp.QuoteMeta(share) + `:` + strconv.Itoa(wantRow))
		if !s.waitLog(logged, 5*time.Second) {
			t.Errorf("no rejected reload naming %s:%d logged within 5s", share, wantRow)
		}
		wantStatus(t, do(t, s, "GET", censusPath, "KEY_SIMING_CIVIL", ""), 200)

		var result reloadResult
		status := s.adminDo("POST", "/data_gateway/policies/reload", "", "", &result)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("reload status = %d, want 422", status)
		}
		if len(result.Errors) == 0 {
			t.Fatal("reload answer has no errors")
		}
		if result.Errors[0].File != share {
			t.Errorf("errors[0].file = %q, want %q", result.Errors[0].File, share)
		}
		if result.Errors[0].Row != wantRow {
			t.Errorf("errors[0].row = %d, want %d", result.Errors[0].Row, wantRow)
		}
		if result.Version != startVersion {
			t.Errorf("running version = %q, want %q", result.Version, startVersion)
		}
	})

	t.Run("failing policy test leaves decisions unchanged", func(t *testing.T) {
		writeAtomic(t, share, strings.Replace(original,
			`"resource %s is not shared: %s"`, `"resource %s is never shared: %s"`, 1))
		var result reloadResult
		status := s.adminDo("POST", "/data_gateway/policies/reload", "", "", &result)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("reload status = %d, want 422", status)
		}
		found := false
		for _, fault := range result.Errors {
			if fault.File == shareTest && fault.Row > 0 &&
				strings.Contains(fault.Message, "test_deny_not_shared_quotes_legal_basis") {
				found = true
			}
		}
		if !found {
			t.Errorf("errors = %+v, want one in %s naming test_deny_not_shared_quotes_legal_basis", result.Errors, shareTest)
		}
		r := do(t, s, "GET", "/api/civil/adoptions/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
		wantStatus(t, r, 403)
		if !strings.Contains(reasons(r), "is not shared") {
			t.Errorf("reasons = %q, want the running policy's wording", reasons(r))
		}
		if got := s.policyVersion(); got != startVersion {
			t.Errorf("running version = %q, want %q", got, startVersion)
		}
	})

	t.Run("fix swaps under load", func(t *testing.T) {
		load := runReloadLoad(t, s, 4, 3*time.Second, func() {
			writeAtomic(t, filepath.Join(s.policies, "data_gateway", "withdraw.rego"), withdrawCensus)
			writeAtomic(t, share, original)
		})
		if load.failed > 0 {
			t.Errorf("%d of %d requests failed; first: %s", load.failed, load.total, load.firstFailure)
		}
		if load.firstRefused.IsZero() {
			t.Fatal("no request was refused by the new policy")
		}
		swap := load.firstRefused.Sub(load.changed)
		t.Logf("%d requests; the new policy decided %v after the files changed", load.total, swap)
		if swap > time.Second {
			t.Errorf("the new policy took %v to take effect, want at most 1s", swap)
		}
		if load.allowedAfterSwap > 0 {
			t.Errorf("%d requests sent after the first refusal were allowed by the old policy", load.allowedAfterSwap)
		}
		newVersion := s.policyVersion()
		if newVersion == startVersion {
			t.Fatal("the running version did not change")
		}
		logged := regexp.MustCompile(`policies reloaded.*"version":"` + newVersion +
			`".*"previous_version":"` + startVersion + `"[^}]*`)
		line := logged.FindString(s.logs.String())
		if line == "" {
			t.Errorf("no reload log line with version %s and previous version %s", newVersion, startVersion)
		}
		t.Logf("reload log: %s", line)

		t.Run("audit records carry the deciding version", func(t *testing.T) {
			records := s.waitRecords(load.total+2, 10*time.Second)
			byID := map[string]map[string]any{}
			for _, rec := range records {
				id, _ := rec["id"].(string)
				byID[id] = rec
			}
			for id, allowed := range load.outcomes {
				rec, ok := byID[id]
				if !ok {
					t.Errorf("no audit record for request %s", id)
					continue
				}
				want := newVersion
				if allowed {
					want = startVersion
				}
				if rec["policy_version"] != want {
					t.Errorf("request %s (allowed %v): policy_version = %v, want %s", id, allowed, rec["policy_version"], want)
				}
			}
		})
	})
}

// reloadLoad is what runReloadLoad saw.
type reloadLoad struct {
	total, failed    int
	firstFailure     string
	changed          time.Time // when change ran
	firstRefused     time.Time // when the first refusal by the new policy arrived
	allowedAfterSwap int
	// outcomes maps each request id to whether it was allowed.
	outcomes map[string]bool
}

// runReloadLoad reads the census with workers concurrent clients for d, and
// runs change a third of the way through. A request fails unless it is
// allowed (200) or refused by the new policy (403 with withdrawReason).
func runReloadLoad(t *testing.T, s *stack, workers int, d time.Duration, change func()) reloadLoad {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	key := s.keys["KEY_SIMING_CIVIL"]
	var (
		mu     sync.Mutex
		result = reloadLoad{outcomes: map[string]bool{}}
		wg     sync.WaitGroup
	)
	type sample struct {
		sent, done time.Time
		allowed    bool
	}
	var samples []sample
	stop := time.Now().Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("GET", s.base+censusPath, nil)
				req.Header.Set("Authorization", "Bearer "+key)
				sent := time.Now()
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				done := time.Now()
				mu.Lock()
				result.total++
				switch {
				case err != nil:
					result.failed++
					result.firstFailure = cmpFirst(result.firstFailure, err.Error())
				case resp.StatusCode == 200:
					result.outcomes[resp.Header.Get("X-Request-Id")] = true
					samples = append(samples, sample{sent, done, true})
				case resp.StatusCode == 403 && strings.Contains(string(body), withdrawReason):
					result.outcomes[resp.Header.Get("X-Request-Id")] = false
					samples = append(samples, sample{sent, done, false})
					if result.firstRefused.IsZero() || done.Before(result.firstRefused) {
						result.firstRefused = done
					}
				default:
					result.failed++
					result.firstFailure = cmpFirst(result.firstFailure,
						fmt.Sprintf("status %d: %s", resp.StatusCode, body))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(d / 3)
	mu.Lock()
	result.changed = time.Now()
	mu.Unlock()
	change()
	wg.Wait()

	for _, smp := range samples {
		if smp.allowed && !result.firstRefused.IsZero() && smp.sent.After(result.firstRefused) {
			result.allowedAfterSwap++
		}
	}
	return result
}

func cmpFirst(current, next string) string {
	if current != "" {
		return current
	}
	return next
}

func TestDryRunDisagreements(t *testing.T) {
	candidate := filepath.Join(t.TempDir(), "candidate")
	copyTree(t, filepath.Join(repoRoot, "policies"), candidate)
	if err := os.WriteFile(filepath.Join(candidate, "data_gateway", "withdraw.rego"), []byte(withdrawCensus), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{dryRunPolicies: candidate})

	calls := []struct {
		path, key, scenario string
		status              int
		census              bool // reaches the policy for population.census
	}{
		{censusPath, "KEY_SIMING_CIVIL", "", 200, true},
		{"/api/population/persons/" + person, "KEY_SIMING_CIVIL", "social_assistance_review", 200, false},
		{censusPath, "KEY_WATER_GROUP", "", 200, true},
		{"/api/civil/adoptions/" + person, "KEY_SIMING_CIVIL", "social_assistance_review", 403, false},
		{censusPath, "KEY_CITIZEN_CHEN", "personal_inquiry", 403, true},
		{censusPath, "", "", 401, false},
		{"/api/population/persons/" + person, "KEY_CITIZEN_CHEN", "personal_inquiry", 403, false},
		{censusPath, "KEY_SIMING_CIVIL", "", 200, true},
	}
	var want []string
	evaluated := 0
	for i, c := range calls {
		r := do(t, s, "GET", c.path, c.key, c.scenario)
		if r.status != c.status {
			t.Errorf("call %d %s: status = %d, want %d (enforcement changed?)", i, c.path, r.status, c.status)
		}
		if c.status != 401 {
			evaluated++
		}
		if c.census {
			want = append(want, r.header.Get("X-Request-Id"))
		}
	}

	var report struct {
		Enabled          bool   `json:"enabled"`
		CandidateVersion string `json:"candidate_version"`
		EnforcedVersion  string `json:"enforced_version"`
		Stats            struct {
			Evaluated int `json:"evaluated"`
			Disagreed int `json:"disagreed"`
			Skipped   int `json:"skipped"`
		} `json:"stats"`
		Disagreements []struct {
			RequestID string `json:"request_id"`
			Consumer  string `json:"consumer"`
			Resource  string `json:"resource"`
			Enforced  struct {
				Allow   bool     `json:"allow"`
				Version string   `json:"version"`
				Reasons []string `json:"reasons"`
			} `json:"enforced"`
			Candidate struct {
				Allow   bool     `json:"allow"`
				Version string   `json:"version"`
				Reasons []string `json:"reasons"`
			} `json:"candidate"`
		} `json:"disagreements"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status := s.adminDo("GET", "/data_gateway/dry_run", "", "", &report); status != 200 {
			t.Fatalf("GET /data_gateway/dry_run: status %d", status)
		}
		if report.Stats.Evaluated >= evaluated || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !report.Enabled {
		t.Fatal("dry run is not enabled")
	}
	if report.Stats.Evaluated != evaluated {
		t.Errorf("evaluated = %d, want %d", report.Stats.Evaluated, evaluated)
	}
	if report.Stats.Skipped != 0 {
		t.Errorf("skipped = %d, want 0", report.Stats.Skipped)
	}
	var got []string
	for _, d := range report.Disagreements {
		got = append(got, d.RequestID)
		if d.Resource != "population.census" {
			t.Errorf("disagreement %s: resource = %q, want population.census", d.RequestID, d.Resource)
		}
		if d.Candidate.Allow {
			t.Errorf("disagreement %s: candidate allows", d.RequestID)
		}
		if !slices.Contains(d.Candidate.Reasons, withdrawReason) {
			t.Errorf("disagreement %s: candidate reasons %q lack the withdrawal", d.RequestID, d.Candidate.Reasons)
		}
		if d.Enforced.Version != report.EnforcedVersion || d.Candidate.Version != report.CandidateVersion {
			t.Errorf("disagreement %s: versions %s/%s, want %s/%s", d.RequestID,
				d.Enforced.Version, d.Candidate.Version, report.EnforcedVersion, report.CandidateVersion)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("disagreement request ids = %q, want %q", got, want)
	}

	metrics := s.scrape()
	if v := metrics[`data_gateway_dry_run_disagreements_total{resource="population.census"}`]; v != float64(len(want)) {
		t.Errorf("dry_run_disagreements_total{population.census} = %v, want %d", v, len(want))
	}
	logged := regexp.MustCompile(`dry-run policy disagrees.*"request_id":"` + regexp.QuoteMeta(want[0]) + `"`)
	if !logged.MatchString(s.logs.String()) {
		t.Errorf("no disagreement log line for request %s", want[0])
	}
}

// explainReport is the subset of the explain report the tests compare.
type explainReport struct {
	Allow         bool              `json:"allow"`
	Status        int               `json:"status"`
	Reasons       []string          `json:"reasons"`
	Fields        []string          `json:"fields"`
	Masks         map[string]string `json:"masks"`
	PolicyVersion string            `json:"policy_version"`
	Grant         *struct {
		ID string `json:"id"`
	} `json:"grant"`
}

func (s *stack) explainCLI(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(gatewayBin, append([]string{"data-gateway", "explain", "--config", s.cfPath}, args...)...)
	cmd.Dir = s.dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("explain %q: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestExplainMatchesGateway(t *testing.T) {
	s := startStack(t, stackOptions{})
	cases := []struct {
		name, consumer, key, resource, path, scenario string
	}{
		{"conditional share with grant", "xm-housing-bureau", "KEY_HOUSING_BUREAU", "marriage.record",
			"/api/marriage/records/" + person, "housing_subsidy_review"},
		{"conditional share wrong scenario", "xm-housing-bureau", "KEY_HOUSING_BUREAU", "marriage.record",
			"/api/marriage/records/" + person, "marketing"},
		{"not shared", "siming-civil-affairs", "KEY_SIMING_CIVIL", "civil.adoption",
			"/api/civil/adoptions/" + person, "social_assistance_review"},
		{"open on application", "ludao-data-tech", "KEY_LUDAO_DATA", "enterprise.registration",
			"/api/enterprise/companies/" + company, "supplier_due_diligence"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cli explainReport
			out := s.explainCLI(t, "--consumer", c.consumer, "--resource", c.resource,
				"--scenario", c.scenario, "--time", time.Now().Format(time.RFC3339), "--json")
			if err := json.Unmarshal(out, &cli); err != nil {
				t.Fatalf("explain output is not JSON: %v\n%s", err, out)
			}
			var admin explainReport
			query := fmt.Sprintf("/data_gateway/explain?consumer=%s&resource=%s&scenario=%s", c.consumer, c.resource, c.scenario)
			if status := s.adminDo("GET", query, "", "", &admin); status != 200 {
				t.Fatalf("GET %s: status %d", query, status)
			}

			r := do(t, s, "GET", c.path, c.key, c.scenario)
			wantStatus(t, r, cli.Status)
			if admin.Allow != cli.Allow {
				t.Errorf("admin allow = %v, CLI allow = %v", admin.Allow, cli.Allow)
			}
			if got := reasons(r); got != strings.Join(cli.Reasons, " | ") {
				t.Errorf("gateway reasons %q, explain reasons %q", got, cli.Reasons)
			}
			if !slices.Equal(admin.Reasons, cli.Reasons) {
				t.Errorf("admin reasons %q, CLI reasons %q", admin.Reasons, cli.Reasons)
			}
			if fmt.Sprint(admin.Masks) != fmt.Sprint(cli.Masks) {
				t.Errorf("admin masks %v, CLI masks %v", admin.Masks, cli.Masks)
			}
			if admin.PolicyVersion != cli.PolicyVersion {
				t.Errorf("admin version %q, CLI version %q", admin.PolicyVersion, cli.PolicyVersion)
			}
			id := r.header.Get("X-Request-Id")
			records := s.waitRecordsWith(id, 5*time.Second)
			if records == nil {
				t.Fatalf("no audit record for %s", id)
			}
			if records["policy_version"] != cli.PolicyVersion {
				t.Errorf("audit policy_version = %v, explain version %q", records["policy_version"], cli.PolicyVersion)
			}
			wantGrant := ""
			if cli.Grant != nil && cli.Allow {
				wantGrant = cli.Grant.ID
			}
			if got, _ := records["grant"].(string); got != wantGrant {
				t.Errorf("audit grant = %q, explain grant %q", got, wantGrant)
			}
		})
	}

	t.Run("trace", func(t *testing.T) {
		out := string(s.explainCLI(t, "--consumer", "siming-civil-affairs", "--resource", "population.census", "--trace"))
		if !strings.Contains(out, "decision:          allow (HTTP 200)") {
			t.Errorf("output lacks the decision line:\n%.800s", out)
		}
		if !strings.Contains(out, "Enter data.data_gateway.decision") {
			t.Errorf("output lacks the evaluation trace:\n%.800s", out)
		}
	})

	t.Run("unknown consumer", func(t *testing.T) {
		cmd := exec.Command(gatewayBin, "data-gateway", "explain", "--config", s.cfPath,
			"--consumer", "nobody", "--resource", "population.census")
		cmd.Dir = s.dir
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatal("explain of an unknown consumer exited 0")
		}
		if !strings.Contains(string(out), `consumer "nobody" is not in the catalogue`) {
			t.Errorf("output does not name the consumer:\n%s", out)
		}
	})
}

// waitRecordsWith waits for the audit record of one request.
func (s *stack) waitRecordsWith(id string, within time.Duration) map[string]any {
	deadline := time.Now().Add(within)
	for {
		for _, rec := range s.auditRecords() {
			if rec["id"] == id {
				return rec
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// scrape reads the admin endpoint's /metrics and returns the samples of
// the data_gateway metrics by series, such as
// data_gateway_decisions_total{resource="x",result="allow"}.
func (s *stack) scrape() map[string]float64 {
	s.t.Helper()
	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data_gateway_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			s.t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

func TestMetricsAfterScriptedRun(t *testing.T) {
	s := startStack(t, stackOptions{})
	run := func() {
		for range 3 {
			wantStatus(t, do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review"), 200)
		}
		for range 2 {
			wantStatus(t, do(t, s, "GET", "/api/civil/adoptions/"+person, "KEY_SIMING_CIVIL", "social_assistance_review"), 403)
		}
		wantStatus(t, do(t, s, "GET", "/api/unknown/thing", "KEY_SIMING_CIVIL", ""), 404)
	}
	run()

	metrics := s.scrape()
	checks := []struct {
		series string
		want   float64
	}{
		{`data_gateway_decisions_total{resource="population.person",result="allow"}`, 3},
		{`data_gateway_decisions_total{resource="civil.adoption",result="deny"}`, 2},
		{`data_gateway_decisions_total{resource="population.person",result="deny"}`, 0},
		{`data_gateway_policy_eval_seconds_count`, 5},
		{`data_gateway_redis_errors_total`, 0},
	}
	for _, c := range checks {
		if got, ok := metrics[c.series]; !ok || got != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.series, got, ok, c.want)
		}
	}
	idMasked := metrics[`data_gateway_masked_fields_total{class="id_number"}`]
	if idMasked < 3 {
		t.Errorf(`masked_fields_total{class="id_number"} = %v, want at least one per allowed read`, idMasked)
	}
	for _, series := range []string{"data_gateway_audit_queue_depth", "data_gateway_spool_bytes"} {
		if _, ok := metrics[series]; !ok {
			t.Errorf("/metrics has no %s", series)
		}
	}

	var snapshot struct {
		Decisions    map[string]map[string]float64 `json:"decisions"`
		MaskedFields map[string]float64            `json:"masked_fields"`
	}
	if status := s.adminDo("GET", "/data_gateway/metrics", "", "", &snapshot); status != 200 {
		t.Fatalf("GET /data_gateway/metrics: status %d", status)
	}
	if snapshot.Decisions["population.person"]["allow"] != 3 {
		t.Errorf("snapshot decisions[population.person][allow] = %v, want 3", snapshot.Decisions["population.person"]["allow"])
	}
	if snapshot.MaskedFields["id_number"] != idMasked {
		t.Errorf("snapshot masked_fields[id_number] = %v, /metrics %v", snapshot.MaskedFields["id_number"], idMasked)
	}

	t.Run("counts continue across a config reload", func(t *testing.T) {
		changed := strings.Replace(s.caddyfile, "max_body 1MiB", "max_body 2MiB", 1)
		if changed == s.caddyfile {
			t.Fatal("the Caddyfile has no max_body 1MiB line to change")
		}
		if status := s.adminDo("POST", "/load", "text/caddyfile", changed, nil); status != 200 {
			t.Fatalf("POST /load: status %d\n%s", status, s.logs.String())
		}
		run()
		metrics := s.scrape()
		if got := metrics[`data_gateway_decisions_total{resource="population.person",result="allow"}`]; got != 6 {
			t.Errorf("allowed population.person decisions after reload = %v, want 6", got)
		}
		if strings.Contains(s.logs.String(), "duplicate metrics collector registration") {
			t.Error("the reload registered a metric twice")
		}
	})
}
