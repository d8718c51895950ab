package policy

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestExplainMatchesDecide(t *testing.T) {
	engine := loadDefault(t)
	tests := []struct {
		name string
		in   Input
	}{
		{"allowed share", Input{Consumer: healthDept, Resource: persons, Request: request(""), Now: now}},
		{"not shared", Input{Consumer: healthDept, Resource: taxRecords, Request: request(""), Now: now}},
		{"conditional with grant", Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant,
			Request: request("medical_insurance_review"), Now: now}},
		{"public without grant", Input{Consumer: resident, Resource: persons, Request: request(""), Now: now}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := engine.Decide(context.Background(), &tt.in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			got, err := engine.Explain(context.Background(), &tt.in, false)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if got.Err != nil {
				t.Fatalf("Explanation.Err = %v", got.Err)
			}
			if got.Decision.Allow != want.Allow {
				t.Errorf("Allow = %v, want %v", got.Decision.Allow, want.Allow)
			}
			if !slices.Equal(got.Decision.Reasons, want.Reasons) {
				t.Errorf("Reasons = %q, want %q", got.Decision.Reasons, want.Reasons)
			}
			if !slices.Equal(got.Decision.Fields, want.Fields) {
				t.Errorf("Fields = %q, want %q", got.Decision.Fields, want.Fields)
			}
			if !maps.Equal(got.Decision.Masks, want.Masks) {
				t.Errorf("Masks = %v, want %v", got.Decision.Masks, want.Masks)
			}
			if got.Version != engine.Version() {
				t.Errorf("Version = %q, want %q", got.Version, engine.Version())
			}
			if got.Trace != "" {
				t.Error("Trace is set although no trace was requested")
			}
		})
	}
}

func TestExplainInputDocument(t *testing.T) {
	engine := loadDefault(t)
	in := Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant,
		Request: request("medical_insurance_review"), Now: now}
	got, err := engine.Explain(context.Background(), &in, false)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	var doc struct {
		Consumer struct{ ID string }
		Grant    struct{ ID string }
		Request  struct{ Scenario string }
		Now      string
	}
	if err := json.Unmarshal(got.Input, &doc); err != nil {
		t.Fatalf("Input is not JSON: %v", err)
	}
	if doc.Consumer.ID != healthDept.ID {
		t.Errorf("input.consumer.id = %q, want %q", doc.Consumer.ID, healthDept.ID)
	}
	if doc.Grant.ID != insuranceGrant.ID {
		t.Errorf("input.grant.id = %q, want %q", doc.Grant.ID, insuranceGrant.ID)
	}
	if doc.Request.Scenario != "medical_insurance_review" {
		t.Errorf("input.request.scenario = %q, want medical_insurance_review", doc.Request.Scenario)
	}
	if doc.Now != "2025-06-01T10:00:00Z" {
		t.Errorf("input.now = %q, want 2025-06-01T10:00:00Z", doc.Now)
	}
}

func TestExplainTraceBypassesCache(t *testing.T) {
	engine := loadDefault(t)
	in := Input{Consumer: healthDept, Resource: persons, Request: request(""), Now: now}
	// A cached decision would be returned without evaluating, so a trace
	// after Decide shows that Explain evaluates afresh.
	if _, err := engine.Decide(context.Background(), &in); err != nil {
		t.Fatalf("Decide: %v", err)
	}
	got, err := engine.Explain(context.Background(), &in, true)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	if !strings.Contains(got.Trace, "data.data_gateway.decision") {
		t.Errorf("Trace does not mention data.data_gateway.decision:\n%.500s", got.Trace)
	}
	if !strings.Contains(got.Trace, "decision.rego:") {
		t.Errorf("Trace has no file locations:\n%.500s", got.Trace)
	}
	if got.TraceTruncated {
		t.Error("TraceTruncated = true for one decision of the default bundle")
	}
}

func TestExplainRejectsIncompleteInput(t *testing.T) {
	engine := loadDefault(t)
	tests := []struct {
		name string
		in   *Input
	}{
		{"nil input", nil},
		{"no consumer", &Input{Resource: persons, Now: now}},
		{"no time", &Input{Consumer: healthDept, Resource: persons}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := engine.Explain(context.Background(), tt.in, false); err == nil {
				t.Error("Explain returned no error")
			}
		})
	}
}

func TestLimitedBuilder(t *testing.T) {
	b := limitedBuilder{limit: 5}
	b.Write([]byte("abc"))
	b.Write([]byte("defg"))
	b.Write([]byte("h"))
	if got := b.String(); got != "abcde" {
		t.Errorf("String() = %q, want %q", got, "abcde")
	}
	if !b.truncated {
		t.Error("truncated = false, want true")
	}
}
