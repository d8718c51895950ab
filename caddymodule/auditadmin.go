package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/identity"
)

func init() {
	adminRoutes = append(adminRoutes,
		adminRoute{pattern: "/data_gateway/audit", handle: serveAuditQuery},
		adminRoute{pattern: "/data_gateway/audit/verify", handle: serveAuditVerify},
	)
}

// Subject kinds, as catalogue resources name them.
const (
	subjectIDNumber   = "id_number"
	subjectCreditCode = "credit_code"
)

// maxAuditBody bounds the body of a POST audit query.
const maxAuditBody = 64 << 10

// auditQuery is an audit search as an operator states it, from the
// command line, an admin query string or a POST body. Subject is the raw
// identifier; only its keyed hash leaves auditQuery.filter.
type auditQuery struct {
	Consumer    string `json:"consumer"`
	Org         string `json:"org"`
	Resource    string `json:"resource"`
	Subject     string `json:"subject"`
	SubjectKind string `json:"subject_kind"`
	SubjectHash string `json:"subject_hash"`
	Decision    string `json:"decision"`
	Status      string `json:"status"`
	Since       string `json:"since"`
	Until       string `json:"until"`
	Limit       string `json:"limit"`
	After       string `json:"after"`
	Newest      bool   `json:"newest"`
}

// auditQueryFromValues reads a query from URL query or form values.
func auditQueryFromValues(v url.Values) auditQuery {
	newest, _ := strconv.ParseBool(v.Get("newest"))
	return auditQuery{
		Consumer:    strings.TrimSpace(v.Get("consumer")),
		Org:         strings.TrimSpace(v.Get("org")),
		Resource:    strings.TrimSpace(v.Get("resource")),
		Subject:     v.Get("subject"),
		SubjectKind: strings.TrimSpace(v.Get("subject_kind")),
		SubjectHash: strings.TrimSpace(v.Get("subject_hash")),
		Decision:    strings.TrimSpace(v.Get("decision")),
		Status:      strings.TrimSpace(v.Get("status")),
		Since:       strings.TrimSpace(v.Get("since")),
		Until:       strings.TrimSpace(v.Get("until")),
		Limit:       strings.TrimSpace(v.Get("limit")),
		After:       strings.TrimSpace(v.Get("after")),
		Newest:      newest,
	}
}

// filter turns q into an audit.Filter. It hashes a raw subject with
// hash, the gateway's own subject hash, and never puts the raw value in
// an error. Relative times count back from now.
func (q auditQuery) filter(hash func(kind, value string) string, now time.Time) (audit.Filter, error) {
	f := audit.Filter{
		Consumer: q.Consumer, Org: q.Org, Resource: q.Resource,
		Decision: q.Decision, After: q.After, Newest: q.Newest,
		SubjectHash: strings.ToLower(q.SubjectHash),
	}
	var err error
	if q.Subject != "" {
		if q.SubjectHash != "" {
			return audit.Filter{}, errors.New("both subject and subject_hash are set: give one")
		}
		kind, value, err := subjectKind(q.Subject, q.SubjectKind)
		if err != nil {
			return audit.Filter{}, err
		}
		f.SubjectHash = hash(kind, value)
	}
	if f.Status, err = optionalInt("status", q.Status); err != nil {
		return audit.Filter{}, err
	}
	if f.Limit, err = optionalInt("limit", q.Limit); err != nil {
		return audit.Filter{}, err
	}
	if f.Since, err = timeBound("since", q.Since, now); err != nil {
		return audit.Filter{}, err
	}
	if f.Until, err = timeBound("until", q.Until, now); err != nil {
		return audit.Filter{}, err
	}
	return f, f.Validate()
}

// subjectKind checks a raw subject identifier and returns its kind and
// canonical form (upper case, as the gateway accepts it in requests).
// With kind empty it infers the kind from which check passes: resident
// identity number or unified social credit code.
func subjectKind(raw, kind string) (string, string, error) {
	value := strings.ToUpper(strings.TrimSpace(raw))
	idErr := identity.CheckIDNumber(value)
	codeErr := identity.CheckCreditCode(value)
	switch kind {
	case subjectIDNumber:
		if idErr != nil {
			return "", "", fmt.Errorf("invalid subject: %w", idErr)
		}
	case subjectCreditCode:
		if codeErr != nil {
			return "", "", fmt.Errorf("invalid subject: %s", withheld(codeErr, value))
		}
	case "":
		switch {
		case idErr == nil && codeErr == nil:
			return "", "", errors.New("subject is valid both as a resident identity number and as " +
				"a unified social credit code: set subject_kind to id_number or credit_code")
		case idErr == nil:
			kind = subjectIDNumber
		case codeErr == nil:
			kind = subjectCreditCode
		default:
			// Only the identity number error is shown: it never quotes
			// the value, and a mistyped identity number is the case
			// that must not leak.
			return "", "", fmt.Errorf("invalid subject: not a unified social credit code, and %w", idErr)
		}
	default:
		return "", "", fmt.Errorf("invalid subject_kind %q: use id_number or credit_code", kind)
	}
	return kind, value, nil
}

// withheld returns err's message with every quoted copy of value removed.
func withheld(err error, value string) string {
	return strings.ReplaceAll(err.Error(), " "+strconv.Quote(value), "")
}

func optionalInt(name, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: want a whole number", name, s)
	}
	return n, nil
}

// timeBound parses an RFC 3339 time, or a duration such as 24h or 7d that
// counts back from now.
func timeBound(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("invalid %s %q: give an RFC 3339 time such as "+
			"2025-03-01T00:00:00+08:00, or a positive duration back from now such as 24h or 7d", name, s)
	}
	return now.Add(-d), nil
}

// auditAccess returns what the audit routes need from the running app:
// the audit writer's Redis client, its stream and its chain key.
func (a *App) auditAccess() (redis.UniversalClient, []byte, error) {
	if a.auditPool == nil || a.auditPool.client == nil {
		return nil, nil, caddy.APIError{
			HTTPStatus: http.StatusConflict,
			Err: errors.New("the data_gateway app has no redis: audit records are in the spool only; " +
				"configure redis to query them"),
		}
	}
	return a.auditPool.client, a.auditPool.chainKey, nil
}

// serveAuditQuery searches the audit trail. GET takes the filters in the
// query string, but not a raw subject, because Caddy's admin endpoint logs
// every request URI; POST takes them as a form or a JSON object, raw
// subject included.
func serveAuditQuery(a *App, w http.ResponseWriter, r *http.Request) error {
	var q auditQuery
	switch r.Method {
	case http.MethodGet:
		values := r.URL.Query()
		if values.Has("subject") {
			return badRequest(errors.New("a raw subject in the URL reaches the admin log: " +
				"POST it in the body, or give subject_hash"))
		}
		q = auditQueryFromValues(values)
	case http.MethodPost:
		var err error
		if q, err = readAuditQueryBody(r); err != nil {
			return badRequest(err)
		}
	default:
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed,
			Err: fmt.Errorf("method %s not allowed: use GET or POST", r.Method)}
	}

	f, err := q.filter(a.subjectHash, time.Now())
	if err != nil {
		return badRequest(err)
	}
	client, _, err := a.auditAccess()
	if err != nil {
		return err
	}
	res, err := audit.Query(r.Context(), client, a.AuditStream, f)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	return writeAdminJSON(w, res)
}

func readAuditQueryBody(r *http.Request) (auditQuery, error) {
	// Filters in the URL of a POST would be ignored, and the search would
	// look like a result for them.
	if r.URL.RawQuery != "" {
		return auditQuery{}, errors.New("a POST audit query takes its filters in the body, " +
			"not in the URL: move them into a JSON or form body")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxAuditBody)
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if media == "application/json" {
		var q auditQuery
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return auditQuery{}, fmt.Errorf("decoding audit query: %w", err)
		}
		return q, nil
	}
	if err := r.ParseForm(); err != nil {
		return auditQuery{}, fmt.Errorf("reading audit query form: %w", err)
	}
	return auditQueryFromValues(r.PostForm), nil
}

// auditVerifyResult is the body of GET /data_gateway/audit/verify.
type auditVerifyResult struct {
	OK       bool            `json:"ok"`
	Stream   string          `json:"stream"`
	Problems []audit.Problem `json:"problems"`
}

// serveAuditVerify walks every hash chain of the audit stream and lists
// the entries that were deleted, inserted or edited.
func serveAuditVerify(a *App, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed,
			Err: fmt.Errorf("method %s not allowed: use GET", r.Method)}
	}
	client, key, err := a.auditAccess()
	if err != nil {
		return err
	}
	problems, err := audit.VerifyStream(r.Context(), client, a.AuditStream, key)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	if problems == nil {
		problems = []audit.Problem{}
	}
	return writeAdminJSON(w, auditVerifyResult{OK: len(problems) == 0, Stream: a.AuditStream, Problems: problems})
}

func badRequest(err error) error {
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
}

// writeAdminJSON writes v as the JSON body of an admin response.
func writeAdminJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(v)
}
