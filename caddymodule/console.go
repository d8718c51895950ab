package caddymodule

import (
	"embed"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/policy"
)

func init() {
	adminRoutes = append(adminRoutes,
		adminRoute{pattern: "/data_gateway/console", handle: serveConsolePage},
		adminRoute{pattern: "/data_gateway/console/", handle: serveConsoleFile},
		adminRoute{pattern: "/data_gateway/console/catalogue", handle: serveConsoleCatalogue},
		adminRoute{pattern: "/data_gateway/console/stats", handle: serveConsoleStats},
	)
}

// consoleFiles are the console's page, script and style sheet. The page
// loads nothing from elsewhere, so it works on a machine without internet
// access and its Content-Security-Policy can forbid every other source.
//
//go:embed console/index.html console/console.js console/console.css
var consoleFiles embed.FS

// consoleAssets maps the file names under /data_gateway/console/ to their
// media types.
var consoleAssets = map[string]string{
	"console.js":  "text/javascript; charset=utf-8",
	"console.css": "text/css; charset=utf-8",
}

// consoleCSP allows the console's own script, style sheet and admin
// routes only, and no framing, so another page can neither inject into it
// nor overlay it.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// consoleFeed is the source of the console's live figures beside the
// catalogue and the audit trail: the gateway's metrics and the dry run's
// disagreements.
type consoleFeed interface {
	MetricsSnapshot() (MetricsSnapshot, error)
	DryRunDisagreements() []policy.Disagreement
}

var _ consoleFeed = (*App)(nil)

// maxConsoleDisagreements bounds the disagreements the console lists.
const maxConsoleDisagreements = 50

// serveConsolePage serves the console page. Caddy v2.11.9's admin
// endpoint rejects a browser request that carries neither an Origin nor a
// Referer header, and a typed or bookmarked address sends neither. To open
// the console in a browser, list the empty origin next to the admin
// address:
//
//	admin 127.0.0.1:2019 {
//		origins 127.0.0.1:2019 localhost:2019 ""
//	}
//
// The page's own requests carry a same-origin Referer or Origin and pass
// the check without it.
func serveConsolePage(_ *App, w http.ResponseWriter, r *http.Request) error {
	return serveConsoleAsset(w, r, "index.html", "text/html; charset=utf-8")
}

func serveConsoleFile(_ *App, w http.ResponseWriter, r *http.Request) error {
	name := r.URL.Path[len("/data_gateway/console/"):]
	media, ok := consoleAssets[name]
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: fmt.Errorf("no console file %q", name)}
	}
	return serveConsoleAsset(w, r, name, media)
}

func serveConsoleAsset(w http.ResponseWriter, r *http.Request, name, media string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r, http.MethodGet)
	}
	body, err := consoleFiles.ReadFile("console/" + name)
	if err != nil {
		return fmt.Errorf("reading embedded console file %q: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", media)
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// Same-origin referrers let the page's own fetches pass Caddy's
	// origin check, which falls back to the Referer header.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(body)
	return err
}

func methodNotAllowed(r *http.Request, allowed string) error {
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed,
		Err: fmt.Errorf("method %s not allowed: use %s", r.Method, allowed)}
}

// consoleCatalogue is the catalogue as the console shows it. It leaves out
// credential hashes and upstream addresses.
type consoleCatalogue struct {
	Version       string            `json:"version"`
	PolicyVersion string            `json:"policy_version"`
	Now           time.Time         `json:"now"`
	Providers     []consoleProvider `json:"providers"`
	Resources     []consoleResource `json:"resources"`
	Consumers     []consoleConsumer `json:"consumers"`
	Grants        []consoleGrant    `json:"grants"`
}

type consoleProvider struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type consoleResource struct {
	ID             string                  `json:"id"`
	Name           string                  `json:"name"`
	Provider       string                  `json:"provider"`
	PathPrefix     string                  `json:"path_prefix"`
	Share          string                  `json:"share"`
	Open           string                  `json:"open"`
	Conditions     *catalog.Conditions     `json:"conditions,omitempty"`
	OpenConditions *catalog.OpenConditions `json:"open_conditions,omitempty"`
	LegalBasis     string                  `json:"legal_basis,omitempty"`
	FieldClasses   []string                `json:"field_classes"`
	Emergency      *catalog.Emergency      `json:"emergency,omitempty"`
	// EmergencyState is "before", "active" or "ended" for an emergency
	// resource, empty otherwise.
	EmergencyState string `json:"emergency_state,omitempty"`
}

type consoleConsumer struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Org      string `json:"org"`
	Platform bool   `json:"platform,omitempty"`
}

// Grant states at the time of the request.
const (
	grantValid       = "valid"
	grantExpired     = "expired"
	grantNotYetValid = "not_yet_valid"
)

type consoleGrant struct {
	ID         string         `json:"id"`
	Kind       string         `json:"kind"`
	Consumer   string         `json:"consumer"`
	Resource   string         `json:"resource"`
	Scenario   string         `json:"scenario"`
	Fields     []string       `json:"fields"`
	ValidFrom  time.Time      `json:"valid_from"`
	ValidUntil time.Time      `json:"valid_until"`
	State      string         `json:"state"`
	KeyWork    bool           `json:"key_work,omitempty"`
	Quota      *catalog.Quota `json:"quota,omitempty"`
}

func serveConsoleCatalogue(a *App, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r, http.MethodGet)
	}
	cat := a.live.state.Load().catalog
	return writeAdminJSON(w, newConsoleCatalogue(cat, a.live.engine.Load().Version(), time.Now()))
}

func newConsoleCatalogue(cat *catalog.Catalog, policyVersion string, now time.Time) consoleCatalogue {
	out := consoleCatalogue{
		Version: cat.Version(), PolicyVersion: policyVersion, Now: now.UTC(),
		Providers: []consoleProvider{}, Resources: []consoleResource{},
		Consumers: []consoleConsumer{}, Grants: []consoleGrant{},
	}
	for _, p := range cat.Providers() {
		out.Providers = append(out.Providers, consoleProvider{ID: p.ID, Name: p.Name, Role: p.Role})
	}
	for _, res := range cat.Resources() {
		out.Resources = append(out.Resources, newConsoleResource(res, now))
	}
	for _, c := range cat.Consumers() {
		out.Consumers = append(out.Consumers, consoleConsumer{ID: c.ID, Kind: c.Kind, Org: c.Org, Platform: c.Platform})
	}
	for _, g := range cat.Grants() {
		out.Grants = append(out.Grants, consoleGrant{
			ID: g.ID, Kind: g.Kind, Consumer: g.Consumer, Resource: g.Resource,
			Scenario: g.Scenario, Fields: g.Fields, ValidFrom: g.ValidFrom, ValidUntil: g.ValidUntil,
			State: grantState(g, now), KeyWork: g.KeyWork, Quota: g.Quota,
		})
	}
	return out
}

func newConsoleResource(res *catalog.Resource, now time.Time) consoleResource {
	out := consoleResource{
		ID: res.ID, Name: res.Name, Provider: res.Provider, PathPrefix: res.PathPrefix,
		Share: res.Share, Open: res.Open, Conditions: res.Conditions,
		OpenConditions: res.OpenConditions, LegalBasis: res.LegalBasis,
		FieldClasses: []string{}, Emergency: res.Emergency,
	}
	for _, f := range res.Fields {
		if !slices.Contains(out.FieldClasses, f.Class) {
			out.FieldClasses = append(out.FieldClasses, f.Class)
		}
	}
	if e := res.Emergency; e != nil {
		switch {
		case now.Before(e.Start):
			out.EmergencyState = "before"
		case now.Before(e.End):
			out.EmergencyState = "active"
		default:
			out.EmergencyState = "ended"
		}
	}
	return out
}

func grantState(g *catalog.Grant, now time.Time) string {
	switch {
	case now.Before(g.ValidFrom):
		return grantNotYetValid
	case g.ValidAt(now):
		return grantValid
	default:
		return grantExpired
	}
}

// consoleStats is the live part of the console, polled every 2 seconds.
type consoleStats struct {
	Time time.Time `json:"time"`
	// Decisions counts policy decisions by resource, then by result
	// (allow, deny, error), since the process started.
	Decisions map[string]map[string]uint64 `json:"decisions"`
	// Totals adds Decisions up by result.
	Totals              map[string]uint64 `json:"totals"`
	PolicyVersion       string            `json:"policy_version"`
	DryRunPolicyVersion string            `json:"dry_run_policy_version,omitempty"`
	// DisagreementCounts counts dry-run disagreements by resource.
	DisagreementCounts map[string]uint64 `json:"disagreement_counts"`
	// Disagreements are the most recent dry-run disagreements, newest
	// first.
	Disagreements []policy.Disagreement `json:"disagreements"`
	Audit         consoleAuditStats     `json:"audit"`
}

type consoleAuditStats struct {
	Stream      string `json:"stream"`
	Queued      int    `json:"queued"`
	SpoolBytes  int64  `json:"spool_bytes"`
	Spooling    bool   `json:"spooling"`
	Unavailable bool   `json:"unavailable"`
	Written     uint64 `json:"written"`
}

func serveConsoleStats(a *App, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r, http.MethodGet)
	}
	stats, err := newConsoleStats(a, a.AuditStream, a.writer.Stats())
	if err != nil {
		return err
	}
	return writeAdminJSON(w, stats)
}

func newConsoleStats(feed consoleFeed, stream string, ws audit.Stats) (consoleStats, error) {
	snap, err := feed.MetricsSnapshot()
	if err != nil {
		return consoleStats{}, err
	}
	out := consoleStats{
		Time:                snap.Time.UTC(),
		Decisions:           snap.Decisions,
		Totals:              map[string]uint64{resultAllow: 0, resultDeny: 0, resultError: 0},
		PolicyVersion:       snap.PolicyVersion,
		DryRunPolicyVersion: snap.DryRunPolicyVersion,
		DisagreementCounts:  snap.DryRunDisagreements,
		Audit: consoleAuditStats{
			Stream: stream, Queued: ws.Queued, SpoolBytes: ws.SpoolBytes,
			Spooling: ws.Spooling, Unavailable: ws.Unavailable, Written: ws.Written,
		},
	}
	for _, byResult := range snap.Decisions {
		for result, n := range byResult {
			out.Totals[result] += n
		}
	}

	recent := feed.DryRunDisagreements()
	recent = recent[max(0, len(recent)-maxConsoleDisagreements):]
	out.Disagreements = make([]policy.Disagreement, 0, len(recent))
	for i := len(recent) - 1; i >= 0; i-- {
		out.Disagreements = append(out.Disagreements, recent[i])
	}
	return out, nil
}
