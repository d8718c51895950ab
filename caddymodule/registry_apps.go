package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/credit"
	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/gateway/registry"
)

// Registry actions on applications, grants and credit lists, as the
// registry policy and the audit trail name them.
const (
	actionSubmitApplication  = "application.submit"
	actionCheckApplication   = "application.check"
	actionApproveApplication = "application.approve"
	actionRefuseApplication  = "application.refuse"
	actionReadApplication    = "application.read"
	actionRevokeGrant        = "grant.revoke"
	actionImportCredit       = "credit.import"
)

// registryAppTimeout bounds one application, grant or credit list call,
// policy decisions included.
const registryAppTimeout = 10 * time.Second

func init() {
	registryRoutes = append(registryRoutes,
		registryRoute{"POST /registry/applications", serveSubmitApplication},
		registryRoute{"GET /registry/applications", serveListApplications},
		registryRoute{"GET /registry/applications/{id}", serveGetApplication},
		registryRoute{"POST /registry/applications/{id}/check", serveCheckApplication},
		registryRoute{"POST /registry/applications/{id}/approve", serveApproveApplication},
		registryRoute{"POST /registry/applications/{id}/refuse", serveRefuseApplication},
		registryRoute{"POST /registry/grants/{id}/revoke", serveRevokeGrant},
		registryRoute{"POST /registry/credit-lists", serveImportCredit},
	)
}

// authorizeAction evaluates the registry policy for the caller taking
// action on an application, grant or credit list. A refusal, or a policy
// that gives no decision, is a *registryError.
func (c *registryCall) authorizeAction(ctx context.Context, action string, resource, existing, app any) error {
	engine := c.h.app.live.engine.Load()
	c.rec.PolicyVersion = engine.Version()
	ctx, cancel := context.WithTimeout(ctx, registryPolicyTimeout)
	defer cancel()
	decision, err := engine.DecideRegistry(ctx, &policy.RegistryInput{
		Actor:       c.actor,
		Action:      action,
		Resource:    resource,
		Existing:    existing,
		Application: app,
		Now:         time.Now(),
	})
	if err != nil {
		c.h.logger.Error("registry policy evaluation failed, refusing call",
			zap.String("request_id", c.rid), zap.String("action", action), zap.Error(err))
		c.rec.Decision = audit.DecisionError
		return &registryError{status: http.StatusServiceUnavailable,
			msg: "policy decision unavailable: the call was not served; retry later"}
	}
	if !decision.Allow {
		return &registryError{status: http.StatusForbidden, msg: "refused by policy",
			reasons: decision.Reasons}
	}
	return nil
}

// applicationAuthorizer returns authorizeAction for action as the store's
// review hook, which passes the state read inside the change.
func (c *registryCall) applicationAuthorizer(ctx context.Context, action string) registry.AuthorizeApplication {
	return func(resource *catalog.Resource, app *registry.Application, grant *catalog.Grant) error {
		var existing, application any
		if grant != nil {
			existing = grant
		}
		if app != nil {
			application = app
		}
		return c.authorizeAction(ctx, action, resource, existing, application)
	}
}

// applicationFailure turns the errors of the application store and the
// credit list parser into refusals with their status; other errors pass
// unchanged to registryCall.fail.
func applicationFailure(err error) error {
	var (
		appErr  *registry.ApplicationError
		csvErrs credit.Errors
	)
	switch {
	case errors.As(err, &appErr) && appErr.Conflict:
		return &registryError{status: http.StatusConflict, msg: appErr.Msg}
	case errors.As(err, &appErr):
		return &registryError{status: http.StatusBadRequest, msg: appErr.Msg}
	case errors.As(err, &csvErrs):
		reasons := make([]string, len(csvErrs))
		for i, e := range csvErrs {
			reasons[i] = e.Error()
		}
		return &registryError{status: http.StatusBadRequest, reasons: reasons,
			msg: "invalid credit list: nothing was imported; fix every line listed and send the whole file again"}
	case errors.Is(err, registry.ErrApplicationNotFound), errors.Is(err, registry.ErrGrantNotFound),
		errors.Is(err, registry.ErrConsumerNotFound):
		return &registryError{status: http.StatusNotFound, msg: err.Error()}
	}
	return err
}

// succeed records the action with its summary, applies it on this
// instance when it changed the registry, and writes the JSON response.
func (c *registryCall) succeed(status int, action, resource, summary string, changed bool, body any) error {
	c.rec.Resource = resource
	c.rec.Reasons = []string{summary}
	if changed {
		c.refresh()
	}
	c.reply(status, action, body)
	return nil
}

// decodeJSON decodes the request body as one JSON object, rejecting unknown
// fields.
func (c *registryCall) decodeJSON(v any) error {
	data, err := c.readBody()
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &registryError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("invalid request body: %v: send one JSON object with the documented fields", err)}
	}
	if dec.More() {
		return &registryError{status: http.StatusBadRequest,
			msg: "invalid request body: data after the JSON object: send one object"}
	}
	return nil
}

// applicationView is an application as the API shows it, with whether
// the step it waits for is past its deadline at the time of the call.
type applicationView struct {
	*registry.Application
	Overdue bool `json:"overdue"`
}

func viewOf(app *registry.Application, now time.Time) applicationView {
	return applicationView{Application: app, Overdue: app.Overdue(now)}
}

func serveSubmitApplication(c *registryCall) error {
	if c.actor.Kind != policy.ActorConsumer {
		return &registryError{status: http.StatusForbidden, msg: "refused by policy",
			reasons: []string{fmt.Sprintf("%s %q may not submit applications: a consumer applies in its own name",
				c.actor.Kind, c.actor.ID)}}
	}
	var sub registry.Submission
	if err := c.decodeJSON(&sub); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	app, err := c.store().SubmitApplication(ctx, c.actor.ID, sub,
		c.applicationAuthorizer(ctx, actionSubmitApplication))
	if err != nil {
		return applicationFailure(err)
	}
	c.rec.Scenario = app.Scenario
	c.rec.Provider = app.Provider
	return c.succeed(http.StatusCreated, actionSubmitApplication, app.Resource,
		fmt.Sprintf("submitted %s application %s", app.Kind, app.ID), false, viewOf(app, time.Now()))
}

func serveListApplications(c *registryCall) error {
	status := c.r.URL.Query().Get("status")
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	apps, err := c.store().Applications(ctx, status)
	if err != nil {
		return applicationFailure(err)
	}

	// Each caller sees what the policy lets it read: its own applications,
	// its department's, or all of them.
	now := time.Now()
	cat := c.h.app.live.state.Load().catalog
	views := make([]applicationView, 0, len(apps))
	for _, app := range apps {
		err := c.authorizeAction(ctx, actionReadApplication, applicationResource(cat, app), nil, app)
		var refusal *registryError
		if errors.As(err, &refusal) && refusal.status == http.StatusForbidden {
			continue
		}
		if err != nil {
			return err
		}
		views = append(views, viewOf(app, now))
	}
	summary := fmt.Sprintf("listed %d applications", len(views))
	if status != "" {
		summary += " with status " + status
	}
	return c.succeed(http.StatusOK, actionReadApplication, "", summary, false, map[string]any{
		"applications": views,
		"now":          now.UTC().Format(time.RFC3339),
	})
}

func serveGetApplication(c *registryCall) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	app, err := c.store().Application(ctx, c.r.PathValue("id"))
	if err != nil {
		return applicationFailure(err)
	}
	cat := c.h.app.live.state.Load().catalog
	if err := c.authorizeAction(ctx, actionReadApplication, applicationResource(cat, app), nil, app); err != nil {
		return err
	}
	return c.succeed(http.StatusOK, actionReadApplication, app.Resource, "read application "+app.ID,
		false, viewOf(app, time.Now()))
}

// applicationResource returns the catalogue resource an application is
// for, or, when it was retired, a stand-in naming the provider recorded at
// submission.
func applicationResource(cat *catalog.Catalog, app *registry.Application) *catalog.Resource {
	if res := cat.ResourceByID(app.Resource); res != nil {
		return res
	}
	return &catalog.Resource{ID: app.Resource, Provider: app.Provider}
}

func serveCheckApplication(c *registryCall) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	app, err := c.store().CheckApplication(ctx, c.actor.ID, c.r.PathValue("id"),
		c.applicationAuthorizer(ctx, actionCheckApplication))
	if err != nil {
		return applicationFailure(err)
	}
	c.rec.Provider = app.Provider
	return c.succeed(http.StatusOK, actionCheckApplication, app.Resource,
		fmt.Sprintf("first check of application %s passed; decision due %s",
			app.ID, app.DecisionDue.Format(time.RFC3339)),
		false, viewOf(app, time.Now()))
}

// approveRequest is the optional body of an approval.
type approveRequest struct {
	// Quota bounds the grant's calls; omitted or zero means no bound.
	Quota *catalog.Quota `json:"quota,omitempty"`
}

func serveApproveApplication(c *registryCall) error {
	var req approveRequest
	if c.r.ContentLength != 0 {
		if err := c.decodeJSON(&req); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	app, grant, err := c.store().ApproveApplication(ctx, c.actor.ID, c.r.PathValue("id"), req.Quota,
		c.applicationAuthorizer(ctx, actionApproveApplication))
	if err != nil {
		return applicationFailure(err)
	}
	c.rec.GrantID = grant.ID
	c.rec.Scenario = grant.Scenario
	c.rec.Provider = app.Provider
	return c.succeed(http.StatusOK, actionApproveApplication, app.Resource,
		fmt.Sprintf("approved application %s; grant %s valid from %s until %s", app.ID, grant.ID,
			grant.ValidFrom.Format(time.RFC3339), grant.ValidUntil.Format(time.RFC3339)),
		true, map[string]any{"application": viewOf(app, time.Now()), "grant": grant})
}

// reasonRequest is the body of a refusal or a revocation.
type reasonRequest struct {
	Reason string `json:"reason"`
}

func serveRefuseApplication(c *registryCall) error {
	var req reasonRequest
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	app, err := c.store().RefuseApplication(ctx, c.actor.ID, c.r.PathValue("id"), req.Reason,
		c.applicationAuthorizer(ctx, actionRefuseApplication))
	if err != nil {
		return applicationFailure(err)
	}
	c.rec.Provider = app.Provider
	return c.succeed(http.StatusOK, actionRefuseApplication, app.Resource,
		fmt.Sprintf("refused application %s: %s", app.ID, app.Reason), false, viewOf(app, time.Now()))
}

func serveRevokeGrant(c *registryCall) error {
	var req reasonRequest
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	revoked, err := c.store().RevokeGrant(ctx, c.actor.ID, c.r.PathValue("id"), req.Reason,
		c.applicationAuthorizer(ctx, actionRevokeGrant))
	if err != nil {
		return applicationFailure(err)
	}
	c.rec.GrantID = revoked.ID
	return c.succeed(http.StatusOK, actionRevokeGrant, revoked.Resource,
		fmt.Sprintf("revoked grant %s of consumer %s: %s", revoked.ID, revoked.Consumer, revoked.Reason),
		true, revoked)
}

func serveImportCredit(c *registryCall) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), registryAppTimeout)
	defer cancel()
	// The policy decides before the body is read, so a caller who may not
	// import cannot make the gateway parse a large file.
	authorize := func() error { return c.authorizeAction(ctx, actionImportCredit, nil, nil, nil) }
	if err := authorize(); err != nil {
		return err
	}
	mediaType, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mediaType != "text/csv" {
		return &registryError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf(
			"Content-Type is %q: send the credit list as text/csv with the header %s",
			mediaType, credit.Header)}
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, credit.MaxFileSize))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &registryError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf(
			"credit list is larger than %d bytes: split it into several imports", credit.MaxFileSize)}
	}
	if err != nil {
		return &registryError{status: http.StatusBadRequest, msg: "reading credit list: " + err.Error()}
	}
	listings, err := credit.Parse(data)
	if err != nil {
		return applicationFailure(err)
	}

	replace := c.r.URL.Query().Get("replace") == "true"
	version, err := credit.Import(ctx, c.store(), c.actor.ID, listings, replace, authorize)
	if err != nil {
		return applicationFailure(err)
	}
	counts := map[string]int{}
	for _, l := range listings {
		counts[l.List]++
	}
	summary := fmt.Sprintf("imported %d credit listings (%d dishonest_debtor, %d abnormal_operation, "+
		"%d serious_dishonest), replace %t", len(listings), counts[catalog.ListDishonestDebtor],
		counts[catalog.ListAbnormalOperation], counts[catalog.ListSeriousDishonest], replace)
	return c.succeed(http.StatusOK, actionImportCredit, "", summary, true, map[string]any{
		"imported":         len(listings),
		"lists":            counts,
		"replace":          replace,
		"registry_version": version,
	})
}
