package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/citydata/datagateway/gateway/policy"
)

func init() {
	adminRoutes = append(adminRoutes,
		adminRoute{pattern: "/data_gateway/policies/reload", handle: serveReload},
		adminRoute{pattern: "/data_gateway/dry_run", handle: serveDryRun},
		adminRoute{pattern: "/data_gateway/explain", handle: serveExplain},
		adminRoute{pattern: "/data_gateway/metrics", handle: serveMetrics},
	)
}

// maxExplainBody bounds the JSON body of a POST to the explain route.
const maxExplainBody = 64 << 10

// serveReload reloads the enforced policies, or with ?bundle=dry_run the
// dry-run candidate, from their folder: POST /data_gateway/policies/reload.
// It responds 200 with the policy.ReloadResult when the folder was
// installed or unchanged, and 422 with its errors (file, row, col,
// message) when it was rejected and the running policies stay.
func serveReload(a *App, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return policyMethodError(r, http.MethodPost)
	}
	bundle := r.URL.Query().Get("bundle")
	switch bundle {
	case "", bundleEnforced:
		bundle = bundleEnforced
	case bundleDryRun:
	default:
		return policyAPIError(http.StatusBadRequest, fmt.Errorf("unknown bundle %q: use enforced or dry_run", bundle))
	}
	result, ok := a.reloadPolicies(r.Context(), bundle)
	if !ok {
		if bundle == bundleDryRun {
			return policyAPIError(http.StatusConflict, errors.New(
				"no dry run is configured: set dry_run_policies <folder> in the data_gateway global option"))
		}
		return policyAPIError(http.StatusConflict, errors.New(
			"the gateway runs the embedded policies, which cannot be reloaded: "+
				"set policies <folder> in the data_gateway global option"))
	}
	status := http.StatusOK
	if result.Result == policy.ReloadRejected {
		status = http.StatusUnprocessableEntity
	}
	return writePolicyJSON(w, status, result)
}

// dryRunReport is the response body of GET /data_gateway/dry_run.
type dryRunReport struct {
	Enabled          bool                  `json:"enabled"`
	Dir              string                `json:"dir,omitempty"`
	CandidateVersion string                `json:"candidate_version,omitempty"`
	EnforcedVersion  string                `json:"enforced_version"`
	Stats            *policy.DryRunStats   `json:"stats,omitempty"`
	Disagreements    []policy.Disagreement `json:"disagreements"`
}

// serveDryRun responds to GET /data_gateway/dry_run with the dry run's
// counters and its latest disagreements, oldest first.
func serveDryRun(a *App, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return policyMethodError(r, http.MethodGet)
	}
	report := dryRunReport{
		EnforcedVersion: a.live.engine.Load().Version(),
		Disagreements:   []policy.Disagreement{},
	}
	if dry := a.ops.dryRun; dry != nil {
		stats := dry.Stats()
		report.Enabled = true
		report.Dir = a.DryRunPolicies
		report.CandidateVersion = a.ops.dryRunSlot.Load().Version()
		report.Stats = &stats
		report.Disagreements = dry.Disagreements()
	}
	return writePolicyJSON(w, http.StatusOK, report)
}

// explainBody is the JSON body of POST /data_gateway/explain.
type explainBody struct {
	Consumer string `json:"consumer"`
	Resource string `json:"resource"`
	Scenario string `json:"scenario"`
	Path     string `json:"path"`
	Method   string `json:"method"`
	ClientIP string `json:"client_ip"`
	// Time is RFC 3339; empty means now.
	Time  string `json:"time"`
	Trace bool   `json:"trace"`
}

// serveExplain decides a request against the running catalogue and
// policies without serving it or using the decision cache:
//
//	GET /data_gateway/explain?consumer=&resource=&scenario=&time=&path=&trace=1
//	POST /data_gateway/explain with the same fields as a JSON object
//
// Caddy's admin endpoint logs request URIs, so send a path that holds a
// subject identifier in a POST body, not in the query string.
func serveExplain(a *App, w http.ResponseWriter, r *http.Request) error {
	var body explainBody
	switch r.Method {
	case http.MethodGet:
		query := r.URL.Query()
		body = explainBody{
			Consumer: query.Get("consumer"),
			Resource: query.Get("resource"),
			Scenario: query.Get("scenario"),
			Path:     query.Get("path"),
			Method:   query.Get("method"),
			ClientIP: query.Get("client_ip"),
			Time:     query.Get("time"),
		}
		body.Trace, _ = strconv.ParseBool(query.Get("trace"))
	case http.MethodPost:
		decoder := json.NewDecoder(io.LimitReader(r.Body, maxExplainBody))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(&body); err != nil {
			return policyAPIError(http.StatusBadRequest, fmt.Errorf("decoding explain request: %w", err))
		}
	default:
		return policyMethodError(r, http.MethodGet, http.MethodPost)
	}

	q, err := body.query()
	if err != nil {
		return policyAPIError(http.StatusBadRequest, err)
	}
	cat := a.live.state.Load().catalog
	engine := a.live.engine.Load()
	report, err := explain(r.Context(), cat, engine, q)
	if err != nil {
		return policyAPIError(http.StatusBadRequest, fmt.Errorf("explaining decision: %w", err))
	}
	return writePolicyJSON(w, http.StatusOK, report)
}

func (b explainBody) query() (explainQuery, error) {
	if b.Consumer == "" {
		return explainQuery{}, errors.New("consumer is missing: give the consumer id")
	}
	if b.Resource == "" && b.Path == "" {
		return explainQuery{}, errors.New("resource is missing: give a resource id or a path")
	}
	q := explainQuery{
		Consumer: b.Consumer,
		Resource: b.Resource,
		Scenario: b.Scenario,
		Path:     b.Path,
		Method:   b.Method,
		ClientIP: b.ClientIP,
		Trace:    b.Trace,
	}
	if b.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, b.Time)
		if err != nil {
			return explainQuery{}, fmt.Errorf("invalid time %q: write RFC 3339, such as 2026-03-01T09:30:00+08:00", b.Time)
		}
		q.Time = t
	}
	return q, nil
}

// serveMetrics responds to GET /data_gateway/metrics with
// MetricsSnapshot as JSON, for consoles that do not parse the Prometheus
// text format.
func serveMetrics(a *App, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return policyMethodError(r, http.MethodGet)
	}
	snapshot, err := a.MetricsSnapshot()
	if err != nil {
		return policyAPIError(http.StatusInternalServerError, err)
	}
	return writePolicyJSON(w, http.StatusOK, snapshot)
}

func writePolicyJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return policyAPIError(http.StatusInternalServerError, fmt.Errorf("encoding response: %w", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

func policyAPIError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err}
}

func policyMethodError(r *http.Request, allowed ...string) error {
	return policyAPIError(http.StatusMethodNotAllowed,
		fmt.Errorf("method %s is not allowed: use %v", r.Method, allowed))
}
