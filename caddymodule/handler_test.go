package caddymodule

import (
	"net/http"
	"strings"
	"testing"

	"github.com/citydata/datagateway/gateway/policy"
)

func TestIsJSONAcceptsEveryLegalSpelling(t *testing.T) {
	cases := map[string]bool{
		"application/json":                   true,
		"application/json; charset=utf-8":    true,
		"Application/JSON ; charset=UTF-8":   true,
		"application/problem+json":           true,
		"application/vnd.gov.xm.person+json": true,
		"APPLICATION/VND.X+JSON":             true,
		"":                                   false,
		"text/plain":                         false,
		"text/csv":                           false,
		"text/event-stream":                  false,
		"application/jsonp":                  false,
		"application/json-seq":               false,
		"application/x-ndjson":               false,
		"application/json;;;":                false,
	}
	for ct, want := range cases {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestChooseModeRefusesWhatCannotBeMasked(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	csvHeader := http.Header{"Content-Type": {"text/csv"}}
	sse := http.Header{"Content-Type": {"text/event-stream"}}
	none := http.Header{}
	cases := []struct {
		name     string
		status   int
		header   http.Header
		mustMask bool
		head     bool
		want     captureMode
	}{
		{"json buffered", 200, jsonHeader, true, false, modeBuffer},
		{"json error buffered", 500, jsonHeader, true, false, modeBuffer},
		{"json without personal fields buffered for the backstop", 200, jsonHeader, false, false, modeBuffer},
		{"csv from personal resource refused", 200, csvHeader, true, false, modeRefuse},
		{"event stream from personal resource refused", 200, sse, true, false, modeRefuse},
		{"missing type from personal resource refused", 200, none, true, false, modeRefuse},
		{"csv from plain resource streamed", 200, csvHeader, false, false, modeStream},
		{"head has no body", 200, jsonHeader, true, true, modeEmpty},
		{"no content", 204, none, true, false, modeEmpty},
		{"not modified", 304, none, true, false, modeEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := chooseMode(c.status, c.header, c.mustMask, c.head); got != c.want {
				t.Errorf("mode = %d, want %d", got, c.want)
			}
		})
	}
}

func TestRedactPathHidesLongDigitRuns(t *testing.T) {
	cases := map[string]string{
		"/api/population/persons/350203196804140613":       "/api/population/persons/*",
		"/api/population/persons/35020319680414061X/extra": "/api/population/persons/*/extra",
		"/api/phones/13812345678":                          "/api/phones/*",
		"/api/population/census/350203":                    "/api/population/census/350203",
		"/api/enterprise/companies/91350200MA3MEBQL6X":     "/api/enterprise/companies/91350200MA3MEBQL6X",
		"/": "/",
	}
	for in, want := range cases {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidScenario(t *testing.T) {
	cases := map[string]bool{
		"":                         true,
		"housing_subsidy_review":   true,
		"typhoon-response-2026":    true,
		"Marketing":                false,
		"a b":                      false,
		"营销":                       false,
		strings.Repeat("a", 64):    true,
		strings.Repeat("a", 65):    false,
		"x\r\nX-Gateway-Consumer:": false,
		"350203196804140613":       false,
		"2026_review":              false,
		"_review":                  false,
	}
	for s, want := range cases {
		if got := validScenario(s); got != want {
			t.Errorf("validScenario(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	a := &App{idPrefix: "abc-", live: new(live)}
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := a.nextRequestID()
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestSubjectHashIsKeyedAndStable(t *testing.T) {
	a := &App{subjectMAC: deriveKey("k1-0123456789abcdef0123456789abcdef", "subject")}
	b := &App{subjectMAC: deriveKey("k2-0123456789abcdef0123456789abcdef", "subject")}
	id := "350203196804140613"
	if a.subjectHash("id_number", id) != a.subjectHash("id_number", id) {
		t.Errorf("hash differs between calls")
	}
	if a.subjectHash("id_number", id) == b.subjectHash("id_number", id) {
		t.Errorf("hash does not depend on the key")
	}
	if a.subjectHash("id_number", id) == a.subjectHash("credit_code", id) {
		t.Errorf("hash does not depend on the subject kind")
	}
	if strings.Contains(a.subjectHash("id_number", id), id) {
		t.Errorf("hash contains the identifier")
	}
}

func TestMaskingParsedOncePerContent(t *testing.T) {
	a := &App{live: new(live)}
	first := policy.Decision{Masks: map[string]string{"id_number": "partial", "phone": "hash"},
		Fields: []string{"name"}}
	same := policy.Decision{Masks: map[string]string{"phone": "hash", "id_number": "partial"},
		Fields: []string{"name"}}
	allFields := policy.Decision{Masks: first.Masks, Fields: nil}
	noFields := policy.Decision{Masks: first.Masks, Fields: []string{}}

	m1, err := a.masking(&first)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := a.masking(&same)
	if err != nil {
		t.Fatal(err)
	}
	if m1 != m2 {
		t.Errorf("equal decisions parsed twice")
	}
	all, err := a.masking(&allFields)
	if err != nil {
		t.Fatal(err)
	}
	if all.scope != nil {
		t.Errorf("nil fields gave a scope; want every field kept")
	}
	none, err := a.masking(&noFields)
	if err != nil {
		t.Fatal(err)
	}
	if none.scope == nil {
		t.Errorf("empty fields gave no scope; want no field kept")
	}
	if _, err := a.masking(&policy.Decision{Masks: map[string]string{"phone": "blur"}}); err == nil {
		t.Errorf("unknown strategy accepted")
	}
}

func TestStripInboundDropsConnectionNamedHeaders(t *testing.T) {
	h := http.Header{}
	h.Add("Connection", "keep-alive, X-Hop")
	h.Add("Connection", "X-Other-Hop")
	h.Set("X-Hop", "1")
	h.Set("X-Other-Hop", "1")
	h.Set("X-Gateway-Consumer", "forged")
	h.Set("Cookie", "session=abc")
	h.Set("Range", "bytes=0-10")
	h.Set("Accept", "application/json")
	stripInbound(h)
	for _, name := range []string{"Connection", "X-Hop", "X-Other-Hop", "X-Gateway-Consumer", "Cookie", "Range"} {
		if h.Get(name) != "" {
			t.Errorf("header %s survived", name)
		}
	}
	if h.Get("Accept") == "" {
		t.Errorf("Accept was removed")
	}
}

func TestHasPersonalNumber(t *testing.T) {
	cases := map[string]bool{
		"attachment; filename=350203196804140613.json": true,
		"/records?phone=13812345678":                   true,
		"max-age=60":                                   false,
		"Fri, 04 Dec 2026 16:33:49 GMT":                false,
		"order 20000000000000000 is not personal":      false,
	}
	for value, want := range cases {
		if got := hasPersonalNumber(value); got != want {
			t.Errorf("hasPersonalNumber(%q) = %v, want %v", value, got, want)
		}
	}
}
