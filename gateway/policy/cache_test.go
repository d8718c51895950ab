package policy

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/citydata/datagateway/gateway/catalog"
)

func TestRequestFieldsRead(t *testing.T) {
	tests := []struct {
		name   string
		module string
		want   int
	}{
		{name: "scenario only", module: `r if input.request.scenario == "x"`, want: 0},
		{name: "path", module: `r if input.request.path == "/x"`, want: requestPath},
		{name: "method and client ip", module: "r if input.request.method == \"GET\"\n\ns if input.request.client_ip == \"::1\"", want: requestMethod | requestClientIP},
		{name: "type test only", module: "r if is_string(input.request.query)\n\ns := type_name(input.request.path)", want: 0},
		{name: "type test inside negation", module: `r if not is_string(input.request.path)`, want: 0},
		{name: "whole request", module: `r := object.get(input.request, "path", "")`, want: requestFieldsAllRead},
		{name: "whole input", module: `r := input`, want: requestFieldsAllRead},
		{name: "computed key", module: "r if {\n\tsome key in [\"path\"]\n\tinput.request[key] == \"/x\"\n}", want: requestFieldsAllRead},
		{name: "iteration", module: "r if {\n\tsome value in input.request\n\tvalue == \"/x\"\n}", want: requestFieldsAllRead},
		{name: "other parts", module: `r if input.consumer.id == input.resource.id`, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			module, err := ast.ParseModuleWithOpts("test.rego", "package test\n\n"+tt.module+"\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			if got := requestFieldsRead(map[string]*ast.Module{"test.rego": module}); got != tt.want {
				t.Errorf("requestFieldsRead = %04b, want %04b", got, tt.want)
			}
		})
	}
}

func TestRequestFieldsReadEmbeddedBundle(t *testing.T) {
	engine := loadDefault(t)
	if engine.requestFields != 0 {
		t.Errorf("requestFields = %04b, want 0: the bundle reads only the scenario", engine.requestFields)
	}
}

// TestDecideCacheKeyedByPath loads a policy that reads the request path, so
// two paths must get their own decisions.
func TestDecideCacheKeyedByPath(t *testing.T) {
	engine, err := Load(bundleOf(`decision := {
	"allow": input.request.path == "/api/open",
	"reasons": reasons,
	"fields": null,
	"masks": {},
	"obligations": {"attribution": "x"},
}

reasons := [] if input.request.path == "/api/open"
else := ["closed path"]`))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	for _, tt := range []struct {
		path string
		want bool
	}{
		{path: "/api/open", want: true},
		{path: "/api/closed", want: false},
		{path: "/api/open", want: true},
	} {
		in := &Input{Consumer: healthDept, Resource: persons, Request: Request{Path: tt.path}, Now: now}
		decision, err := engine.Decide(context.Background(), in)
		if err != nil {
			t.Fatalf("Decide(%s): %v", tt.path, err)
		}
		if decision.Allow != tt.want {
			t.Errorf("Decide(%s).Allow = %v, want %v", tt.path, decision.Allow, tt.want)
		}
	}
}

func TestDecideCacheEndsAtGrantExpiry(t *testing.T) {
	engine := loadDefault(t)
	grant := *insuranceGrant
	grant.ValidUntil = now.Add(time.Millisecond)
	in := &Input{Consumer: healthDept, Resource: insurance, Grant: &grant, Request: request("medical_insurance_review"), Now: now}

	before, err := engine.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if !before.Allow {
		t.Fatalf("Allow = false before the grant expired, want true (reasons %q)", before.Reasons)
	}

	in.Now = grant.ValidUntil
	after, err := engine.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if after.Allow {
		t.Error("Allow = true at the grant's valid_until, want false: the cached decision outlived the grant")
	}
}

func TestDecisionWindow(t *testing.T) {
	emergency := *dengueCases
	emergency.Emergency = &catalog.Emergency{
		Scenario: "epidemic_control",
		Start:    now.Add(-time.Hour),
		End:      now.Add(300 * time.Millisecond),
	}
	grant := *insuranceGrant
	grant.ValidFrom = now.Add(100 * time.Millisecond)

	tests := []struct {
		name string
		in   Input
		want time.Time
	}{
		{name: "no boundary", in: Input{Resource: persons, Now: now}, want: now.Add(decisionTTL)},
		{name: "emergency end", in: Input{Resource: &emergency, Now: now}, want: now.Add(300 * time.Millisecond)},
		{name: "grant start", in: Input{Resource: &emergency, Grant: &grant, Now: now}, want: now.Add(100 * time.Millisecond)},
		{name: "past boundaries ignored", in: Input{Resource: &emergency, Now: now.Add(time.Second)}, want: now.Add(2 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			window := decisionWindow(&tt.in)
			if !window.from.Equal(tt.in.Now) {
				t.Errorf("from = %v, want %v", window.from, tt.in.Now)
			}
			if !window.until.Equal(tt.want) {
				t.Errorf("until = %v, want %v", window.until, tt.want)
			}
		})
	}
}

func TestDecideCacheIgnoresEarlierTime(t *testing.T) {
	engine := loadDefault(t)
	grant := *insuranceGrant
	grant.ValidFrom = now
	in := &Input{Consumer: healthDept, Resource: insurance, Grant: &grant, Request: request("medical_insurance_review"), Now: now}
	if _, err := engine.Decide(context.Background(), in); err != nil {
		t.Fatalf("Decide: %v", err)
	}

	in.Now = now.Add(-time.Nanosecond)
	decision, err := engine.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if decision.Allow {
		t.Error("Allow = true before the grant's valid_from, want false: a decision cached later was reused")
	}
}
