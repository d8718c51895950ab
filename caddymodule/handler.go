package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/identity"
	"github.com/citydata/datagateway/gateway/mask"
	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/gateway/urlpath"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Headers the gateway sets for the upstream. Any copy the client sends is
// removed first, so the provider can trust them.
const (
	HeaderConsumer  = "X-Gateway-Consumer"
	HeaderOrgCode   = "X-Gateway-Org-Code"
	HeaderScenario  = "X-Gateway-Scenario"
	HeaderGrant     = "X-Gateway-Grant"
	HeaderClientIP  = "X-Gateway-Client-Ip"
	HeaderRequestID = "X-Request-Id"
	// HeaderDataScenario is the scenario the consumer declares.
	HeaderDataScenario = "X-Data-Scenario"
	// HeaderDataSource names the provider and resource in every response.
	HeaderDataSource = "X-Data-Source"
	// HeaderDataAttribution is the source statement the consumer must cite,
	// percent-encoded UTF-8.
	HeaderDataAttribution = "X-Data-Attribution"
)

// inboundStripped are request headers removed before anything reads them:
// the gateway's own upstream headers, and forwarding headers that would let
// a client claim another address. Caddy sets X-Forwarded-For itself, from
// the TCP peer or from trusted proxies only.
var inboundStripped = []string{
	HeaderConsumer, HeaderOrgCode, HeaderScenario, HeaderGrant, HeaderClientIP,
	HeaderRequestID, "Forwarded", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip",
	// A client that names a header in Connection makes reverse_proxy drop
	// it on the way upstream, which would strip the gateway's own headers;
	// Upgrade would turn the exchange into a stream that cannot be masked.
	"Connection", "Upgrade", "Proxy-Authorization",
	// A byte range of a record can cut a masked value out of its context,
	// so the upstream always sends whole bodies.
	"Range", "If-Range",
	// Method overrides would let a read grant carry a write.
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	// Cookies belong to other systems: no credential but the gateway's
	// reaches a provider.
	"Cookie",
}

// stripInbound removes inboundStripped, and first every header the
// client names in Connection: those are hop-by-hop, and once Connection
// itself is gone reverse_proxy could no longer tell. Authorization and
// X-Data-Scenario are meant for the gateway, the hop they are named for,
// so they stay for it to read; it removes them itself.
func stripInbound(h http.Header) {
	for _, value := range h.Values("Connection") {
		for name := range strings.SplitSeq(value, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if name != "" && name != "Authorization" && name != HeaderDataScenario {
				h.Del(name)
			}
		}
	}
	for _, name := range inboundStripped {
		h.Del(name)
	}
}

// varResource is the request variable through which the handler passes the
// upstream source the resource the call resolved to.
const varResource = "data_gateway.resource"

// maxScenarioLen bounds the X-Data-Scenario header.
const maxScenarioLen = 64

// Handler enforces the data gateway's rules on every call: it
// authenticates the consumer, resolves the catalogue resource, evaluates the
// policy decision, lets the next handler (reverse_proxy with the
// data_gateway upstream source) fetch the data, masks the JSON response and
// writes one audit record.
//
// Refusals are written here as JSON and the handler returns nil, rather
// than returning an error to Caddy: Caddy's error log records the request
// URI, which may hold a raw identity number.
type Handler struct {
	app    *App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.data_gateway",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision links the handler to the data_gateway app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := ctx.App("data_gateway")
	if err != nil {
		return fmt.Errorf("getting data_gateway app: %w", err)
	}
	h.app = app.(*App)
	return nil
}

// exchange is the state of one call, gathered for the audit record.
type exchange struct {
	rid      string
	rec      *audit.Record
	consumer *catalog.Consumer
	resource *catalog.Resource
	rstate   *resourceState
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := time.Now()
	app := h.app
	rid := app.nextRequestID()
	w.Header().Set(HeaderRequestID, rid)

	ticket, err := app.writer.Reserve()
	if err != nil {
		// No record can be written, so no data may leave.
		h.logger.Error("audit unavailable, refusing request",
			zap.String("request_id", rid), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, rid,
			"audit trail unavailable: the request was not served; retry later", nil)
		return nil
	}
	rec := &audit.Record{ID: rid, Time: start, Method: r.Method, ClientIP: clientIP(r)}
	defer func() {
		rec.TotalLatency = time.Since(start)
		ticket.Commit(rec)
	}()

	stripInbound(r.Header)
	x := &exchange{rid: rid, rec: rec}
	h.serve(w, r, next, x)
	return nil
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, x *exchange) {
	app := h.app
	st := app.live.state.Load()
	rec := x.rec

	cleaned, err := urlpath.Clean(r.URL.EscapedPath())
	if err != nil {
		rec.Path = redactPath(r.URL.Path)
		h.refuse(w, x, http.StatusBadRequest, "invalid request path: "+err.Error())
		return
	}
	rec.Path = redactPath(cleaned)

	x.consumer = authenticate(st.catalog, r)
	r.Header.Del("Authorization")
	if x.consumer == nil {
		h.refuse(w, x, http.StatusUnauthorized,
			"missing or unknown credential: send Authorization: Bearer <api key>")
		return
	}
	rec.Consumer = x.consumer.ID
	rec.Org = x.consumer.Org

	x.resource = st.catalog.Resource(cleaned)
	if x.resource == nil {
		h.refuse(w, x, http.StatusNotFound, "no catalogue resource serves this path")
		return
	}
	x.rstate = st.resources[x.resource]
	rec.Resource = x.resource.ID
	rec.Provider = x.resource.Provider

	// Grants are for reading: the catalogue has no way to approve a write.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.refuse(w, x, http.StatusMethodNotAllowed,
			"method "+strconv.Quote(r.Method)+" not allowed: data resources are read with GET or HEAD")
		return
	}

	subject, err := h.subject(r, cleaned, x)
	if err != nil {
		h.refuse(w, x, http.StatusBadRequest, err.Error())
		return
	}
	if subject != "" && x.resource.Subject.In == "path" {
		rec.Path = x.resource.PathPrefix + "{" + x.resource.Subject.Kind + "}" +
			redactPath(strings.TrimPrefix(cleaned, x.resource.PathPrefix+subject))
	}

	scenarios := r.Header.Values(HeaderDataScenario)
	if len(scenarios) > 1 {
		h.refuse(w, x, http.StatusBadRequest,
			"more than one "+HeaderDataScenario+" header: declare one scenario")
		return
	}
	scenario := r.Header.Get(HeaderDataScenario)
	// The provider learns the checked scenario from X-Gateway-Scenario.
	r.Header.Del(HeaderDataScenario)
	if !validScenario(scenario) {
		h.refuse(w, x, http.StatusBadRequest, fmt.Sprintf(
			"invalid %s header: use up to %d characters of a-z, 0-9, '_' and '-', "+
				"starting with a letter",
			HeaderDataScenario, maxScenarioLen))
		return
	}
	rec.Scenario = scenario

	in := decisionInput(st.catalog, x.consumer, x.resource, policy.Request{
		Method:   r.Method,
		Path:     cleaned,
		Query:    r.URL.RawQuery,
		Scenario: scenario,
		ClientIP: rec.ClientIP,
	}, time.Now())
	grant := in.Grant
	decision, version, err := app.decide(r.Context(), x.rstate, &in, x.rid)
	rec.PolicyVersion = version
	if err != nil && r.Context().Err() != nil {
		h.clientGone(x)
		return
	}
	if err != nil {
		h.logger.Error("policy evaluation failed, refusing request",
			zap.String("request_id", x.rid), zap.String("resource", x.resource.ID),
			zap.Error(err))
		rec.Decision = "error"
		h.refuse(w, x, http.StatusServiceUnavailable,
			"policy decision unavailable: the request was not served; retry later")
		return
	}
	if !decision.Allow {
		rec.Reasons = decision.Reasons
		writeError(w, http.StatusForbidden, x.rid, "refused by policy", decision.Reasons)
		h.finishRefusal(x, http.StatusForbidden)
		return
	}
	rec.Decision = "allow"
	if grant != nil {
		rec.GrantID = grant.ID
		if !h.takeQuota(w, r, x, grant, in.Now) {
			return
		}
	}

	masking, err := app.masking(&decision)
	if err != nil {
		h.logger.Error("policy returned invalid masks or data scope, refusing request",
			zap.String("request_id", x.rid), zap.Error(err))
		rec.Decision = "error"
		h.refuse(w, x, http.StatusServiceUnavailable,
			"policy decision unavailable: the request was not served; retry later")
		return
	}
	strategies, scope := masking.strategies, masking.scope

	h.setUpstreamHeaders(r, x, scenario, grant)
	r.URL.Path = cleaned
	r.URL.RawPath = ""
	caddyhttp.SetVar(r.Context(), varResource, x.rstate)

	mustMask := x.rstate.personal || scope != nil
	headOnly := r.Method == http.MethodHead
	upstreamCtx, cancelUpstream := context.WithTimeout(r.Context(), time.Duration(app.UpstreamTimeout))
	defer cancelUpstream()
	cw := newCapture(w, int(app.MaxBody), cancelUpstream,
		func(status int, header http.Header) captureMode {
			return chooseMode(status, header, mustMask, headOnly)
		})
	defer cw.release()

	upstreamStart := time.Now()
	proxyErr := proxy(next, cw, r.WithContext(upstreamCtx))
	rec.UpstreamLatency = time.Since(upstreamStart)

	if errors.Is(upstreamCtx.Err(), context.DeadlineExceeded) && proxyErr != nil {
		proxyErr = errUpstreamTimeout
	}
	if r.Context().Err() != nil {
		h.clientGone(x)
		return
	}
	h.respond(w, x, cw, proxyErr, respondArgs{
		strategies:  strategies,
		scope:       scope,
		attribution: decision.Obligations["attribution"],
		mustMask:    mustMask,
	})
}

// errUpstreamTimeout reports that the provider did not respond within the
// app's upstream_timeout.
var errUpstreamTimeout = errors.New("upstream response timed out (upstream_timeout)")

// errAborted reports that reverse_proxy stopped before the whole body
// was read: the capture writer refused it, or the upstream failed mid-body.
var errAborted = errors.New("upstream response aborted")

// proxy runs the next handler and turns the panics that abort
// reverse_proxy's body copy into an error, as long as nothing has reached
// the client yet. A stream already under way is aborted for real, so the
// client sees a cut response rather than a complete-looking one.
func proxy(next caddyhttp.Handler, cw *capture, r *http.Request) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == errAbortCapture || p == http.ErrAbortHandler && !(cw.mode == modeStream && cw.wroteHeader) {
			err = errAborted
			return
		}
		panic(p)
	}()
	return next.ServeHTTP(cw, r)
}

type respondArgs struct {
	strategies  mask.Strategies
	scope       *mask.Scope
	attribution string
	mustMask    bool
}

// respond writes the captured upstream response: masked when buffered,
// refused when it could not be buffered or masked.
func (h *Handler) respond(w http.ResponseWriter, x *exchange, cw *capture, proxyErr error, args respondArgs) {
	rec := x.rec
	if cw.mode == modeStream && cw.wroteHeader {
		// Already on its way to the client unchanged.
		rec.Status = cw.status
		rec.Bytes = cw.streamed
		if proxyErr != nil {
			h.logger.Warn("upstream stream ended with an error",
				zap.String("request_id", x.rid), zap.Error(proxyErr))
		}
		return
	}
	if !cw.wroteHeader {
		status := http.StatusBadGateway
		var he caddyhttp.HandlerError
		switch {
		case errors.Is(proxyErr, errUpstreamTimeout):
			status = http.StatusGatewayTimeout
		case errors.As(proxyErr, &he) && he.StatusCode == http.StatusServiceUnavailable:
			status = http.StatusServiceUnavailable
		}
		h.logger.Warn("upstream request failed",
			zap.String("request_id", x.rid), zap.String("resource", x.resource.ID),
			zap.Error(proxyErr))
		h.writeUpstreamError(w, x, status, "upstream unavailable: the provider did not respond")
		return
	}
	switch {
	case cw.mode == modeRefuse:
		h.writeUpstreamError(w, x, http.StatusBadGateway,
			"upstream response cannot be masked: it is not JSON or it is a stream")
		return
	case cw.overflow:
		h.writeUpstreamError(w, x, http.StatusBadGateway,
			"upstream response is larger than the gateway's max_body")
		return
	case proxyErr != nil:
		// The body may be cut short; a partial JSON document is never sent.
		h.logger.Warn("upstream response incomplete",
			zap.String("request_id", x.rid), zap.Error(proxyErr))
		h.writeUpstreamError(w, x, http.StatusBadGateway,
			"upstream response incomplete")
		return
	}

	header := w.Header()
	encoding := header.Get("Content-Encoding")
	keepSafeHeaders(header, cw.mode == modeBuffer)
	header.Set(HeaderDataSource, x.rstate.source)
	if args.attribution != "" {
		// Header values are kept to ASCII; the statement is often Chinese.
		header.Set(HeaderDataAttribution, url.PathEscape(args.attribution))
	}
	if cw.mode != modeBuffer {
		// A body-less response (HEAD, 204, 304) passes with its headers fixed.
		rec.Status = cw.status
		w.WriteHeader(cw.status)
		return
	}

	out, masked, err := h.maskBody(cw, encoding, args, x)
	if err != nil {
		h.writeUpstreamError(w, x, http.StatusBadGateway,
			"upstream response cannot be masked: "+err.Error())
		return
	}
	header.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(cw.status)
	n, _ := w.Write(out)
	rec.Status = cw.status
	rec.Bytes = int64(n)
	rec.Masked = masked
	putOut(out)
}

// chooseMode decides, from the upstream status and headers, whether the
// body is streamed, buffered for masking or refused.
func chooseMode(status int, header http.Header, mustMask, headOnly bool) captureMode {
	if headOnly || status == http.StatusNoContent || status == http.StatusNotModified {
		return modeEmpty
	}
	switch {
	case status == http.StatusPartialContent && mustMask:
		// A part of a document cannot be parsed, so it cannot be masked.
		return modeRefuse
	case isJSON(header.Get("Content-Type")):
		return modeBuffer
	case mustMask:
		return modeRefuse
	default:
		return modeStream
	}
}

// isJSON reports whether a Content-Type names JSON, in any legal spelling:
// application/json or any type with the +json suffix, in any case, with or
// without parameters.
func isJSON(contentType string) bool {
	mediaType, params, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	slash := strings.IndexByte(mediaType, '/')
	if slash <= 0 || slash == len(mediaType)-1 || !validToken(mediaType[:slash]) ||
		!validToken(mediaType[slash+1:]) || !validParams(params) {
		return false
	}
	const suffix = "+json"
	return strings.EqualFold(mediaType, "application/json") ||
		len(mediaType) > len(suffix) &&
			strings.EqualFold(mediaType[len(mediaType)-len(suffix):], suffix)
}

// validParams reports whether the text after a media type's first ";" is
// a list of name=value parameters, as mime.ParseMediaType would accept,
// without building the map it returns.
func validParams(params string) bool {
	for params != "" {
		var param string
		param, params, _ = strings.Cut(params, ";")
		param = strings.TrimSpace(param)
		if param == "" {
			if strings.TrimSpace(params) == "" {
				return true
			}
			return false
		}
		name, value, ok := strings.Cut(param, "=")
		if !ok || !validToken(strings.TrimSpace(name)) {
			return false
		}
		value = strings.TrimSpace(value)
		if value == "" {
			return false
		}
		if value[0] == '"' {
			if len(value) < 2 || value[len(value)-1] != '"' {
				return false
			}
			continue
		}
		if !validToken(value) {
			return false
		}
	}
	return true
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// safeHeaders are the upstream response headers a masked response keeps.
// Any other header (Location, Content-Disposition, Set-Cookie, trailers,
// a provider's debug headers) could carry a personal value the masker
// does not scan, and the ones that described the old body (Content-Length,
// ETag, Content-Encoding, Content-Range, Digest) no longer hold.
var safeHeaders = map[string]bool{
	"Content-Type": true, "Cache-Control": true, "Expires": true, "Pragma": true,
	"Date": true, "Vary": true, "Content-Language": true, "Retry-After": true,
	"Server": true, "Alt-Svc": true, HeaderRequestID: true,
}

// keepSafeHeaders removes every header but safeHeaders, and those whose
// value holds an identity or mobile number. A buffered body is sent as
// the JSON the masker wrote, so its Content-Type is set to say so.
func keepSafeHeaders(h http.Header, buffered bool) {
	for name, values := range h {
		if !safeHeaders[name] || anyPersonalNumber(values) {
			delete(h, name)
		}
	}
	if buffered {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
}

func anyPersonalNumber(values []string) bool {
	for _, v := range values {
		if hasPersonalNumber(v) {
			return true
		}
	}
	return false
}

// hasPersonalNumber reports whether s holds an identity number with a
// valid check character or a mainland mobile number.
func hasPersonalNumber(s string) bool {
	if start, _ := identity.FindIDNumber(s); start >= 0 {
		return true
	}
	const mobileLen = 11
	for i := 0; i < len(s); {
		if !isDigitX(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigitX(s[j]) {
			j++
		}
		for k := i; k+mobileLen <= j; k++ {
			if identity.IsMobile([]byte(s[k : k+mobileLen])) {
				return true
			}
		}
		i = j
	}
	return false
}

func (h *Handler) maskBody(cw *capture, encoding string, args respondArgs, x *exchange) ([]byte, int, error) {
	body := cw.buf.Bytes()
	limit := int(h.app.MaxBody)
	if encoding != "" && !strings.EqualFold(encoding, "identity") {
		decoded, err := mask.Decode(getOut(), body, encoding, limit)
		if err != nil {
			return nil, 0, err
		}
		body = decoded
	}
	out, stats, err := h.app.masker.Apply(getOut(), body, x.rstate.rules, args.scope, args.strategies)
	if err != nil {
		return nil, 0, err
	}
	x.rstate.metrics.countMasked(&stats)
	return out, stats.Masked, nil
}

func (h *Handler) writeUpstreamError(w http.ResponseWriter, x *exchange, status int, msg string) {
	header := w.Header()
	for name := range header {
		if name != HeaderRequestID {
			header.Del(name)
		}
	}
	x.rec.Decision = "allow"
	x.rec.Reasons = []string{msg}
	x.rec.Status = status
	writeError(w, status, x.rid, msg, nil)
}

// statusClientClosed is the status recorded for a call whose client went
// away before the response: nginx's 499, which Caddy's reverse_proxy also
// uses.
const statusClientClosed = 499

// clientGone records a call the client abandoned. Nothing is written: the
// connection is gone.
func (h *Handler) clientGone(x *exchange) {
	x.rec.Status = statusClientClosed
	x.rec.Reasons = []string{"client closed the request before the answer"}
	if c := h.logger.Check(zapcore.DebugLevel, "client closed the request"); c != nil {
		c.Write(zap.String("request_id", x.rid))
	}
}

// refuse writes a refusal made before the policy allowed the call.
func (h *Handler) refuse(w http.ResponseWriter, x *exchange, status int, msg string) {
	x.rec.Reasons = []string{msg}
	writeError(w, status, x.rid, msg, nil)
	h.finishRefusal(x, status)
}

func (h *Handler) finishRefusal(x *exchange, status int) {
	if x.rec.Decision == "" {
		x.rec.Decision = "deny"
	}
	x.rec.Status = status
	if c := h.logger.Check(zapcore.DebugLevel, "request refused"); c != nil {
		c.Write(zap.String("request_id", x.rid), zap.Int("status", status),
			zap.String("consumer", x.rec.Consumer), zap.String("resource", x.rec.Resource),
			zap.Strings("reasons", x.rec.Reasons))
	}
}

// subject extracts and checks the queried subject's identifier, and
// records its keyed hash. It returns the raw value only to the caller.
func (h *Handler) subject(r *http.Request, cleaned string, x *exchange) (string, error) {
	spec := x.resource.Subject
	if spec == nil {
		return "", nil
	}
	var value string
	switch spec.In {
	case "path":
		rest := strings.TrimPrefix(cleaned, x.resource.PathPrefix)
		value, _, _ = strings.Cut(rest, "/")
	case "query":
		values := r.URL.Query()[spec.Name]
		if len(values) > 1 {
			// A provider might read another copy than the one checked and
			// audited.
			return "", fmt.Errorf("the query names the subject parameter %q %d times: "+
				"send it once", spec.Name, len(values))
		}
		if len(values) == 1 {
			value = values[0]
		}
	}
	if value == "" {
		// Every call to the resource is about one subject. Without one, a
		// provider might respond with all of them.
		if spec.In == "query" {
			return "", fmt.Errorf("missing subject %s: add the query parameter %q",
				spec.Kind, spec.Name)
		}
		return "", fmt.Errorf("missing subject %s: add it to the path after %s",
			spec.Kind, x.resource.PathPrefix)
	}
	var err error
	switch spec.Kind {
	case "id_number":
		err = identity.CheckIDNumber(value)
	case "credit_code":
		err = identity.CheckCreditCode(value)
	}
	if err != nil {
		return "", fmt.Errorf("invalid subject %s in the request %s: %w", spec.Kind, spec.In, err)
	}
	x.rec.SubjectHash = h.app.subjectHash(spec.Kind, value)
	return value, nil
}

func (h *Handler) setUpstreamHeaders(r *http.Request, x *exchange, scenario string, grant *catalog.Grant) {
	hd := r.Header
	hd.Set(HeaderConsumer, x.consumer.ID)
	if x.consumer.CreditCode != "" {
		hd.Set(HeaderOrgCode, x.consumer.CreditCode)
	}
	if scenario != "" {
		hd.Set(HeaderScenario, scenario)
	}
	if grant != nil {
		hd.Set(HeaderGrant, grant.ID)
	}
	hd.Set(HeaderClientIP, x.rec.ClientIP)
	hd.Set(HeaderRequestID, x.rid)
}

// authenticate finds the consumer by API key, then by mTLS client
// certificate. The key is compared as a SHA-256 digest, so the lookup time
// does not depend on how much of a guessed key is right.
func authenticate(cat *catalog.Catalog, r *http.Request) *catalog.Consumer {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		key := strings.TrimSpace(auth[7:])
		if key != "" {
			return cat.ConsumerByKey(key)
		}
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return cat.ConsumerByCert(r.TLS.PeerCertificates[0].Raw)
	}
	return nil
}

func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		return ip
	}
	return ""
}

func validScenario(s string) bool {
	if len(s) > maxScenarioLen {
		return false
	}
	// A scenario names a purpose, so it starts with a letter: a number
	// (an identity number sent by mistake) would land in the audit record.
	if s != "" && (s[0] < 'a' || s[0] > 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// redactPath replaces every run of 11 or more digits (with an optional
// trailing X) by "*", so an identity or phone number in a path never
// reaches the audit trail or a log.
func redactPath(p string) string {
	run := 0
	for i := 0; i < len(p); i++ {
		if isDigitX(p[i]) {
			run++
			if run >= 11 {
				return redactSlow(p)
			}
		} else {
			run = 0
		}
	}
	return p
}

func redactSlow(p string) string {
	var b strings.Builder
	i := 0
	for i < len(p) {
		j := i
		for j < len(p) && isDigitX(p[j]) {
			j++
		}
		if j-i >= 11 {
			b.WriteString("*")
			i = j
			continue
		}
		if j > i {
			b.WriteString(p[i:j])
			i = j
			continue
		}
		b.WriteByte(p[i])
		i++
	}
	return b.String()
}

func isDigitX(c byte) bool { return c >= '0' && c <= '9' || c == 'X' || c == 'x' }

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
