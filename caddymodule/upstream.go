package caddymodule

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func init() {
	caddy.RegisterModule(UpstreamSource{})
}

// UpstreamSource is a dynamic upstream source for reverse_proxy that
// returns the provider address of the catalogue resource the data_gateway
// handler resolved for the request. reverse_proxy keeps its own load
// balancing, health tracking, retries and streaming.
//
//	reverse_proxy {
//		dynamic data_gateway
//	}
type UpstreamSource struct{}

// CaddyModule returns the Caddy module information.
func (UpstreamSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.data_gateway",
		New: func() caddy.Module { return new(UpstreamSource) },
	}
}

var errNoResource = errors.New("no data_gateway resource for this request: " +
	"put the data_gateway directive before reverse_proxy in the same route")

// GetUpstreams returns the upstreams of the request's resource. The
// upstream values are built once per catalogue load, so reverse_proxy
// tracks their health across requests.
func (UpstreamSource) GetUpstreams(r *http.Request) ([]*reverseproxy.Upstream, error) {
	rs, ok := caddyhttp.GetVar(r.Context(), varResource).(*resourceState)
	if !ok || rs == nil {
		return nil, errNoResource
	}
	return rs.upstreams, nil
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens; it takes no
// arguments:
//
//	dynamic data_gateway
func (u *UpstreamSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the source name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unknown subdirective %q: data_gateway takes no options", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ reverseproxy.UpstreamSource = (*UpstreamSource)(nil)
	_ caddyfile.Unmarshaler       = (*UpstreamSource)(nil)
)
