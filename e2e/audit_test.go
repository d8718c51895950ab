package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// otherPerson is a second valid identity number, for requests that must
// not match a search for person.
const otherPerson = "11010519491231002X"

// cliResult is the outcome of one run of the gateway binary's CLI.
type cliResult struct {
	stdout, stderr string
	exit           int
}

// runCLI runs `datagateway data-gateway audit <args>` against the
// stack's Caddyfile, with the stack's HMAC key in the environment.
func runCLI(t *testing.T, s *stack, stdin string, args ...string) cliResult {
	t.Helper()
	full := append([]string{"data-gateway", "audit"}, args...)
	full = append(full, "--config", s.cfPath)
	cmd := exec.Command(gatewayBin, full...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "DATA_GATEWAY_HMAC_KEY="+hmacKey, "HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.exit = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", full, err)
	}
	return res
}

// queryHits is the JSON of `audit query --json` and of the admin route.
type queryHits struct {
	Records []struct {
		EntryID  string   `json:"entry_id"`
		ID       string   `json:"id"`
		Consumer string   `json:"consumer"`
		Resource string   `json:"resource"`
		Decision string   `json:"decision"`
		Subject  string   `json:"subject"`
		Seq      uint64   `json:"seq"`
		Reasons  []string `json:"reasons"`
	} `json:"records"`
	Next string `json:"next"`
}

func (q queryHits) ids() []string {
	ids := make([]string, len(q.Records))
	for i, r := range q.Records {
		ids[i] = r.ID
	}
	slices.Sort(ids)
	return ids
}

func decodeHits(t *testing.T, res cliResult) queryHits {
	t.Helper()
	if res.exit != 0 {
		t.Fatalf("audit query exited %d\nstdout: %s\nstderr: %s", res.exit, res.stdout, res.stderr)
	}
	var hits queryHits
	if err := json.Unmarshal([]byte(res.stdout), &hits); err != nil {
		t.Fatalf("audit query --json printed no JSON: %v\n%s", err, res.stdout)
	}
	return hits
}

func TestAuditQueryBySubject(t *testing.T) {
	s := startStack(t, stackOptions{})
	calls := []struct {
		path, key, scenario string
		forPerson           bool
	}{
		{"/api/population/persons/" + person, "KEY_SIMING_CIVIL", "social_assistance_review", true},
		{"/api/population/persons/" + otherPerson, "KEY_SIMING_CIVIL", "social_assistance_review", false},
		{"/api/population/persons/" + person, "KEY_CITIZEN_CHEN", "personal_inquiry", true},
		{"/api/marriage/records/" + person, "KEY_SIMING_CIVIL", "social_assistance_review", true},
		{"/api/marriage/records/" + otherPerson, "KEY_HOUSING_BUREAU", "housing_subsidy_review", false},
		{"/api/enterprise/companies/" + company, "KEY_HAIXI_TRADING", "supplier_due_diligence", false},
		{"/api/population/census/350203?count=3", "KEY_SIMING_CIVIL", "", false},
	}
	var want []string
	for _, c := range calls {
		r := do(t, s, "GET", c.path, c.key, c.scenario)
		if c.forPerson {
			want = append(want, r.header.Get("X-Request-Id"))
		}
	}
	slices.Sort(want)
	if got := len(s.waitRecords(len(calls), 10*time.Second)); got != len(calls) {
		t.Fatalf("stream has %d records, want %d", got, len(calls))
	}

	t.Run("cli subject flag", func(t *testing.T) {
		res := runCLI(t, s, "", "query", "--subject", person, "--json")
		if got := decodeHits(t, res).ids(); !slices.Equal(got, want) {
			t.Errorf("records = %v, want %v", got, want)
		}
		if strings.Contains(res.stdout+res.stderr, person) {
			t.Error("audit query printed the raw identity number")
		}
	})
	t.Run("cli subject from stdin", func(t *testing.T) {
		res := runCLI(t, s, person+"\n", "query", "--subject", "-", "--json")
		if got := decodeHits(t, res).ids(); !slices.Equal(got, want) {
			t.Errorf("records = %v, want %v", got, want)
		}
	})
	t.Run("cli table output", func(t *testing.T) {
		res := runCLI(t, s, "", "query", "--subject", person)
		if res.exit != 0 {
			t.Fatalf("exit %d: %s", res.exit, res.stderr)
		}
		if !strings.Contains(res.stdout, "3 records") {
			t.Errorf("table does not count 3 records:\n%s", res.stdout)
		}
		if strings.Contains(res.stdout+res.stderr, person) {
			t.Error("audit query printed the raw identity number")
		}
	})
	t.Run("cli bad check digit", func(t *testing.T) {
		res := runCLI(t, s, "", "query", "--subject", personBadCheck)
		if res.exit == 0 {
			t.Fatal("audit query accepted an identity number with a bad check digit")
		}
		if !strings.Contains(res.stderr, "check character") {
			t.Errorf("error does not name the check character: %s", res.stderr)
		}
		if strings.Contains(res.stdout+res.stderr, personBadCheck) {
			t.Error("audit query printed the raw identity number")
		}
	})
	t.Run("cli consumer and decision", func(t *testing.T) {
		hits := decodeHits(t, runCLI(t, s, "", "query", "--consumer", "siming-civil-affairs",
			"--decision", "allow", "--json"))
		if len(hits.Records) == 0 {
			t.Fatal("no allowed record of siming-civil-affairs")
		}
		for _, r := range hits.Records {
			if r.Consumer != "siming-civil-affairs" || r.Decision != "allow" {
				t.Errorf("record %s: consumer %q, decision %q", r.ID, r.Consumer, r.Decision)
			}
		}
	})
	t.Run("admin post", func(t *testing.T) {
		var hits queryHits
		status := s.adminDo("POST", "/data_gateway/audit", "application/json",
			`{"subject": "`+person+`", "newest": true}`, &hits)
		if status != 200 {
			t.Fatalf("POST /data_gateway/audit: status %d", status)
		}
		if got := hits.ids(); !slices.Equal(got, want) {
			t.Errorf("records = %v, want %v", got, want)
		}
	})
	t.Run("admin get by hash", func(t *testing.T) {
		var byRaw, byHash queryHits
		s.adminDo("POST", "/data_gateway/audit", "application/json", `{"subject": "`+person+`"}`, &byRaw)
		if len(byRaw.Records) == 0 {
			t.Fatal("no record for the subject")
		}
		status := s.adminDo("GET", "/data_gateway/audit?subject_hash="+byRaw.Records[0].Subject, "", "", &byHash)
		if status != 200 {
			t.Fatalf("GET /data_gateway/audit: status %d", status)
		}
		if got := byHash.ids(); !slices.Equal(got, want) {
			t.Errorf("records = %v, want %v", got, want)
		}
	})
	t.Run("admin get refuses raw subject", func(t *testing.T) {
		// Caddy logs the admin request URI before the route runs, so this
		// request uses otherPerson and the log check below stays
		// meaningful for person.
		var body map[string]any
		status := s.adminDo("GET", "/data_gateway/audit?subject="+otherPerson, "", "", &body)
		if status != 400 {
			t.Errorf("status = %d, want 400", status)
		}
	})
	t.Run("raw subject never logged or stored", func(t *testing.T) {
		if strings.Contains(s.logs.String(), person) {
			t.Error("gateway log contains the raw identity number")
		}
		if strings.Contains(s.redisDump(), person) {
			t.Error("redis contains the raw identity number")
		}
	})
}

// tamperFixture is a stack with six records in one chain.
func tamperFixture(t *testing.T) (*stack, []redis.XMessage) {
	t.Helper()
	s := startStack(t, stackOptions{})
	for range 6 {
		do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
	}
	s.waitRecords(6, 10*time.Second)
	msgs, err := s.rdb.XRange(context.Background(), "data_gateway:audit", "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	if len(msgs) != 6 {
		t.Fatalf("stream has %d records, want 6", len(msgs))
	}
	if res := runCLI(t, s, "", "verify"); res.exit != 0 {
		t.Fatalf("verify of an untouched stream exited %d:\n%s%s", res.exit, res.stdout, res.stderr)
	}
	return s, msgs
}

func TestAuditVerifyNamesDeletedRecord(t *testing.T) {
	s, msgs := tamperFixture(t)
	deleted := msgs[2]
	if err := s.rdb.XDel(context.Background(), "data_gateway:audit", deleted.ID).Err(); err != nil {
		t.Fatalf("XDEL: %v", err)
	}
	seq := deleted.Values["seq"].(string)

	res := runCLI(t, s, "", "verify")
	if res.exit != 1 {
		t.Errorf("verify exited %d, want 1", res.exit)
	}
	if want := "seq " + seq + " to " + seq + " missing"; !strings.Contains(res.stdout, want) {
		t.Errorf("verify output does not say %q:\n%s", want, res.stdout)
	}
	if !strings.Contains(res.stdout, msgs[3].ID) {
		t.Errorf("verify output does not name entry %s, where the gap shows:\n%s", msgs[3].ID, res.stdout)
	}

	var report struct {
		OK       bool `json:"ok"`
		Problems []struct {
			EntryID string `json:"entry_id"`
			Reason  string `json:"reason"`
		} `json:"problems"`
	}
	if status := s.adminDo("GET", "/data_gateway/audit/verify", "", "", &report); status != 200 {
		t.Fatalf("GET /data_gateway/audit/verify: status %d", status)
	}
	if report.OK {
		t.Error("admin verify reports ok after a deletion")
	}
	if len(report.Problems) != 1 || report.Problems[0].EntryID != msgs[3].ID {
		t.Errorf("admin verify problems = %+v, want one at entry %s", report.Problems, msgs[3].ID)
	}
}

func TestAuditVerifyNamesEditedRecord(t *testing.T) {
	s, msgs := tamperFixture(t)
	ctx := context.Background()
	original := msgs[2]

	// Editing a stream entry in place is impossible, so the tamperer
	// deletes it and adds a changed copy; the copy lands at the end.
	tampered := map[string]any{}
	for k, v := range original.Values {
		tampered[k] = v
	}
	tampered["consumer"] = "xm-housing-bureau"
	if err := s.rdb.XDel(ctx, "data_gateway:audit", original.ID).Err(); err != nil {
		t.Fatalf("XDEL: %v", err)
	}
	newID, err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "data_gateway:audit", Values: tampered}).Result()
	if err != nil {
		t.Fatalf("XADD: %v", err)
	}

	res := runCLI(t, s, "", "verify", "--json")
	if res.exit != 1 {
		t.Errorf("verify exited %d, want 1", res.exit)
	}
	var report struct {
		Problems []struct {
			EntryID string `json:"entry_id"`
			Seq     uint64 `json:"seq"`
			Reason  string `json:"reason"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil {
		t.Fatalf("verify --json printed no JSON: %v\n%s", err, res.stdout)
	}
	edited := false
	for _, p := range report.Problems {
		if p.EntryID == newID && strings.Contains(p.Reason, "hash does not match") {
			edited = true
		}
	}
	if !edited {
		t.Errorf("no problem names the edited copy %s with a hash mismatch: %+v", newID, report.Problems)
	}
}

func TestAuditTrimThenVerify(t *testing.T) {
	s := startStack(t, stackOptions{})
	for range 4 {
		do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
	}
	s.waitRecords(4, 10*time.Second)
	// The trim keeps records younger than 2s: wait until the first four
	// are older, then add two that are not.
	time.Sleep(2500 * time.Millisecond)
	var kept []string
	for range 2 {
		r := do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
		kept = append(kept, r.header.Get("X-Request-Id"))
	}
	s.waitRecords(6, 10*time.Second)

	res := runCLI(t, s, "", "trim", "--older-than", "2s")
	if res.exit != 0 {
		t.Fatalf("trim exited %d:\n%s%s", res.exit, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "removed 4 records") {
		t.Errorf("trim output does not say it removed 4 records:\n%s", res.stdout)
	}

	if res := runCLI(t, s, "", "verify"); res.exit != 0 {
		t.Errorf("verify after the trim exited %d:\n%s%s", res.exit, res.stdout, res.stderr)
	}
	all := decodeHits(t, runCLI(t, s, "", "query", "--json"))
	var ids []string
	for _, r := range all.Records {
		if r.Decision != "trim" {
			ids = append(ids, r.ID)
		}
	}
	if !slices.Equal(ids, kept) {
		t.Errorf("records after the trim = %v, want %v", ids, kept)
	}

	trims := decodeHits(t, runCLI(t, s, "", "query", "--decision", "trim", "--json"))
	if len(trims.Records) != 1 {
		t.Fatalf("found %d trim records, want 1", len(trims.Records))
	}
	rec := trims.Records[0]
	reasons := strings.Join(rec.Reasons, " | ")
	if rec.Consumer != "operator" {
		t.Errorf("trim record consumer = %q, want operator", rec.Consumer)
	}
	if !strings.Contains(reasons, "cut-off ") || !strings.Contains(reasons, "4 records") {
		t.Errorf("trim record reasons %q do not name the cut-off and the count", reasons)
	}

	// The chain goes on after the trim.
	do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
	s.waitRecords(4, 10*time.Second)
	if res := runCLI(t, s, "", "verify"); res.exit != 0 {
		t.Errorf("verify after a new record exited %d:\n%s%s", res.exit, res.stdout, res.stderr)
	}
}
