package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("data_gateway", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("data_gateway", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("data_gateway", httpcaddyfile.Before, "reverse_proxy")
}

// parseGlobalOption sets up the data_gateway app from the global options:
//
//	data_gateway {
//		catalogue       <file>
//		policies        <folder>
//		dry_run_policies <folder>
//		redis           <host:port...> {
//			username    <name>
//			password    <secret>
//			db          <number>
//			master_name <sentinel master>
//		}
//		audit_stream    <stream key>
//		spool_dir       <folder>
//		spool_max       <size>
//		queue_size      <records>
//		hmac_key        <secret>
//		max_body        <size>
//		policy_timeout  <duration>
//		upstream_timeout <duration>
//		registry_prefix <key prefix with {hash tag}>
//		upstream_allow  <cidr...>
//	}
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "data_gateway", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile reads the data_gateway global option block.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "catalogue", "catalog":
			err = oneArg(d, &a.Catalogue)
		case "policies":
			err = oneArg(d, &a.Policies)
		case "dry_run_policies":
			err = oneArg(d, &a.DryRunPolicies)
		case "registry_prefix":
			err = oneArg(d, &a.RegistryPrefix)
		case "upstream_allow":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			a.UpstreamAllow = append(a.UpstreamAllow, args...)
		case "audit_stream":
			err = oneArg(d, &a.AuditStream)
		case "spool_dir":
			err = oneArg(d, &a.SpoolDir)
		case "hmac_key":
			err = oneArg(d, &a.HMACKey)
		case "spool_max":
			a.SpoolMaxBytes, err = sizeArg(d)
		case "max_body":
			a.MaxBody, err = sizeArg(d)
		case "queue_size":
			var n int64
			n, err = intArg(d)
			a.QueueSize = int(n)
		case "policy_timeout":
			a.PolicyTimeout, err = durationArg(d)
		case "upstream_timeout":
			a.UpstreamTimeout, err = durationArg(d)
		case "redis":
			err = a.unmarshalRedis(d)
		default:
			return d.Errf("unknown data_gateway option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *App) unmarshalRedis(d *caddyfile.Dispenser) error {
	rc := &RedisConfig{Addrs: d.RemainingArgs()}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "address", "addresses":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			rc.Addrs = append(rc.Addrs, args...)
		case "username":
			err = oneArg(d, &rc.Username)
		case "password":
			err = oneArg(d, &rc.Password)
		case "master_name":
			err = oneArg(d, &rc.MasterName)
		case "db":
			var n int64
			n, err = intArg(d)
			rc.DB = int(n)
		default:
			return d.Errf("unknown redis option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if len(rc.Addrs) == 0 {
		return d.Err("redis needs at least one host:port address")
	}
	a.Redis = rc
	return nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func intArg(d *caddyfile.Dispenser) (int64, error) {
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, d.Errf("%s: %q is not a non-negative whole number", d.Val(), s)
	}
	return n, nil
}

func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, d.Errf("invalid size %q: write bytes or a unit such as 8MiB", s)
	}
	return int64(n), nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	return parseDuration(d, s)
}

func parseDuration(d *caddyfile.Dispenser, s string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("invalid duration %q: write it like 100ms or 2s", s)
	}
	return caddy.Duration(dur), nil
}

// parseHandler sets up the data_gateway handler; it takes no arguments:
//
//	data_gateway
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}

// UnmarshalCaddyfile reads the data_gateway directive, which has no
// arguments or options: the app in the global options holds the settings.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unknown subdirective %q: configure data_gateway in the global options", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)
