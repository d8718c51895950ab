package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/gateway/registry"
)

func init() {
	caddy.RegisterModule(RegistryHandler{})
	httpcaddyfile.RegisterHandlerDirective("data_gateway_registry", parseRegistryHandler)
	httpcaddyfile.RegisterDirectiveOrder("data_gateway_registry", httpcaddyfile.Before, "reverse_proxy")
}

const (
	// maxRegistryBody bounds a registry request body. A resource entry is
	// usually well under 2 KiB.
	maxRegistryBody = 1 << 20
	// registryPolicyTimeout bounds one registry decision. Registry calls
	// are rare and their decisions are not cached, so the bound is looser
	// than the data path's policy_timeout.
	registryPolicyTimeout = 2 * time.Second
	// registryRefreshTimeout bounds the refresh after a change, which lets
	// this instance serve the change before the response is sent.
	registryRefreshTimeout = 2 * time.Second
)

// registryRoute is one route of the registry API.
type registryRoute struct {
	// pattern is an http.ServeMux pattern with a method, such as
	// "POST /registry/resources".
	pattern string
	handle  func(c *registryCall) error
}

// registryRoutes are the registry API's routes. Files that add one append
// it from their init function, so each concern keeps its routes beside its
// code.
var registryRoutes []registryRoute

// RegistryHandler serves the registry API under /registry/: providers
// register, update, list and retire their resources there, with JSON in
// and out. Callers authenticate with Authorization: Bearer <key> of a
// provider, an operator or a consumer; who may do what is decided by the
// registry policy (data.data_gateway.registry.decision). Every call
// writes one audit record, whose consumer is the caller and whose
// decision is the change made, or "deny" or "error".
//
//	handle /registry/* {
//		data_gateway_registry
//	}
type RegistryHandler struct {
	app    *App
	logger *zap.Logger
	mux    *http.ServeMux
}

// CaddyModule returns the Caddy module information.
func (RegistryHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.data_gateway_registry",
		New: func() caddy.Module { return new(RegistryHandler) },
	}
}

// callKey is the request context key of the registry call in progress.
type callKey struct{}

// Provision links the handler to the data_gateway app and builds the
// route table.
func (h *RegistryHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := ctx.App("data_gateway")
	if err != nil {
		return fmt.Errorf("getting data_gateway app: %w", err)
	}
	h.app = app.(*App)
	h.mux = http.NewServeMux()
	for _, route := range registryRoutes {
		handle := route.handle
		h.mux.HandleFunc(route.pattern, func(_ http.ResponseWriter, r *http.Request) {
			c := r.Context().Value(callKey{}).(*registryCall)
			c.r = r
			if err := handle(c); err != nil {
				c.fail(err)
			}
		})
	}
	return nil
}

// registryCall is one call of the registry API.
type registryCall struct {
	h     *RegistryHandler
	w     http.ResponseWriter
	r     *http.Request
	rid   string
	rec   *audit.Record
	actor policy.Actor
}

// ServeHTTP serves one registry call. It never calls next: the registry
// API is the end of its route.
func (h *RegistryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	start := time.Now()
	app := h.app
	rid := app.nextRequestID()
	w.Header().Set(HeaderRequestID, rid)

	ticket, err := app.writer.Reserve()
	if err != nil {
		// A change without its audit record must not happen.
		h.logger.Error("audit unavailable, refusing registry call",
			zap.String("request_id", rid), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, rid,
			"audit trail unavailable: the call was not served; retry later", nil)
		return nil
	}
	rec := &audit.Record{
		ID: rid, Time: start, Method: r.Method, Path: redactPath(r.URL.Path),
		ClientIP: clientIP(r), Decision: audit.DecisionDeny,
	}
	defer func() {
		rec.TotalLatency = time.Since(start)
		ticket.Commit(rec)
	}()

	c := &registryCall{h: h, w: w, r: r, rid: rid, rec: rec}
	if app.registry == nil {
		c.fail(&registryError{status: http.StatusServiceUnavailable,
			msg: "registry unavailable: this gateway has no Redis configured, so it serves " +
				"its catalogue file; add the redis option to the data_gateway global option " +
				"to enable the registry API"})
		return nil
	}
	if !c.authenticate() {
		c.fail(&registryError{status: http.StatusUnauthorized,
			msg: "missing or unknown credential: send Authorization: Bearer <provider, operator or consumer key>"})
		return nil
	}

	if _, pattern := h.mux.Handler(r); pattern == "" {
		c.fail(h.noRoute(r))
		return nil
	}
	// ServeHTTP of the mux, not of the handler Handler returns, sets the
	// request's path values such as {id}.
	ctx := context.WithValue(r.Context(), callKey{}, c)
	h.mux.ServeHTTP(w, r.WithContext(ctx))
	return nil
}

// noRoute returns 405 for a method the API does not accept on a path it
// serves, and 404 for a path it does not serve.
func (h *RegistryHandler) noRoute(r *http.Request) *registryError {
	var allowed []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := h.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, method)
		}
	}
	if len(allowed) > 0 {
		return &registryError{status: http.StatusMethodNotAllowed,
			msg: fmt.Sprintf("method %s is not allowed on %s: use %s",
				r.Method, redactPath(r.URL.Path), strings.Join(allowed, ", "))}
	}
	return &registryError{status: http.StatusNotFound,
		msg: fmt.Sprintf("no registry route for %s %s: resources are under /registry/resources",
			r.Method, redactPath(r.URL.Path))}
}

// authenticate finds the caller by API key among the providers and
// operators, then among the consumers, in the catalogue being served. The
// key is consumed here: nothing logs or forwards it.
func (c *registryCall) authenticate() bool {
	auth := c.r.Header.Get("Authorization")
	c.r.Header.Del("Authorization")
	if len(auth) <= 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return false
	}
	key := strings.TrimSpace(auth[7:])
	cat := c.h.app.live.state.Load().catalog
	if provider := cat.ProviderByKey(key); provider != nil {
		c.actor = policy.Actor{ID: provider.ID, Kind: policy.ActorOperator}
		if provider.Role == catalog.RoleProvider {
			c.actor = policy.Actor{ID: provider.ID, Kind: policy.ActorProvider, ProviderID: provider.ID}
		}
		c.rec.Consumer = provider.ID
		c.rec.Org = provider.Name
		return true
	}
	if consumer := cat.ConsumerByKey(key); consumer != nil {
		c.actor = policy.Actor{ID: consumer.ID, Kind: policy.ActorConsumer}
		c.rec.Consumer = consumer.ID
		c.rec.Org = consumer.Org
		return true
	}
	return false
}

// store returns the registry store; the handler has checked it is set.
func (c *registryCall) store() *registry.Store { return c.h.app.registry.store }

// registryError is a refusal with its status and reasons.
type registryError struct {
	status  int
	msg     string
	reasons []string
}

func (e *registryError) Error() string { return e.msg }

// authorize evaluates the registry policy for action by the caller.
// resource is the entry as the action would leave it, and existing the
// entry the registry holds. A refusal is a *registryError.
func (c *registryCall) authorize(action string, resource any, existing registry.Existing) error {
	var stored any
	if existing.Resource != nil {
		stored = existingResource{Resource: existing.Resource, Retired: existing.Retired}
	}
	return c.authorizeAction(c.r.Context(), action, resource, stored, nil)
}

// existingResource is a stored resource in the registry policy's input,
// with a flag for a retired one.
type existingResource struct {
	*catalog.Resource
	Retired bool `json:"retired"`
}

// authorizer returns authorize for action as the store's callback.
func (c *registryCall) authorizer(action string, resource *catalog.Resource) registry.Authorize {
	return func(existing registry.Existing) error {
		return c.authorize(action, resource, existing)
	}
}

// readBody reads the request body, up to maxRegistryBody bytes.
func (c *registryCall) readBody() ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxRegistryBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &registryError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body is larger than %d bytes: send one entry per call", maxRegistryBody)}
	}
	if err != nil {
		return nil, &registryError{status: http.StatusBadRequest,
			msg: "reading request body: " + err.Error()}
	}
	return data, nil
}

// fail writes the refusal for err and records it in the audit record.
func (c *registryCall) fail(err error) {
	status, msg, reasons := http.StatusServiceUnavailable, "", []string(nil)
	var refusal *registryError
	var invalid *registry.InvalidError
	switch {
	case errors.As(err, &refusal):
		status, msg, reasons = refusal.status, refusal.msg, refusal.reasons
	case errors.As(err, &invalid):
		status = http.StatusBadRequest
		msg = "invalid resource: fix each field named in reasons and send it again"
		if invalid.ResourceID != "" {
			msg = fmt.Sprintf("invalid resource %q: fix each field named in reasons and send it again",
				invalid.ResourceID)
		}
		reasons = invalid.Reasons()
	case errors.Is(err, registry.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, registry.ErrExists):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, registry.ErrContention):
		msg = "registry busy: other changes kept committing first; retry"
	default:
		c.h.logger.Error("registry call failed",
			zap.String("request_id", c.rid), zap.String("consumer", c.rec.Consumer), zap.Error(err))
		c.rec.Decision = audit.DecisionError
		msg = "registry unavailable: the call was not served; retry later"
	}
	c.rec.Status = status
	c.rec.Reasons = reasons
	if len(reasons) == 0 {
		c.rec.Reasons = []string{msg}
	}
	writeError(c.w, status, c.rid, msg, reasons)
}

// reply writes a JSON success body and completes the audit record. A
// decision other than "" replaces the record's, which starts as a denial.
func (c *registryCall) reply(status int, decision string, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		c.fail(fmt.Errorf("encoding response: %w", err))
		return
	}
	if decision != "" {
		c.rec.Decision = decision
	}
	c.rec.Status = status
	c.rec.Bytes = int64(len(data))
	h := c.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(data)
}

// refresh applies the registry's latest version on this instance, so that
// it serves a change before the caller learns it committed. The sync loop
// applies it anyway, so a failure is only logged.
func (c *registryCall) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), registryRefreshTimeout)
	defer cancel()
	if _, err := c.h.app.registry.syncer.Refresh(ctx); err != nil {
		c.h.logger.Warn("applying registry change on this instance failed; the sync loop retries",
			zap.String("request_id", c.rid), zap.Error(err))
	}
}

// parseRegistryHandler sets up the data_gateway_registry handler; it takes
// no arguments:
//
//	data_gateway_registry
func parseRegistryHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(RegistryHandler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}

// UnmarshalCaddyfile reads the data_gateway_registry directive, which has
// no arguments or options.
func (h *RegistryHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unknown subdirective %q: configure the registry in the data_gateway global option", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RegistryHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*RegistryHandler)(nil)
	_ caddyfile.Unmarshaler       = (*RegistryHandler)(nil)
)
