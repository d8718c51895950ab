package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminRoute is one route under /data_gateway/ on Caddy's admin endpoint.
type adminRoute struct {
	// pattern is an http.ServeMux pattern, such as "/data_gateway/explain".
	pattern string
	handle  func(a *App, w http.ResponseWriter, r *http.Request) error
}

// adminRoutes are the admin routes. Files that add one append it from
// their init function, so each concern keeps its routes beside its code.
var adminRoutes []adminRoute

// adminAPI serves the data gateway's routes on Caddy's admin endpoint,
// which listens on loopback (or a unix socket) unless the operator
// changes it: the routes are for operators and security staff, not for
// consumers.
type adminAPI struct {
	app    *App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.data_gateway",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Provision finds the data_gateway app, if the config has one.
func (ad *adminAPI) Provision(ctx caddy.Context) error {
	ad.logger = ctx.Logger()
	app, err := ctx.AppIfConfigured("data_gateway")
	if err == nil {
		ad.app = app.(*App)
	}
	return nil
}

// Routes returns the admin routes.
func (ad *adminAPI) Routes() []caddy.AdminRoute {
	routes := make([]caddy.AdminRoute, 0, len(adminRoutes))
	for _, rt := range adminRoutes {
		handle := rt.handle
		routes = append(routes, caddy.AdminRoute{
			Pattern: rt.pattern,
			Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				if ad.app == nil {
					return caddy.APIError{
						HTTPStatus: http.StatusNotFound,
						Err:        fmt.Errorf("the running config has no data_gateway app"),
					}
				}
				return handle(ad.app, w, r)
			}),
		})
	}
	return routes
}

// Interface guards
var (
	_ caddy.Provisioner = (*adminAPI)(nil)
	_ caddy.AdminRouter = (*adminAPI)(nil)
)
