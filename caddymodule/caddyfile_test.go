package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func TestGlobalOptionParsesEverySetting(t *testing.T) {
	d := caddyfile.NewTestDispenser(`data_gateway {
		catalogue /etc/dg/catalogue.json
		policies /etc/dg/policies
		redis 10.0.0.1:6379 10.0.0.2:6379 {
			username gw
			password {env.REDIS_PASSWORD}
			db 2
			master_name main
		}
		audit_stream dg:audit
		spool_dir /var/lib/dg/spool
		spool_max 64MiB
		queue_size 1000
		hmac_key {env.KEY}
		max_body 2MB
		policy_timeout 250ms
		upstream_timeout 5s
	}`)
	got, err := parseGlobalOption(d, nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	app := new(App)
	if err := json.Unmarshal(got.(httpcaddyfile.App).Value, app); err != nil {
		t.Fatalf("decoding app JSON: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"catalogue", app.Catalogue, "/etc/dg/catalogue.json"},
		{"policies", app.Policies, "/etc/dg/policies"},
		{"redis addrs", strings.Join(app.Redis.Addrs, ","), "10.0.0.1:6379,10.0.0.2:6379"},
		{"redis username", app.Redis.Username, "gw"},
		{"redis password", app.Redis.Password, "{env.REDIS_PASSWORD}"},
		{"redis db", app.Redis.DB, 2},
		{"redis master", app.Redis.MasterName, "main"},
		{"stream", app.AuditStream, "dg:audit"},
		{"spool dir", app.SpoolDir, "/var/lib/dg/spool"},
		{"spool max", app.SpoolMaxBytes, int64(64 << 20)},
		{"queue size", app.QueueSize, 1000},
		{"hmac key", app.HMACKey, "{env.KEY}"},
		{"max body", app.MaxBody, int64(2_000_000)},
		{"policy timeout", app.PolicyTimeout, caddy.Duration(250 * time.Millisecond)},
		{"upstream timeout", app.UpstreamTimeout, caddy.Duration(5 * time.Second)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestGlobalOptionRejectsBadInput(t *testing.T) {
	cases := map[string]string{
		"unknown option":       "colour blue",
		"missing argument":     "catalogue",
		"extra argument":       "catalogue a b",
		"bad size":             "max_body lots",
		"negative queue":       "queue_size -3",
		"bad duration":         "policy_timeout soon",
		"redis without addr":   "redis {\n\t\tdb 1\n\t}",
		"unknown redis option": "redis 127.0.0.1:6379 {\n\t\tcolour blue\n\t}",
	}
	for name, option := range cases {
		input := "data_gateway {\n\t" + option + "\n}"
		t.Run(name, func(t *testing.T) {
			if _, err := parseGlobalOption(caddyfile.NewTestDispenser(input), nil); err == nil {
				t.Errorf("no error for %q", input)
			}
		})
	}
	t.Run("inline argument", func(t *testing.T) {
		if _, err := parseGlobalOption(caddyfile.NewTestDispenser("data_gateway on"), nil); err == nil {
			t.Errorf("no error for an inline argument")
		}
	})
}

func TestDirectivesTakeNoArguments(t *testing.T) {
	cases := []struct {
		name  string
		input string
		parse func(*caddyfile.Dispenser) error
		ok    bool
	}{
		{"handler bare", `data_gateway`, new(Handler).UnmarshalCaddyfile, true},
		{"handler argument", `data_gateway x`, new(Handler).UnmarshalCaddyfile, false},
		{"handler block", "data_gateway {\n\tx\n}", new(Handler).UnmarshalCaddyfile, false},
		{"source bare", `data_gateway`, new(UpstreamSource).UnmarshalCaddyfile, true},
		{"source argument", `data_gateway x`, new(UpstreamSource).UnmarshalCaddyfile, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(caddyfile.NewTestDispenser(c.input))
			if (err == nil) != c.ok {
				t.Errorf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
