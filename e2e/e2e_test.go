package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/identity"
)

const (
	person         = "350203196804140613" // 欧阳天佑, in every demo register
	personBadCheck = "350203196804140614"
	company        = "91350200MA3MEBQL6X"
)

var (
	maskedID    = regexp.MustCompile(`^\d{6}\*{8}\d{3}[\dX]$`)
	maskedPhone = regexp.MustCompile(`^1\d{2}\*{4}\d{4}$`)
	idCandidate = regexp.MustCompile(`[1-9]\d{16}[\dX]`)
)

// rawID finds identity numbers with a valid check character, so that long
// digit runs such as timestamps are not taken for one.
var rawID = idMatcher{}

type idMatcher struct{}

func (idMatcher) Match(b []byte) bool { return idMatcher{}.FindStringIndex(string(b)) != nil }

func (idMatcher) FindStringIndex(s string) []int {
	for _, loc := range idCandidate.FindAllStringIndex(s, -1) {
		if identity.ValidIDNumber([]byte(s[loc[0]:loc[1]])) {
			return loc
		}
	}
	return nil
}

// result is one call's outcome, decoded.
type result struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func do(t *testing.T, s *stack, method, path, key, scenario string, header ...string) result {
	t.Helper()
	resp := s.request(method, path, key, scenario, header...)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, body: body}
	if len(body) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &r.json); err != nil {
			t.Fatalf("body is not a JSON object: %v\n%s", err, body)
		}
	}
	return r
}

func wantStatus(t *testing.T, r result, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body: %s", r.status, want, r.body)
	}
}

// field walks a decoded JSON object along dot-separated keys.
func field(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func reasons(r result) string {
	list, _ := r.json["reasons"].([]any)
	var parts []string
	for _, x := range list {
		s, _ := x.(string)
		parts = append(parts, s)
	}
	return strings.Join(parts, " | ")
}

func TestDemoRequests(t *testing.T) {
	s := startStack(t, stackOptions{})
	var ids []string
	record := func(r result) {
		id := r.header.Get("X-Request-Id")
		if id == "" {
			t.Errorf("response has no X-Request-Id")
		}
		ids = append(ids, id)
	}

	t.Run("unconditional read masks id numbers and phones", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
		record(r)
		wantStatus(t, r, 200)
		if got, _ := field(r.json, "id_number").(string); !maskedID.MatchString(got) {
			t.Errorf("id_number = %q, want partial mask like 350203********0613", got)
		}
		if got, _ := field(r.json, "phone").(string); !maskedPhone.MatchString(got) {
			t.Errorf("phone = %q, want partial mask like 138****5678", got)
		}
		if got, _ := field(r.json, "household.head_id_number").(string); !maskedID.MatchString(got) {
			t.Errorf("household.head_id_number = %q, want partial mask", got)
		}
		if rawID.Match(r.body) {
			t.Errorf("body holds an unmasked identity number: %s", r.body)
		}
		if got := r.header.Get("X-Data-Source"); got != "xm-public-security/population.person" {
			t.Errorf("X-Data-Source = %q", got)
		}
	})

	t.Run("public refused the population register", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/persons/"+person, "KEY_CITIZEN_CHEN", "personal_inquiry")
		record(r)
		wantStatus(t, r, 403)
		if reasons(r) == "" {
			t.Errorf("refusal has no reasons: %s", r.body)
		}
		if r.json["request_id"] != r.header.Get("X-Request-Id") {
			t.Errorf("body request_id %v differs from header %q", r.json["request_id"], r.header.Get("X-Request-Id"))
		}
	})

	t.Run("conditional refused without application", func(t *testing.T) {
		r := do(t, s, "GET", "/api/marriage/records/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
		record(r)
		wantStatus(t, r, 403)
		if !strings.Contains(strings.ToLower(reasons(r)), "application") {
			t.Errorf("reasons %q do not mention the missing application", reasons(r))
		}
	})

	t.Run("conditional refused for wrong scenario", func(t *testing.T) {
		r := do(t, s, "GET", "/api/marriage/records/"+person, "KEY_HOUSING_BUREAU", "marketing")
		record(r)
		wantStatus(t, r, 403)
		if !strings.Contains(reasons(r), "marketing") {
			t.Errorf("reasons %q do not name the refused scenario", reasons(r))
		}
	})

	t.Run("conditional served with granted fields only", func(t *testing.T) {
		r := do(t, s, "GET", "/api/marriage/records/"+person, "KEY_HOUSING_BUREAU", "housing_subsidy_review")
		record(r)
		wantStatus(t, r, 200)
		for _, k := range []string{"name", "marriage_status", "registered_at", "spouse"} {
			if _, ok := r.json[k]; !ok {
				t.Errorf("granted field %q missing: %s", k, r.body)
			}
		}
		for _, k := range []string{"id_number", "registry_office", "history"} {
			if _, ok := r.json[k]; ok {
				t.Errorf("field %q outside the grant was served: %s", k, r.body)
			}
		}
		spouse, _ := r.json["spouse"].(map[string]any)
		if len(spouse) != 1 || spouse["name"] == nil {
			t.Errorf("spouse = %v, want only the granted name", spouse)
		}
	})

	t.Run("on application refused for credit list", func(t *testing.T) {
		r := do(t, s, "GET", "/api/enterprise/companies/"+company, "KEY_HAIXI_TRADING", "supplier_due_diligence")
		record(r)
		wantStatus(t, r, 403)
		if !strings.Contains(reasons(r), "失信被执行人") {
			t.Errorf("reasons %q do not name the dishonest judgment debtor list", reasons(r))
		}
	})

	t.Run("on application served gzip upstream masked", func(t *testing.T) {
		r := do(t, s, "GET", "/api/enterprise/companies/"+company, "KEY_LUDAO_DATA", "supplier_due_diligence",
			"Accept-Encoding", "gzip")
		record(r)
		wantStatus(t, r, 200)
		if ce := r.header.Get("Content-Encoding"); ce != "" {
			t.Errorf("Content-Encoding = %q: the masked body is sent as identity", ce)
		}
		if r.json == nil {
			t.Fatalf("body is not JSON: %q", r.body)
		}
		if got, _ := field(r.json, "contact_phone").(string); !maskedPhone.MatchString(got) {
			t.Errorf("contact_phone = %q, want partial mask", got)
		}
		name, _ := field(r.json, "legal_representative.name").(string)
		if !strings.Contains(name, "*") {
			t.Errorf("legal_representative.name = %q: personal fields are never opened unmasked", name)
		}
		if field(r.json, "shareholders") != nil {
			t.Errorf("shareholders are outside the grant but were served")
		}
		if rawID.Match(r.body) {
			t.Errorf("body holds an unmasked identity number: %s", r.body)
		}
	})

	t.Run("not shared refusal quotes legal basis", func(t *testing.T) {
		r := do(t, s, "GET", "/api/civil/adoptions/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
		record(r)
		wantStatus(t, r, 403)
		if !strings.Contains(reasons(r), "第一千一百一十条") {
			t.Errorf("reasons %q do not quote the legal basis", reasons(r))
		}
	})

	t.Run("missing key is 401", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/persons/"+person, "", "social_assistance_review")
		record(r)
		wantStatus(t, r, 401)
	})

	t.Run("wrong key is 401", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/persons/"+person, "", "social_assistance_review",
			"Authorization", "Bearer dgk_00000000000000000000000000000000")
		record(r)
		wantStatus(t, r, 401)
	})

	t.Run("unknown path is 404", func(t *testing.T) {
		r := do(t, s, "GET", "/api/unknown/thing", "KEY_SIMING_CIVIL", "social_assistance_review")
		record(r)
		wantStatus(t, r, 404)
	})

	t.Run("bad check digit is 400", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/persons/"+personBadCheck, "KEY_SIMING_CIVIL", "social_assistance_review")
		record(r)
		wantStatus(t, r, 400)
		if strings.Contains(string(r.body), personBadCheck) {
			t.Errorf("the refusal echoes the identity number")
		}
	})

	t.Run("missing subject is 400", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/persons/", "KEY_SIMING_CIVIL", "social_assistance_review")
		record(r)
		wantStatus(t, r, 400)
	})

	t.Run("two scenarios are 400", func(t *testing.T) {
		req, err := http.NewRequest("GET", s.base+"/api/population/persons/"+person, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.keys["KEY_SIMING_CIVIL"])
		req.Header.Add("X-Data-Scenario", "social_assistance_review")
		req.Header.Add("X-Data-Scenario", "marketing")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ids = append(ids, resp.Header.Get("X-Request-Id"))
		if resp.StatusCode != 400 {
			t.Errorf("status = %d, want 400", resp.StatusCode)
		}
	})

	t.Run("emergency data served within emergency", func(t *testing.T) {
		r := do(t, s, "GET", "/api/emergency/typhoon-evacuees/"+person, "KEY_CITY_PLATFORM", "typhoon_response")
		record(r)
		wantStatus(t, r, 200)
	})

	t.Run("emergency data refused for other scenario", func(t *testing.T) {
		r := do(t, s, "GET", "/api/emergency/typhoon-evacuees/"+person, "KEY_CITY_PLATFORM", "social_assistance_review")
		record(r)
		wantStatus(t, r, 403)
	})

	t.Run("one audit record per request", func(t *testing.T) {
		recs := s.waitRecords(len(ids), 10*time.Second)
		if len(recs) != len(ids) {
			t.Fatalf("stream holds %d records, want %d", len(recs), len(ids))
		}
		seen := map[string]int{}
		for _, rec := range recs {
			id, _ := rec["id"].(string)
			seen[id]++
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("request %s has %d records, want 1", id, seen[id])
			}
		}
	})

	t.Run("audit record content", func(t *testing.T) {
		recs := s.auditRecords()
		if len(recs) == 0 {
			t.Fatal("no records")
		}
		first := recs[0]
		want := map[string]string{
			"consumer": "siming-civil-affairs", "resource": "population.person",
			"provider": "xm-public-security", "scenario": "social_assistance_review",
			"decision": "allow", "status": "200", "method": "GET",
			"path": "/api/population/persons/{id_number}",
		}
		for k, v := range want {
			if first[k] != v {
				t.Errorf("record field %s = %v, want %q", k, first[k], v)
			}
		}
		if subj, _ := first["subject"].(string); len(subj) < 16 || strings.Contains(subj, person) {
			t.Errorf("record subject = %q, want a keyed hash", subj)
		}
		if first["policy_version"] == "" || first["hash"] == "" {
			t.Errorf("record lacks policy_version or hash: %v", first)
		}
	})

	t.Run("no identity number or key in redis or logs", func(t *testing.T) {
		checkNoSecrets(t, s, []string{person, personBadCheck})
	})
}

// checkNoSecrets fails if a raw identity number or any demo API key
// appears in Redis or in the gateway's output.
func checkNoSecrets(t *testing.T, s *stack, subjects []string) {
	t.Helper()
	dump := s.redisDump()
	logs := s.logs.String()
	for _, secret := range subjects {
		if strings.Contains(dump, secret) {
			t.Errorf("redis holds a raw identity number")
		}
		if strings.Contains(logs, secret) {
			t.Errorf("gateway log holds a raw identity number")
		}
	}
	for name, key := range s.keys {
		if strings.Contains(dump, key) {
			t.Errorf("redis holds the API key %s", name)
		}
		if strings.Contains(logs, key) {
			t.Errorf("gateway log holds the API key %s", name)
		}
	}
}

func TestUnsafeBodiesRefused(t *testing.T) {
	s := startStack(t, stackOptions{maxBody: "256KiB"})
	cases := []struct {
		name string
		path string
	}{
		{"body over max_body", "/api/population/census/350203?count=5000"},
		{"csv from a resource with personal fields", "/api/population/persons/" + person + "?format=csv"},
		{"csv census", "/api/population/census/350203?count=3&format=csv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, "GET", tc.path, "KEY_SIMING_CIVIL", "social_assistance_review")
			wantStatus(t, r, 502)
			if rawID.Match(r.body) {
				t.Errorf("refusal body holds an identity number: %s", r.body)
			}
			if r.json["error"] == nil {
				t.Errorf("refusal body has no error: %s", r.body)
			}
		})
	}
	t.Run("census under limit served masked", func(t *testing.T) {
		r := do(t, s, "GET", "/api/population/census/350203?count=50", "KEY_SIMING_CIVIL",
			"social_assistance_review", "Accept-Encoding", "gzip")
		wantStatus(t, r, 200)
		if rawID.Match(r.body) {
			t.Errorf("census body holds an unmasked identity number")
		}
	})
	t.Run("every request audited", func(t *testing.T) {
		recs := s.waitRecords(len(cases)+1, 10*time.Second)
		if len(recs) != len(cases)+1 {
			t.Errorf("stream holds %d records, want %d", len(recs), len(cases)+1)
		}
	})
	t.Run("no identity number in logs", func(t *testing.T) {
		if loc := rawID.FindStringIndex(s.logs.String()); loc != nil {
			t.Errorf("gateway log holds an identity number near %q",
				s.logs.String()[max(0, loc[0]-80):loc[0]])
		}
	})
}

func TestRedisOutageSpoolsAndReplays(t *testing.T) {
	s := startStack(t, stackOptions{})
	var ids []string
	send := func(n int) {
		for i := 0; i < n; i++ {
			r := do(t, s, "GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL", "social_assistance_review")
			wantStatus(t, r, 200)
			ids = append(ids, r.header.Get("X-Request-Id"))
		}
	}
	send(5)
	if recs := s.waitRecords(5, 10*time.Second); len(recs) != 5 {
		t.Fatalf("before the outage: %d records, want 5", len(recs))
	}

	s.redis.Stop()
	send(20) // served while Redis is down: the records go to the spool
	s.redis.Restart()

	recs := s.waitRecords(len(ids), 20*time.Second)
	if len(recs) != len(ids) {
		t.Fatalf("after the outage: %d records, want %d", len(recs), len(ids))
	}
	seen := map[string]int{}
	for _, rec := range recs {
		seen[rec["id"].(string)]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("request %s has %d records, want 1", id, seen[id])
		}
	}
	// The stream keeps each instance's records in sequence order.
	var last int
	for i, rec := range recs {
		var seq int
		if err := json.Unmarshal([]byte(rec["seq"].(string)), &seq); err != nil {
			t.Fatalf("record %d seq %v: %v", i, rec["seq"], err)
		}
		if seq != last+1 {
			t.Errorf("record %d has seq %d after %d", i, seq, last)
		}
		last = seq
	}
}
