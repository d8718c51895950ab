package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumBin is the browser the console test drives, from Debian's
// chromium package.
const chromiumBin = "/usr/bin/chromium"

// chromiumFlags keep headless Chromium off the network apart from the
// page it loads, and free of first-run work.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--virtual-time-budget=5000",
}

// appendGrants adds grants to the catalogue file at path.
func appendGrants(t *testing.T, path string, grants []map[string]any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parsing catalogue: %v", err)
	}
	list, _ := doc["grants"].([]any)
	for _, g := range grants {
		list = append(list, g)
	}
	doc["grants"] = list
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// requireChromium skips the test when Chromium is missing, except in CI,
// where every test must run.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("finding chromium: %v (install Debian's chromium package)", err)
		}
		t.Skipf("skipping: %s is not installed (apt-get install chromium)", chromiumBin)
	}
}

// runChromium runs headless Chromium with a fresh profile and returns
// its standard output.
func runChromium(t *testing.T, args ...string) string {
	t.Helper()
	profile, err := os.MkdirTemp("", "datagateway-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's helper processes may still write to the profile as it
	// exits, so its removal is best effort.
	t.Cleanup(func() { _ = os.RemoveAll(profile) })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+profile), args...)
	cmd := exec.CommandContext(ctx, chromiumBin, full...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("running chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// section returns the text of dom from the element with id up to the
// next closing tag of kind, or "" when there is no such element.
func section(dom, id, closing string) string {
	start := strings.Index(dom, `id="`+id+`"`)
	if start < 0 {
		return ""
	}
	end := strings.Index(dom[start:], closing)
	if end < 0 {
		return dom[start:]
	}
	return dom[start : start+end]
}

// consoleStats is the part of /data_gateway/console/stats the test waits
// for.
type consoleStats struct {
	Totals             map[string]int `json:"totals"`
	DisagreementCounts map[string]int `json:"disagreement_counts"`
}

func TestConsoleInChromium(t *testing.T) {
	requireChromium(t)
	candidate := filepath.Join(t.TempDir(), "candidate")
	copyTree(t, filepath.Join(repoRoot, "policies"), candidate)
	if err := os.WriteFile(filepath.Join(candidate, "data_gateway", "withdraw.rego"),
		[]byte(withdrawCensus), 0o644); err != nil {
		t.Fatal(err)
	}
	grant := func(id, from, until string) map[string]any {
		return map[string]any{
			"id": id, "kind": "share", "consumer": "xm-housing-bureau", "resource": "marriage.record",
			"scenario": "housing_subsidy_review", "valid_from": from, "valid_until": until,
		}
	}
	s := startStack(t, stackOptions{
		browserAdmin:   true,
		dryRunPolicies: candidate,
		grants: []map[string]any{
			grant("grant-housing-marriage-2020", "2020-01-01T00:00:00+08:00", "2021-01-01T00:00:00+08:00"),
			grant("grant-housing-marriage-2090", "2090-01-01T00:00:00+08:00", "2091-01-01T00:00:00+08:00"),
		},
	})

	calls := []struct {
		path, key, scenario string
		status              int
		disagrees           bool // the dry-run candidate refuses it
	}{
		{censusPath, "KEY_SIMING_CIVIL", "", 200, true},
		{"/api/population/persons/" + person, "KEY_SIMING_CIVIL", "social_assistance_review", 200, false},
		{censusPath, "KEY_WATER_GROUP", "", 200, true},
		{"/api/civil/adoptions/" + person, "KEY_SIMING_CIVIL", "social_assistance_review", 403, false},
		{"/api/population/persons/" + person, "KEY_CITIZEN_CHEN", "personal_inquiry", 403, false},
		{censusPath, "", "", 401, false}, // refused before the policy: no decision counted
	}
	var simingAllowed, disagreeing []string
	for i, c := range calls {
		r := do(t, s, "GET", c.path, c.key, c.scenario)
		if r.status != c.status {
			t.Fatalf("call %d %s: status = %d, want %d", i, c.path, r.status, c.status)
		}
		id := r.header.Get("X-Request-Id")
		if c.key == "KEY_SIMING_CIVIL" && c.status == 200 {
			simingAllowed = append(simingAllowed, id)
		}
		if c.disagrees {
			disagreeing = append(disagreeing, id)
		}
	}
	s.waitRecords(len(calls), 10*time.Second)

	// The dry run decides off the request path: wait until it has.
	var stats consoleStats
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status := s.adminDo("GET", "/data_gateway/console/stats", "", "", &stats); status != 200 {
			t.Fatalf("GET /data_gateway/console/stats: status %d", status)
		}
		if stats.DisagreementCounts["population.census"] >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	url := "http://" + s.admin + "/data_gateway/console?consumer=siming-civil-affairs&decision=allow"
	dom := runChromium(t, "--dump-dom", url)
	if !strings.Contains(dom, `id="search-form"`) {
		t.Fatalf("chromium did not load the console:\n%s", dom)
	}

	t.Run("no error shown", func(t *testing.T) {
		if box := section(dom, "error", "</p>"); !strings.Contains(box, "hidden") {
			t.Errorf("error box is visible: %s", box)
		}
	})
	t.Run("resources with attributes and providers", func(t *testing.T) {
		rows := section(dom, "resource-rows", "</tbody>")
		for _, want := range []string{
			`data-resource="population.person"`, "人口登记信息（个人）",
			`class="share-not_shared">not_shared`, "xm-civil-affairs",
			`data-resource="enterprise.registration"`, `class="open-on_application">on_application`,
		} {
			if !strings.Contains(rows, want) {
				t.Errorf("resource table lacks %q", want)
			}
		}
	})
	t.Run("grants flagged by validity", func(t *testing.T) {
		rows := section(dom, "grant-rows", "</tbody>")
		for _, want := range []string{
			`data-grant="grant-housing-marriage-2020" data-state="expired"`,
			`data-grant="grant-housing-marriage-2090" data-state="not_yet_valid"`,
			`data-grant="grant-housing-marriage-2026" data-state="valid"`,
			`class="state-expired">expired`, `class="state-not_yet_valid">not yet valid`,
		} {
			if !strings.Contains(rows, want) {
				t.Errorf("grant table lacks %q", want)
			}
		}
	})
	t.Run("decision counts", func(t *testing.T) {
		totals := map[string]string{"total-allow": "3", "total-deny": "2", "total-error": "0"}
		for id, want := range totals {
			re := regexp.MustCompile(`id="` + id + `">(\d+)<`)
			m := re.FindStringSubmatch(dom)
			if m == nil {
				t.Errorf("no %s cell", id)
				continue
			}
			if m[1] != want {
				t.Errorf("%s = %s, want %s", id, m[1], want)
			}
		}
		rows := section(dom, "decision-rows", "</tbody>")
		if !strings.Contains(rows, `<tr data-resource="population.census"><td>population.census</td><td>2</td>`) {
			t.Errorf("decision rows lack 2 allows for population.census:\n%s", rows)
		}
	})
	t.Run("audit search from the URL", func(t *testing.T) {
		status := section(dom, "search-status", "</p>")
		if !strings.Contains(status, `data-count="2"`) {
			t.Errorf("search status = %q, want 2 records", status)
		}
		rows := section(dom, "search-rows", "</tbody>")
		for _, id := range simingAllowed {
			if !strings.Contains(rows, `data-request-id="`+id+`"`) {
				t.Errorf("search results lack request %s", id)
			}
		}
		if strings.Contains(rows, "decision-deny") {
			t.Error("search for allow decisions shows a deny")
		}
	})
	t.Run("dry-run disagreements", func(t *testing.T) {
		rows := section(dom, "disagreement-rows", "</tbody>")
		for _, id := range disagreeing {
			if !strings.Contains(rows, `data-request-id="`+id+`"`) {
				t.Errorf("disagreement table lacks request %s", id)
			}
		}
		if !strings.Contains(rows, withdrawReason) {
			t.Errorf("disagreement table does not show the candidate's reason %q", withdrawReason)
		}
		if !strings.Contains(dom, "2 disagreements since the gateway started") {
			t.Error("disagreement count is not 2")
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(t.TempDir(), "console.png")
		runChromium(t, "--screenshot="+shot, "--window-size=1400,2400", url)
		png, err := os.ReadFile(shot)
		if err != nil {
			t.Fatalf("reading screenshot: %v", err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatal("screenshot is not a PNG")
		}
		// DATA_GATEWAY_CONSOLE_SCREENSHOT keeps a copy to look at.
		if keep := os.Getenv("DATA_GATEWAY_CONSOLE_SCREENSHOT"); keep != "" {
			if err := os.WriteFile(keep, png, 0o644); err != nil {
				t.Errorf("keeping screenshot: %v", err)
			}
		}
	})
}
