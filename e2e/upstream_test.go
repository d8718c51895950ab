package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/citydata/datagateway/gateway/identity"
)

// Values a hostile upstream puts in its bodies. None of them may reach a
// consumer in clear: the identity numbers have valid check characters and
// the phones are mainland mobile numbers, so the backstop must catch them
// even where no field path declares them.
var (
	plantedIDA    = person // also the demo providers' subject
	plantedIDB    = validID("11010519800101001")
	plantedIDX    = idEndingInX("44030419900101")
	plantedPhoneA = "13800138000"
	plantedPhoneB = "15912345678"
)

// secretFragments are the strings whose presence in a response, in any
// letter case, means a planted value went out in clear: each value whole,
// and the eight birth-date digits that a partial mask of an identity
// number hides.
var secretFragments = func() []string {
	out := []string{plantedPhoneA, plantedPhoneB}
	for _, id := range []string{plantedIDA, plantedIDB, plantedIDX} {
		out = append(out, id, id[6:14])
	}
	return out
}()

func validID(first17 string) string {
	c, err := identity.IDCheckChar(first17)
	if err != nil {
		panic(fmt.Sprintf("computing check character of %q: %v", first17, err))
	}
	return first17 + string(c)
}

// idEndingInX returns the first valid identity number after the 14-digit
// prefix whose check character is X.
func idEndingInX(prefix14 string) string {
	for seq := 100; seq < 1000; seq++ {
		id := validID(fmt.Sprintf("%s%03d", prefix14, seq))
		if id[17] == 'X' {
			return id
		}
	}
	panic("no identity number with check character X")
}

// recordJSON is a person record as a provider would send it: declared
// fields, an array of records, and free text that only the backstop scan
// can find.
var recordJSON = fmt.Sprintf(`{"id_number":%q,"name":"欧阳天佑","phone":%q,`+
	`"note":"联系人%s，身份证%s","items":[{"id_number":%q},{"id_number":%q}],`+
	`"remark":"证件号 %s"}`,
	plantedIDA, plantedPhoneA, plantedPhoneB, plantedIDB, plantedIDB, plantedIDA,
	strings.ToLower(plantedIDX))

// Catalogue resources served by the hostile upstream.
const (
	hostileOpen     = "/api/hostile/open/"     // unconditional, no personal field
	hostilePersonal = "/api/hostile/personal/" // unconditional, personal fields
	hostileSecret   = "/api/hostile/secret/"   // not shared
)

// hostileUpstream is a provider under the tests' control on loopback. A
// path "<prefix>case/<name>" is served by the handler registered under
// that name. Any other path is echoed back as JSON with the received
// headers. Every request is recorded.
type hostileUpstream struct {
	srv *httptest.Server

	mu    sync.Mutex
	cases map[string]http.HandlerFunc
	ended map[string]chan struct{}
	hits  []hit
	// inflight counts case handlers still running.
	inflight atomic.Int64
}

// hit is one request as the upstream received it.
type hit struct {
	Path       string      `json:"path"`
	RawPath    string      `json:"raw_path"`
	RequestURI string      `json:"request_uri"`
	Query      string      `json:"query"`
	Header     http.Header `json:"header"`
}

func startHostile(t *testing.T) *hostileUpstream {
	t.Helper()
	h := &hostileUpstream{
		cases: map[string]http.HandlerFunc{},
		ended: map[string]chan struct{}{},
	}
	// A bare handler, not a ServeMux: a ServeMux would clean the path and
	// hide what the gateway sent.
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

// resources returns the catalogue entries that point at the upstream.
func (h *hostileUpstream) resources() []map[string]any {
	base := map[string]any{
		"provider": "hostile-lab",
		"upstream": h.srv.URL,
		"share":    "unconditional",
		"open":     "not_open",
	}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return []map[string]any{
		with(map[string]any{"id": "hostile.open", "name": "测试：无个人信息",
			"path_prefix": hostileOpen}),
		with(map[string]any{"id": "hostile.personal", "name": "测试：含个人信息",
			"path_prefix": hostilePersonal,
			"fields": []map[string]string{
				{"path": "id_number", "class": "id_number"},
				{"path": "name", "class": "name"},
				{"path": "phone", "class": "phone"},
				{"path": "items.#.id_number", "class": "id_number"},
			}}),
		with(map[string]any{"id": "hostile.secret", "name": "测试：暂不共享",
			"path_prefix": hostileSecret, "share": "not_shared",
			"legal_basis": "测试用法律依据"}),
	}
}

// handle registers the handler of one case. ended(name) is closed when
// the handler first returns, which for a handler that streams or hangs
// means the gateway closed the upstream request.
func (h *hostileUpstream) handle(name string, fn http.HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cases[name] = fn
	h.ended[name] = make(chan struct{})
}

func (h *hostileUpstream) endedCh(name string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ended[name]
}

func (h *hostileUpstream) serve(w http.ResponseWriter, r *http.Request) {
	rec := hit{Path: r.URL.Path, RawPath: r.URL.RawPath, RequestURI: r.RequestURI,
		Query: r.URL.RawQuery, Header: r.Header.Clone()}
	h.mu.Lock()
	h.hits = append(h.hits, rec)
	var fn http.HandlerFunc
	var ended chan struct{}
	for _, prefix := range []string{hostileOpen, hostilePersonal, hostileSecret} {
		if name, ok := strings.CutPrefix(r.URL.Path, prefix+"case/"); ok {
			fn, ended = h.cases[name], h.ended[name]
		}
	}
	h.mu.Unlock()

	if fn == nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rec)
		return
	}
	h.inflight.Add(1)
	defer h.inflight.Add(-1)
	defer func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		select {
		case <-ended:
		default:
			close(ended)
		}
	}()
	fn(w, r)
}

// waitIdle waits until no case handler runs, and reports whether that
// happened within d.
func (h *hostileUpstream) waitIdle(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for h.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// hitsUnder returns the requests received for paths under prefix.
func (h *hostileUpstream) hitsUnder(prefix string) []hit {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hit
	for _, x := range h.hits {
		if strings.HasPrefix(x.Path, prefix) {
			out = append(out, x)
		}
	}
	return out
}

func (h *hostileUpstream) allHits() []hit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hit(nil), h.hits...)
}

// Upstream handlers used by the tests.

func sendJSON(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType == "" {
			// Keep net/http from sniffing one.
			w.Header()["Content-Type"] = nil
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func sendEncoded(encoding string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", encoding)
		_, _ = w.Write(body)
	}
}

// sendChunked writes the body in pieces, flushing each, so it travels
// with chunked transfer coding.
func sendChunked(body string, pieces int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		step := max(1, len(body)/pieces)
		for i := 0; i < len(body); i += step {
			_, _ = io.WriteString(w, body[i:min(len(body), i+step)])
			http.NewResponseController(w).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// sendEvents streams server-sent events that hold personal data until the
// gateway closes the request, or for at most 30 seconds.
func sendEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", recordJSON); err != nil {
			return
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

// sendEndlessJSON streams an array of records that never ends, until the
// gateway closes the request or 30 seconds pass.
func sendEndlessJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "[")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && r.Context().Err() == nil {
		if _, err := io.WriteString(w, recordJSON+","); err != nil {
			return
		}
	}
}

// hang waits until the gateway gives up the request, for at most limit,
// after sending the head (and a first part of the body) when head is set.
func hang(head bool, limit time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if head {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, recordJSON[:len(recordJSON)/2])
			http.NewResponseController(w).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(limit):
		}
	}
}

// sendRaw writes raw bytes on the connection, bypassing net/http's
// framing, then closes it; with reset the close sends a TCP RST.
func sendRaw(raw string, reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(fmt.Sprintf("hijacking upstream connection: %v", err))
		}
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
		if tcp, ok := conn.(*net.TCPConn); ok && reset {
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
	}
}

// cutResponse is a response head that promises more body than it sends,
// followed by the first part of a record.
func cutResponse(contentType string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(recordJSON)) +
		recordJSON[:len(recordJSON)*2/3]
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func zlibbed(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func deflated(b []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = fw.Write(b)
	_ = fw.Close()
	return buf.Bytes()
}

func brotlied(b []byte) []byte {
	var buf bytes.Buffer
	bw := brotli.NewWriter(&buf)
	_, _ = bw.Write(b)
	_ = bw.Close()
	return buf.Bytes()
}

func zstded(b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		panic(fmt.Sprintf("creating zstd encoder: %v", err))
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// reply is one call's outcome; err is set when no complete response came.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	err     error
	elapsed time.Duration
}

func (r reply) rid() string {
	if r.header == nil {
		return ""
	}
	return r.header.Get("X-Request-Id")
}

// testClient sends the tests' calls without automatic compression, so the
// gateway receives only the Accept-Encoding a test sets.
var testClient = &http.Client{
	Transport: &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: 32,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// call sends one request as the named demo consumer and never fails the
// test, so load loops may use it from several goroutines.
func (s *stack) call(method, path, keyName, scenario string, timeout time.Duration, header ...string) reply {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		return reply{err: err}
	}
	if keyName != "" {
		req.Header.Set("Authorization", "Bearer "+s.keys[keyName])
	}
	if scenario != "" {
		req.Header.Set("X-Data-Scenario", scenario)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := testClient.Do(req)
	if err != nil {
		return reply{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: body, err: err,
		elapsed: time.Since(start)}
}

// rawCall writes the request line and headers byte for byte, so the
// gateway receives a request target that no client library has normalised.
func (s *stack) rawCall(target string, header ...string) reply {
	addr := strings.TrimPrefix(s.base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return reply{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))

	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", target, addr)
	fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", s.keys["KEY_SIMING_CIVIL"])
	b.WriteString("X-Data-Scenario: social_assistance_review\r\nConnection: close\r\n")
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return reply{err: err}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// rawExchange sends a GET as the civil affairs bureau and returns every
// byte the gateway writes until it closes the connection.
func (s *stack) rawExchange(target string) ([]byte, error) {
	addr := strings.TrimPrefix(s.base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"X-Data-Scenario: social_assistance_review\r\nTE: trailers\r\nConnection: close\r\n\r\n",
		target, addr, s.keys["KEY_SIMING_CIVIL"])
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	return io.ReadAll(conn)
}

// leaks lists every planted value, and every other valid identity number,
// that the response carries in clear: in its headers, in its raw body, or
// in the strings and numbers of its body once JSON escapes are decoded.
func leaks(header http.Header, body []byte) []string {
	var texts []string
	var hb strings.Builder
	for name, values := range header {
		fmt.Fprintf(&hb, "%s: %s\n", name, strings.Join(values, ", "))
	}
	texts = append(texts, hb.String(), string(body), decodedText(body))

	var found []string
	for i, text := range texts {
		where := [...]string{"headers", "raw body", "decoded body"}[i]
		lower := strings.ToLower(text)
		for _, secret := range secretFragments {
			if strings.Contains(lower, strings.ToLower(secret)) {
				found = append(found, fmt.Sprintf("%s holds planted value %s", where, hint(secret)))
			}
		}
		if loc := rawID.FindStringIndex(strings.ToUpper(text)); loc != nil {
			found = append(found, fmt.Sprintf("%s holds an identity number at byte %d", where, loc[0]))
		}
	}
	return found
}

// decodedText returns the strings, numbers and object keys of a JSON body,
// one per line, with every escape decoded. It stops where the body stops
// being JSON.
func decodedText(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))))
	dec.UseNumber()
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return b.String()
		}
		switch v := tok.(type) {
		case string:
			b.WriteString(v)
			b.WriteByte('\n')
		case json.Number:
			b.WriteString(v.String())
			b.WriteByte('\n')
		}
	}
}

// hint names a planted value in a failure message without writing it
// out whole.
func hint(secret string) string {
	return secret[:4] + "..." + fmt.Sprintf("(%d chars)", len(secret))
}

func wantNoLeak(t *testing.T, r reply) {
	t.Helper()
	for _, l := range leaks(r.header, r.body) {
		t.Errorf("response leaks a personal value: %s", l)
	}
}

// wantGatewayError checks that a refusal is the gateway's own JSON body.
func wantGatewayError(t *testing.T, r reply) {
	t.Helper()
	var body struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == "" {
		t.Errorf("refusal body is not the gateway's JSON error: %q", r.body)
		return
	}
	if body.RequestID != r.rid() {
		t.Errorf("refusal request_id %q differs from X-Request-Id %q", body.RequestID, r.rid())
	}
}

// auditLedger counts the calls that reached the handler, to check the
// audit stream afterwards.
type auditLedger struct {
	mu  sync.Mutex
	ids []string
	// anonymous counts calls that reached the handler but whose response,
	// and so whose request id, the client never saw.
	anonymous int
}

func (l *auditLedger) add(r reply) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id := r.rid(); id != "" {
		l.ids = append(l.ids, id)
	} else {
		l.anonymous++
	}
}

// anonymousCall counts a call whose request id the test did not read.
func (l *auditLedger) anonymousCall() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.anonymous++
}

// check waits for the stream to hold one record per call and fails for a
// call without exactly one record, or for a record of no call.
func (l *auditLedger) check(t *testing.T, s *stack, within time.Duration) {
	t.Helper()
	l.mu.Lock()
	ids, anonymous := append([]string(nil), l.ids...), l.anonymous
	l.mu.Unlock()

	want := len(ids) + anonymous
	recs := s.waitRecords(want, within)
	if len(recs) != want {
		t.Errorf("audit stream holds %d records, want %d (%d calls with a request id, %d without)",
			len(recs), want, len(ids), anonymous)
	}
	seen := map[string]int{}
	for _, rec := range recs {
		id, _ := rec["id"].(string)
		seen[id]++
	}
	missing, doubled := 0, 0
	for _, id := range ids {
		switch n := seen[id]; {
		case n == 0:
			missing++
		case n > 1:
			doubled++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d calls have no audit record", missing, len(ids))
	}
	if doubled > 0 {
		t.Errorf("%d of %d calls have more than one audit record", doubled, len(ids))
	}
}
