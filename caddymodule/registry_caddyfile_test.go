package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func TestGlobalOptionParsesRegistrySettings(t *testing.T) {
	d := caddyfile.NewTestDispenser(`data_gateway {
		catalogue /etc/dg/catalogue.json
		registry_prefix {city:registry}
		upstream_allow 127.0.0.0/8 ::1/128
		upstream_allow 10.20.0.0/16
	}`)
	got, err := parseGlobalOption(d, nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	app := new(App)
	if err := json.Unmarshal(got.(httpcaddyfile.App).Value, app); err != nil {
		t.Fatalf("decoding app JSON: %v", err)
	}
	if app.RegistryPrefix != "{city:registry}" {
		t.Errorf("registry_prefix = %q, want {city:registry}", app.RegistryPrefix)
	}
	if got := strings.Join(app.UpstreamAllow, " "); got != "127.0.0.0/8 ::1/128 10.20.0.0/16" {
		t.Errorf("upstream_allow = %q", got)
	}
	if err := app.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestRegistrySettingsRejected(t *testing.T) {
	tests := []struct {
		name    string
		app     App
		problem string
	}{
		{"prefix without hash tag", App{Catalogue: "c.json", RegistryPrefix: "city:registry"}, "hash tag"},
		{"allow not a network", App{Catalogue: "c.json", UpstreamAllow: []string{"localhost"}}, "CIDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.app.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("Validate = %v, want an error about %s", err, tc.problem)
			}
		})
	}
}

func TestUpstreamAllowNeedsArgument(t *testing.T) {
	d := caddyfile.NewTestDispenser(`data_gateway {
		upstream_allow
	}`)
	if _, err := parseGlobalOption(d, nil); err == nil {
		t.Error("upstream_allow without a network was accepted")
	}
}

func TestRegistryDirectiveTakesNoArguments(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"bare", "data_gateway_registry", true},
		{"argument", "data_gateway_registry extra", false},
		{"block", "data_gateway_registry {\n\tprefix x\n}", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := new(RegistryHandler)
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if (err == nil) != tc.ok {
				t.Errorf("UnmarshalCaddyfile(%q) = %v, want ok %v", tc.input, err, tc.ok)
			}
		})
	}
}
