package policy

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/policies"
)

func registryEngine(t *testing.T) *Engine {
	t.Helper()
	engine, err := Load(policies.FS)
	if err != nil {
		t.Fatalf("loading the embedded bundle: %v", err)
	}
	return engine
}

func TestDecideRegistry(t *testing.T) {
	engine := registryEngine(t)
	police := Actor{ID: "xm-public-security", Kind: ActorProvider, ProviderID: "xm-public-security"}
	civil := Actor{ID: "xm-civil-affairs", Kind: ActorProvider, ProviderID: "xm-civil-affairs"}
	operator := Actor{ID: "xm-big-data-bureau", Kind: ActorOperator}
	resource := &catalog.Resource{ID: "population.person", Provider: "xm-public-security"}

	tests := []struct {
		name     string
		actor    Actor
		action   string
		resource any
		existing any
		allow    bool
	}{
		{"provider registers own", police, "resource.register", resource, nil, true},
		{"provider registers for another", civil, "resource.register", resource, nil, false},
		{"provider retires another's", civil, "resource.retire", nil, resource, false},
		{"operator reads", operator, "resource.read", nil, resource, true},
		{"operator registers", operator, "resource.register", resource, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := engine.DecideRegistry(context.Background(), &RegistryInput{
				Actor: tc.actor, Action: tc.action, Resource: tc.resource,
				Existing: tc.existing, Now: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.allow {
				t.Errorf("allow = %v, want %v; reasons %q", d.Allow, tc.allow, d.Reasons)
			}
			if !d.Allow && len(d.Reasons) == 0 {
				t.Error("refusal without reasons")
			}
		})
	}
}

func TestDecideRegistryNeedsInput(t *testing.T) {
	engine := registryEngine(t)
	tests := []struct {
		name string
		in   *RegistryInput
	}{
		{"nil input", nil},
		{"no actor", &RegistryInput{Action: "resource.read", Now: time.Now()}},
		{"no time", &RegistryInput{Actor: Actor{ID: "x", Kind: ActorOperator}, Action: "resource.read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := engine.DecideRegistry(context.Background(), tc.in); err == nil {
				t.Error("DecideRegistry accepted incomplete input")
			}
		})
	}
}

func TestDecideRegistryWithoutRule(t *testing.T) {
	engine, err := Load(bundleOf(`decision := {"allow": false, "reasons": ["x"], "fields": null, "masks": {}, "obligations": {"attribution": ""}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.DecideRegistry(context.Background(), &RegistryInput{
		Actor: Actor{ID: "x", Kind: ActorOperator}, Action: "resource.read", Now: time.Now(),
	})
	if !errors.Is(err, ErrNoRegistryPolicy) {
		t.Errorf("error = %v, want ErrNoRegistryPolicy", err)
	}
}

func TestDecideRegistryRejectsBadShape(t *testing.T) {
	main := `package data_gateway

decision := {"allow": false, "reasons": ["x"], "fields": null, "masks": {}, "obligations": {"attribution": ""}}
`
	tests := []struct {
		name     string
		registry string
	}{
		{"allow not boolean", `decision := {"allow": "yes", "reasons": []}`},
		{"missing reasons", `decision := {"allow": false}`},
		{"allow with reasons", `decision := {"allow": true, "reasons": ["odd"]}`},
		{"not an object", `decision := true`},
		{"undefined", `decision := 1 if false`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			engine, err := Load(fstest.MapFS{
				"decision.rego": {Data: []byte(main)},
				"registry.rego": {Data: []byte("package data_gateway.registry\n\n" + tc.registry + "\n")},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = engine.DecideRegistry(context.Background(), &RegistryInput{
				Actor: Actor{ID: "x", Kind: ActorOperator}, Action: "resource.read", Now: time.Now(),
			})
			if err == nil {
				t.Error("DecideRegistry accepted a decision of the wrong shape")
			}
		})
	}
}
