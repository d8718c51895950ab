package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPathTricks sends request targets byte for byte and checks that none
// reaches a resource the policy refuses, or a resource other than the one
// the cleaned path names, and that the upstream receives exactly the
// cleaned path.
func TestPathTricks(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources()})
	gw := strings.TrimPrefix(s.base, "http://")
	adoption := "/api/civil/adoptions/" + person
	longPlain := hostileOpen + strings.Repeat("seg/", 1500) + "x"

	cases := []struct {
		name   string
		target string
		want   []int
		// upstream is the path the hostile upstream must receive when the
		// call is served.
		upstream string
	}{
		{"dot segments into a not shared resource",
			"/api/population/persons/../../civil/adoptions/" + person, []int{403}, ""},
		{"dot segments after the subject",
			"/api/population/persons/" + person + "/../../../civil/adoptions/" + person, []int{403}, ""},
		{"dot segments out of a not shared resource",
			adoption + "/../../../population/persons/" + person, []int{200}, ""},
		{"dot segments between hostile resources", hostileOpen + "../secret/x", []int{403}, ""},
		{"single and double dot", hostileOpen + "./../secret/x", []int{403}, ""},
		{"encoded dots lower case", hostileOpen + "%2e%2e/secret/x", []int{403}, ""},
		{"encoded dots upper case", hostileOpen + "%2E%2E/secret/x", []int{403}, ""},
		{"half encoded dots", hostileOpen + ".%2e/secret/x", []int{403}, ""},
		{"encoded slash", hostileOpen + "..%2fsecret/x", []int{400}, ""},
		{"encoded slash in the prefix", "/api/hostile/open%2F..%2Fsecret/x", []int{400}, ""},
		{"double encoded dots", hostileOpen + "%252e%252e/secret/x", []int{400}, ""},
		{"doubled slash", "/api/hostile//secret/x", []int{403}, ""},
		{"leading doubled slash", "//api/hostile/secret/x", []int{403}, ""},
		{"doubled slash served cleaned", hostileOpen + "/x//y", []int{200}, hostileOpen + "x/y"},
		{"backslashes", hostileOpen + `..\..\secret\x`, []int{400}, ""},
		{"encoded backslashes", hostileOpen + "%5C..%5Csecret/x", []int{400}, ""},
		{"encoded backslash lower case", hostileOpen + "x%5cy", []int{400}, ""},
		{"upper case prefix", "/API/hostile/secret/x", []int{404}, ""},
		{"capitalised segment", "/api/Hostile/secret/x", []int{404}, ""},
		{"upper case resource segment", "/api/hostile/SECRET/x", []int{404}, ""},
		{"letter case kept upstream", hostileOpen + "MiXeD", []int{200}, hostileOpen + "MiXeD"},
		{"trailing dot on the prefix", "/api/hostile/secret./x", []int{400}, ""},
		{"trailing dot on the last segment", hostileOpen + "x.", []int{400}, ""},
		{"three dots", hostileOpen + ".../secret/x", []int{400}, ""},
		{"semicolon before dot segment", "/api/hostile/open;/../secret/x", []int{400}, ""},
		{"matrix parameter on the prefix", "/api/hostile/secret;v=1/x", []int{400}, ""},
		{"session parameter", hostileOpen + "x;jsessionid=1", []int{400}, ""},
		{"encoded semicolon", hostileOpen + "x%3Bjsessionid=1", []int{400}, ""},
		{"encoded NUL", hostileOpen + "x%00", []int{400}, ""},
		{"encoded CRLF", hostileOpen + "x%0d%0aX-Injected:%201", []int{400}, ""},
		{"encoded tab", "/api/hostile/secret%09/x", []int{400}, ""},
		{"overlong UTF-8 dots", hostileOpen + "%C0%AE%C0%AE/secret/x", []int{400}, ""},
		{"IIS unicode escape", hostileOpen + "%u002e%u002e/secret/x", []int{400}, ""},
		{"fragment then dot segments", hostileOpen + "x#/../../secret/y", []int{403}, ""},
		{"absolute form with dot segments", "http://" + gw + hostileOpen + "../secret/x", []int{403}, ""},
		{"UTF-8 segment", hostileOpen + "%E5%8E%A6%E9%97%A8", []int{200}, hostileOpen + "厦门"},
		{"encoded query and fragment marks", hostileOpen + "a%3Fb%23c", []int{200}, hostileOpen + "a?b#c"},
		{"encoded space", hostileOpen + "a%20b", []int{200}, hostileOpen + "a b"},
		{"dot segments in the query only", hostileOpen + "x?p=../../secret", []int{200}, hostileOpen + "x"},
		{"Cyrillic look-alike", "/api/hostile/%D1%95ecret/x", []int{404}, ""},
		{"encoded trailing space", "/api/hostile/secret%20/x", []int{404}, ""},
		{"prefix without trailing slash", "/api/hostile/secret", []int{403}, ""},
		{"climb to the parent folder", hostileOpen + "..", []int{404}, ""},
		{"climb above the root", hostileOpen + strings.Repeat("../", 50) + "api/hostile/secret/x", []int{400}, ""},
		{"overlong path of dot segments", hostileOpen + strings.Repeat("a/../", 2000) + "x", []int{200}, hostileOpen + "x"},
		{"overlong plain path", longPlain, []int{200, 414, 431}, longPlain},
		{"encoded subject", "/api/population/persons/%33%35%30" + person[3:], []int{200}, ""},
		// A fullwidth solidus is one character inside a segment; an upstream
		// that applies NFKC would read it as "/". Refusing it is also right.
		{"fullwidth solidus", hostileOpen + "..%EF%BC%8Fsecret", []int{200, 400}, hostileOpen + "..／secret"},
	}

	var ledger auditLedger
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.allHits())
			r := s.rawCall(tc.target)
			if r.err != nil {
				t.Fatalf("GET %.80s: %v", tc.target, r.err)
			}
			if r.rid() != "" {
				ledger.add(r)
			}
			if !slices.Contains(tc.want, r.status) {
				t.Fatalf("status = %d, want one of %v; body: %.300s", r.status, tc.want, r.body)
			}
			wantNoLeak(t, r)
			if r.status != http.StatusOK {
				// Go's HTTP server rejects some targets before any handler
				// runs, without a request id or a JSON body.
				if r.rid() != "" {
					wantGatewayError(t, r)
				}
				if n := len(h.allHits()) - before; n != 0 {
					t.Errorf("refused call reached the hostile upstream %d times", n)
				}
				return
			}
			if tc.upstream == "" {
				return
			}
			var echo hit
			if err := json.Unmarshal(r.body, &echo); err != nil {
				t.Fatalf("echo body is not JSON: %v", err)
			}
			if echo.Path != tc.upstream {
				t.Errorf("upstream received path %.120q, want %.120q", echo.Path, tc.upstream)
			}
		})
	}

	t.Run("not shared upstream never called", func(t *testing.T) {
		if hits := h.hitsUnder(hostileSecret); len(hits) != 0 {
			t.Errorf("the not shared resource's upstream got %d requests, first %.120q",
				len(hits), hits[0].RequestURI)
		}
	})
	t.Run("upstream request targets are unambiguous", func(t *testing.T) {
		for _, x := range h.allHits() {
			if problem := ambiguousTarget(x); problem != "" {
				t.Errorf("upstream request target %.120q: %s", x.RequestURI, problem)
			}
		}
	})
	t.Run("one audit record per call", func(t *testing.T) {
		ledger.check(t, s, 10*time.Second)
	})
}

// ambiguousTarget reports why a request target, as the upstream received
// it, could be read differently by another server; "" when it cannot.
func ambiguousTarget(x hit) string {
	raw, _, _ := strings.Cut(x.RequestURI, "?")
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "its escapes do not decode: " + err.Error()
	}
	if decoded != x.Path {
		return "it decodes to " + decoded + ", not to the path the upstream used"
	}
	lower := strings.ToLower(raw)
	for _, bad := range []string{"%2f", "%5c", "%25", "%2e", "\\", ";"} {
		if strings.Contains(lower, bad) {
			return "it holds " + bad
		}
	}
	segments := strings.Split(strings.TrimSuffix(decoded, "/"), "/")[1:]
	for _, seg := range segments {
		if seg == "" || seg == "." || seg == ".." || strings.HasSuffix(seg, ".") {
			return "it has an empty, dot or trailing-dot segment"
		}
	}
	return ""
}

// TestClientHeadersIgnored sends copies of the headers through which the
// gateway identifies the caller to the provider, and checks that the
// provider receives only the gateway's values and never the credential.
func TestClientHeadersIgnored(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources()})

	gatewayHeaders := []string{"X-Gateway-Consumer", "X-Gateway-Org-Code",
		"X-Gateway-Scenario", "X-Gateway-Grant", "X-Gateway-Client-Ip", "X-Request-Id"}
	forged := []string{
		"X-Gateway-Consumer", "forged-consumer",
		"X-Gateway-Org-Code", "91350200MA3M0RBR75",
		"X-Gateway-Scenario", "forged_scenario",
		"X-Gateway-Grant", "forged-grant",
		"X-Gateway-Client-Ip", "203.0.113.9",
		"X-Request-Id", "forged-request-id",
		"Forwarded", "for=203.0.113.9;proto=https",
		"X-Real-Ip", "203.0.113.9",
		"X-Forwarded-For", "203.0.113.9",
		"X-Client-Ip", "203.0.113.9",
		"True-Client-Ip", "203.0.113.9",
		"Proxy-Authorization", "Basic Zm9yZ2VkOmZvcmdlZA==",
	}
	cases := []struct {
		name   string
		header []string
	}{
		{"plain copies", forged},
		{"copies named in Connection", append(slices.Clone(forged),
			"Connection", strings.Join(gatewayHeaders, ", ")+", Authorization")},
		{"copies sent twice", append(slices.Clone(forged), forged...)},
		{"lower case copies", lowerNames(forged)},
		// CGI turns "-" into "_" in its HTTP_* variables (RFC 3875,
		// section 4.1.18), so behind CGI these are copies too.
		{"underscore copies", underscoreNames(forged)},
	}

	var ledger auditLedger
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := hostileOpen + "headers/" + string(rune('a'+i))
			r := s.rawCall(path, tc.header...)
			if r.err != nil {
				t.Fatalf("GET %s: %v", path, r.err)
			}
			ledger.add(r)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200; body: %.300s", r.status, r.body)
			}
			hits := h.hitsUnder(path)
			if len(hits) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(hits))
			}
			got := hits[0].Header
			want := map[string]string{
				"X-Gateway-Consumer":  "siming-civil-affairs",
				"X-Gateway-Org-Code":  "11350203003627183M",
				"X-Gateway-Scenario":  "social_assistance_review",
				"X-Gateway-Client-Ip": "127.0.0.1",
				"X-Request-Id":        r.rid(),
				"X-Forwarded-For":     "127.0.0.1",
			}
			for name, value := range want {
				if v := got.Values(name); len(v) != 1 || v[0] != value {
					t.Errorf("upstream saw %s = %q, want only %q", name, v, value)
				}
			}
			for _, name := range []string{"X-Gateway-Grant", "Forwarded", "X-Real-Ip",
				"X-Client-Ip", "True-Client-Ip", "Authorization", "Proxy-Authorization"} {
				if v := got.Values(name); len(v) != 0 {
					t.Errorf("upstream saw %s = %q, want none", name, v)
				}
			}
			for name, values := range got {
				if isVariantOf(name, gatewayHeaders) || isVariantOf(name, []string{"Authorization"}) {
					t.Errorf("upstream saw %s = %q, a variant spelling of a gateway header", name, values)
				}
			}
			key := s.keys["KEY_SIMING_CIVIL"]
			for name, values := range got {
				if strings.Contains(strings.Join(values, " "), key) {
					t.Errorf("upstream saw the consumer's API key in %s", name)
				}
			}
		})
	}
	t.Run("one audit record per call", func(t *testing.T) {
		ledger.check(t, s, 10*time.Second)
	})
}

func lowerNames(pairs []string) []string {
	out := slices.Clone(pairs)
	for i := 0; i < len(out); i += 2 {
		out[i] = strings.ToLower(out[i])
	}
	return out
}

func underscoreNames(pairs []string) []string {
	out := slices.Clone(pairs)
	for i := 0; i < len(out); i += 2 {
		out[i] = strings.ReplaceAll(out[i], "-", "_")
	}
	return out
}

// isVariantOf reports whether name is one of names spelt another way,
// with underscores for hyphens, that a server may still read as it.
func isVariantOf(name string, names []string) bool {
	for _, n := range names {
		if name != http.CanonicalHeaderKey(n) &&
			strings.EqualFold(strings.ReplaceAll(name, "_", "-"), n) {
			return true
		}
	}
	return false
}

// responseCase is one upstream response and the statuses the gateway may
// return for it.
type responseCase struct {
	name     string
	resource string // hostilePersonal unless set
	method   string
	header   []string
	serve    http.HandlerFunc
	want     []int
	// within bounds the whole call, for responses that never end.
	within time.Duration
}

func TestHostileResponses(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources(), maxBody: "256KiB"})
	record := []byte(recordJSON)
	deep := strings.Repeat(`{"a":`, 600) + `"` + plantedIDA + `"` + strings.Repeat("}", 600)
	nested := strings.Repeat(`[`, 100) + `"` + plantedIDA + `"` + strings.Repeat("]", 100)
	bomb := gzipped([]byte(`[` + strings.Repeat(recordJSON+`,`, 4000) + `0]`))
	birth := plantedIDA[6:14]
	rangeStart := strings.Index(recordJSON, birth)

	cases := []responseCase{
		{name: "plain record", serve: sendJSON(200, "application/json", recordJSON), want: []int{200}},
		{name: "head", method: http.MethodHead, serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Etag", `"`+plantedIDB+`"`)
			sendJSON(200, "application/json", recordJSON)(w, r)
		}, want: []int{200}},
		{name: "created", serve: sendJSON(201, "application/json", recordJSON), want: []int{201}},
		{name: "no content", serve: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(204)
		}, want: []int{204}},
		{name: "not modified", header: []string{"If-None-Match", `"v1"`},
			serve: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Etag", `"v1"`)
				w.WriteHeader(304)
			}, want: []int{304}},
		{name: "404 echoing a record", serve: sendJSON(404, "application/json",
			`{"error":"not found","record":`+recordJSON+`}`), want: []int{404}},
		{name: "500 echoing a record", serve: sendJSON(500, "application/json",
			`{"error":"database error","record":`+recordJSON+`}`), want: []int{500}},
		{name: "problem JSON error", serve: sendJSON(422, "application/problem+json",
			`{"type":"about:blank","detail":"`+plantedIDA+`"}`), want: []int{422}},
		{name: "500 as plain text", serve: sendJSON(500, "text/plain", "error for "+plantedIDA),
			want: []int{502}},
		{name: "mixed case media type with spaces", serve: sendJSON(200,
			"Application/JSON ; charset=UTF-8", recordJSON), want: []int{200}},
		{name: "vendor JSON media type", serve: sendJSON(200, "application/vnd.x+json", recordJSON),
			want: []int{200}},
		{name: "JSON media type without space", serve: sendJSON(200,
			"application/json;charset=utf-8", recordJSON), want: []int{200}},
		{name: "malformed media type", serve: sendJSON(200, "application/json; charset", recordJSON),
			want: []int{502}},
		{name: "no content type", serve: sendJSON(200, "", recordJSON), want: []int{502}},
		{name: "HTML media type", serve: sendJSON(200, "text/html", recordJSON), want: []int{502}},
		{name: "chunked", serve: sendChunked(recordJSON, 7), want: []int{200}},
		{name: "gzip", header: []string{"Accept-Encoding", "gzip"},
			serve: sendEncoded("gzip", gzipped(record)), want: []int{200}},
		{name: "x-gzip", serve: sendEncoded("x-gzip", gzipped(record)), want: []int{200}},
		{name: "deflate zlib", serve: sendEncoded("deflate", zlibbed(record)), want: []int{200}},
		{name: "deflate raw", serve: sendEncoded("deflate", deflated(record)), want: []int{200}},
		{name: "brotli", serve: sendEncoded("br", brotlied(record)), want: []int{200}},
		{name: "zstd", serve: sendEncoded("zstd", zstded(record)), want: []int{200}},
		{name: "gzip then brotli", serve: sendEncoded("gzip, br", brotlied(gzipped(record))),
			want: []int{200}},
		{name: "upper case encoding", serve: sendEncoded("GZIP", gzipped(record)), want: []int{200}},
		{name: "unknown encoding", serve: sendEncoded("compress", record), want: []int{502}},
		{name: "stacked with unknown encoding", serve: sendEncoded("gzip, x-custom", gzipped(record)),
			want: []int{502}},
		{name: "gzip that is not gzip", serve: sendEncoded("gzip", record), want: []int{502}},
		{name: "gzip bomb over max_body", serve: sendEncoded("gzip", bomb), want: []int{502}},
		{name: "byte order mark", serve: sendJSON(200, "application/json", "\xEF\xBB\xBF"+recordJSON),
			want: []int{200}},
		{name: "truncated JSON", serve: sendJSON(200, "application/json", recordJSON[:len(recordJSON)-9]),
			want: []int{502}},
		{name: "invalid JSON", serve: sendJSON(200, "application/json",
			`{"id_number":"`+plantedIDA+`",}`), want: []int{502}},
		{name: "two JSON documents", serve: sendJSON(200, "application/json", recordJSON+recordJSON),
			want: []int{502}},
		{name: "empty JSON body", serve: sendJSON(200, "application/json", ""), want: []int{502}},
		{name: "NaN literal", serve: sendJSON(200, "application/json",
			`{"id_number":"`+plantedIDA+`","x":NaN}`), want: []int{502}},
		{name: "huge numbers", serve: sendJSON(200, "application/json",
			`{"a":1e999999,"b":-99999999999999999999999999999999.5e-400,"c":`+recordJSON+`}`),
			want: []int{200}},
		{name: "identity numbers as numbers", serve: sendJSON(200, "application/json",
			`{"id_number":`+plantedIDA+`,"phone":`+plantedPhoneA+`,"other":`+plantedIDB+
				`,"list":[`+plantedPhoneB+`,`+plantedIDA+`]}`), want: []int{200}},
		{name: "nesting over 512", serve: sendJSON(200, "application/json", deep), want: []int{502}},
		{name: "nesting of 100", serve: sendJSON(200, "application/json", nested), want: []int{200}},
		{name: "escaped keys", serve: sendJSON(200, "application/json",
			`{"\u0069d_number":"`+plantedIDA+`","ph\u006fne":"`+plantedPhoneA+`"}`), want: []int{200}},
		{name: "escaped values", serve: sendJSON(200, "application/json",
			`{"note":"\u0033\u0035\u0030`+plantedIDA[3:]+`","tel":"\u0031`+plantedPhoneA[1:]+
				`","path":"\/persons\/`+plantedIDB+`"}`), want: []int{200}},
		{name: "duplicate keys", serve: sendJSON(200, "application/json",
			`{"id_number":"x","id_number":"`+plantedIDA+`","phone":"1","phone":"`+plantedPhoneA+`"}`),
			want: []int{200}},
		{name: "top level array", serve: sendJSON(200, "application/json",
			`[`+recordJSON+`,"`+plantedIDB+`",`+plantedPhoneB+`]`), want: []int{200}},
		{name: "top level string", serve: sendJSON(200, "application/json", `"`+plantedIDA+`"`),
			want: []int{200}},
		{name: "identity numbers as object keys", serve: sendJSON(200, "application/json",
			`{"`+plantedIDA+`":{"name":"欧阳天佑"},"`+plantedPhoneA+`":1}`), want: []int{200, 502}},
		{name: "invalid UTF-8", serve: sendJSON(200, "application/json",
			`{"name":"\xff\xfe","id_number":"`+plantedIDA+`"}`), want: []int{502}},
		{name: "invalid UTF-8 in a key", serve: sendJSON(200, "application/json",
			`{"\xc0\xafid":"`+plantedIDA+`"}`), want: []int{502}},
		{name: "lone surrogate escape", serve: sendJSON(200, "application/json",
			`{"name":"\ud800","id_number":"`+plantedIDA+`"}`), want: []int{200, 502}},
		{name: "identity numbers in response headers", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", hostilePersonal+"records/"+plantedIDB)
			w.Header().Set("Content-Disposition", `attachment; filename="`+plantedIDB+`.json"`)
			w.Header().Set("X-Debug-Subject", plantedIDX+" "+plantedPhoneB)
			sendJSON(201, "application/json", `{"status":"created"}`)(w, r)
		}, want: []int{201, 502}},
		{name: "range request cutting out birth date digits",
			header: []string{"Range", "bytes=" + strconv.Itoa(rangeStart) + "-" +
				strconv.Itoa(rangeStart+len(birth)-1)},
			serve: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				http.ServeContent(w, r, "", time.Time{}, strings.NewReader(recordJSON))
			}, want: []int{200, 502}},
		{name: "server-sent events never ending", serve: sendEvents, want: []int{502},
			within: 5 * time.Second},
		{name: "endless JSON array", serve: sendEndlessJSON, want: []int{502}, within: 10 * time.Second},
		{name: "reset mid-body", serve: sendRaw(cutResponse("application/json"), true),
			want: []int{502}},
		{name: "closed mid-body", serve: sendRaw(cutResponse("application/json"), false),
			want: []int{502}},
		{name: "reset mid-body without personal fields", resource: hostileOpen,
			serve: sendRaw(cutResponse("application/json"), true), want: []int{502}},
		{name: "reset before the head", serve: sendRaw("", true), want: []int{502}},
		{name: "garbage instead of a head", serve: sendRaw("SSH-2.0-OpenSSH\r\n\r\n", false),
			want: []int{502}},
		{name: "redirect with a record in the body", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(302)
			_, _ = w.Write(record)
		}, want: []int{302}},
	}

	var ledger auditLedger
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.handle(tc.name, tc.serve)
			resource := tc.resource
			if resource == "" {
				resource = hostilePersonal
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			within := tc.within
			if within == 0 {
				within = 10 * time.Second
			}
			path := resource + "case/" + url.PathEscape(tc.name)
			r := s.call(method, path, "KEY_SIMING_CIVIL", "social_assistance_review", within, tc.header...)
			ledger.add(r)
			if r.err != nil {
				t.Fatalf("%s %s: no complete response after %v: %v", method, path, r.elapsed, r.err)
			}
			if !slices.Contains(tc.want, r.status) {
				t.Errorf("status = %d, want one of %v; body: %.300q", r.status, tc.want, r.body)
			}
			wantNoLeak(t, r)
			if r.status == http.StatusBadGateway {
				wantGatewayError(t, r)
			}
			if tc.within > 0 {
				select {
				case <-h.endedCh(tc.name):
				case <-time.After(5 * time.Second):
					t.Errorf("the gateway kept the upstream request open 5s after answering")
				}
			}
		})
	}
	t.Run("one audit record per call", func(t *testing.T) {
		ledger.check(t, s, 10*time.Second)
	})
	t.Run("no identity number in logs", func(t *testing.T) {
		logs := s.logs.String()
		if loc := rawID.FindStringIndex(logs); loc != nil {
			t.Errorf("gateway log holds an identity number at byte %d", loc[0])
		}
	})
}

// TestSubjectRefusalsKeepIdentityNumbers sends identity numbers where the
// resource expects another kind of subject: the 400 must not echo them,
// nor may the audit record or the log keep them.
func TestSubjectRefusalsKeepIdentityNumbers(t *testing.T) {
	s := startStack(t, stackOptions{})
	cases := []struct {
		name    string
		path    string
		key     string
		subject string
	}{
		{"identity number as a credit code", "/api/enterprise/companies/" + plantedIDA,
			"KEY_SIMING_CIVIL", plantedIDA},
		{"identity number ending in x as a credit code",
			"/api/enterprise/companies/" + strings.ToLower(plantedIDX), "KEY_SIMING_CIVIL", plantedIDX},
		{"identity number with a bad check digit", "/api/population/persons/" + personBadCheck,
			"KEY_SIMING_CIVIL", personBadCheck},
		{"identity number with lower case x", "/api/population/persons/" + strings.ToLower(plantedIDX),
			"KEY_SIMING_CIVIL", plantedIDX},
	}
	var ledger auditLedger
	var subjects []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subjects = append(subjects, tc.subject, strings.ToLower(tc.subject))
			r := s.call("GET", tc.path, tc.key, "social_assistance_review", 10*time.Second)
			ledger.add(r)
			if r.err != nil {
				t.Fatalf("GET: %v", r.err)
			}
			if r.status == http.StatusOK {
				wantNoLeak(t, r)
				return
			}
			if strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(tc.subject)) {
				t.Errorf("the %d refusal echoes the subject", r.status)
			}
		})
	}
	t.Run("one audit record per call", func(t *testing.T) {
		ledger.check(t, s, 10*time.Second)
	})
	t.Run("no subject in redis or logs", func(t *testing.T) {
		checkNoSecrets(t, s, subjects)
	})
}

// TestInterimAndTrailersKeepIdentityNumbers reads the gateway's whole
// response off the wire, interim 1xx responses and trailers included,
// for upstreams that put personal values there rather than in the body.
func TestInterimAndTrailersKeepIdentityNumbers(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources()})
	cases := []struct {
		name  string
		serve http.HandlerFunc
	}{
		{"early hints with personal values", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</persons/"+plantedIDB+">; rel=preload")
			w.Header().Set("X-Debug-Subject", plantedIDX+" "+plantedPhoneB)
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Del("X-Debug-Subject")
			sendJSON(200, "application/json", recordJSON)(w, r)
		}},
		{"trailers with personal values", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Trailer", "X-Debug-Subject")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(recordJSON))
			w.Header().Set("X-Debug-Subject", plantedIDB+" "+plantedPhoneB)
		}},
	}
	var ledger auditLedger
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.handle(tc.name, tc.serve)
			raw, err := s.rawExchange(hostilePersonal + "case/" + url.PathEscape(tc.name))
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			ledger.anonymousCall()
			if !strings.Contains(string(raw), " 200 ") {
				t.Errorf("response is not a 200: %.300q", raw)
			}
			for _, l := range leaks(nil, raw) {
				t.Errorf("bytes on the wire leak a personal value: %s", l)
			}
		})
	}
	t.Run("one audit record per call", func(t *testing.T) {
		ledger.check(t, s, 10*time.Second)
	})
}

// TestWriteMethodsNotForwarded checks that a share or open grant, which
// lets a consumer read data, never lets it change the provider's data:
// neither by a write method nor by a method-override header on a GET.
func TestWriteMethodsNotForwarded(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources()})
	overrides := []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}
	cases := []struct {
		name   string
		method string
		header []string
		want   []int
	}{
		{"post", http.MethodPost, nil, []int{403, 405}},
		{"put", http.MethodPut, nil, []int{403, 405}},
		{"patch", http.MethodPatch, nil, []int{403, 405}},
		{"delete", http.MethodDelete, nil, []int{403, 405}},
		{"trace", http.MethodTrace, nil, []int{403, 405}},
		{"get with method override headers", http.MethodGet,
			[]string{overrides[0], "DELETE", overrides[1], "DELETE", overrides[2], "DELETE"},
			[]int{200, 400}},
	}
	var ledger auditLedger
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := hostileOpen + "methods/" + strconv.Itoa(i)
			r := s.call(tc.method, path, "KEY_SIMING_CIVIL", "social_assistance_review",
				10*time.Second, tc.header...)
			if r.err != nil {
				t.Fatalf("%s: %v", tc.method, r.err)
			}
			ledger.add(r)
			if !slices.Contains(tc.want, r.status) {
				t.Errorf("status = %d, want one of %v", r.status, tc.want)
			}
			for _, x := range h.hitsUnder(path) {
				for _, name := range overrides {
					if v := x.Header.Get(name); v != "" {
						t.Errorf("upstream received %s: %s", name, v)
					}
				}
			}
			if n := len(h.hitsUnder(path)); tc.method != http.MethodGet && n != 0 {
				t.Errorf("upstream received the %s %d times", tc.method, n)
			}
		})
	}
	t.Run("one audit record per call", func(t *testing.T) {
		ledger.check(t, s, 10*time.Second)
	})
}
