package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/policies"
)

// Demo catalogue entries, shaped like the example catalogue.

var (
	now = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

	healthDept = &catalog.Consumer{
		ID:         "xm-health",
		Kind:       catalog.KindGovernmentDepartment,
		Org:        "Xiamen Municipal Health Commission",
		CreditCode: "11350200MB0000001X",
	}
	resident = &catalog.Consumer{ID: "p-0001", Kind: catalog.KindNaturalPerson}
	company  = &catalog.Consumer{
		ID:         "c-0001",
		Kind:       catalog.KindLegalPerson,
		Org:        "Xiamen Example Technology Co., Ltd.",
		CreditCode: "91350200MA0000002Y",
	}

	personFields = []catalog.Field{
		{Path: "data.id_number", Class: "id_number"},
		{Path: "data.name", Class: "name"},
		{Path: "data.phone", Class: "phone"},
		{Path: "data.address", Class: "address"},
	}

	persons = &catalog.Resource{
		ID:         "population.persons",
		Provider:   "Xiamen Public Security Bureau",
		Name:       "Resident records",
		PathPrefix: "/api/population/persons/",
		Upstream:   "http://127.0.0.1:9001",
		Share:      catalog.ShareUnconditional,
		Open:       catalog.OpenNotOpen,
		Fields:     personFields,
	}
	insurance = &catalog.Resource{
		ID:         "social.insurance",
		Provider:   "Xiamen Human Resources and Social Security Bureau",
		PathPrefix: "/api/social/insurance/",
		Upstream:   "http://127.0.0.1:9002",
		Share:      catalog.ShareConditional,
		Open:       catalog.OpenNotOpen,
		Conditions: &catalog.Conditions{Scenarios: []string{"medical_insurance_review"}},
		Fields:     personFields,
	}
	enterprises = &catalog.Resource{
		ID:             "market.enterprises",
		Provider:       "Xiamen Market Supervision Administration",
		PathPrefix:     "/api/market/enterprises/",
		Upstream:       "http://127.0.0.1:9003",
		Share:          catalog.ShareUnconditional,
		Open:           catalog.OpenOnApplication,
		OpenConditions: &catalog.OpenConditions{Attribution: "Data: Xiamen Market Supervision Administration"},
		Fields:         []catalog.Field{{Path: "data.legal_rep.name", Class: "name"}, {Path: "data.credit_code", Class: "credit_code"}},
	}
	taxRecords = &catalog.Resource{
		ID:         "tax.records",
		Provider:   "Xiamen Tax Service",
		PathPrefix: "/api/tax/records/",
		Upstream:   "http://127.0.0.1:9004",
		Share:      catalog.ShareNotShared,
		Open:       catalog.OpenNotOpen,
		LegalBasis: "Article 109 of the Tax Collection and Administration Law",
	}
	dengueCases = &catalog.Resource{
		ID:         "health.dengue_cases",
		Provider:   "Xiamen Centre for Disease Control",
		PathPrefix: "/api/health/dengue/",
		Upstream:   "http://127.0.0.1:9005",
		Share:      catalog.ShareUnconditional,
		Open:       catalog.OpenNotOpen,
		Emergency: &catalog.Emergency{
			Event:    "2025 dengue outbreak",
			Scenario: "epidemic_control",
			Start:    time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
			End:      time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC),
		},
		Fields: personFields,
	}

	insuranceGrant = &catalog.Grant{
		ID:         "g-share-1",
		Kind:       catalog.GrantShare,
		Consumer:   "xm-health",
		Resource:   "social.insurance",
		Scenario:   "medical_insurance_review",
		Fields:     []string{"data.name", "data.insured_since"},
		ValidFrom:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Masks:      map[string]string{"id_number": "hash"},
		Quota:      &catalog.Quota{PerDay: 10000},
	}
	enterpriseGrant = &catalog.Grant{
		ID:         "g-open-1",
		Kind:       catalog.GrantOpen,
		Consumer:   "c-0001",
		Resource:   "market.enterprises",
		Scenario:   "credit_report",
		ValidFrom:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	plainNameGrant = &catalog.Grant{
		ID:         "g-open-2",
		Kind:       catalog.GrantOpen,
		Scenario:   "credit_report",
		ValidFrom:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Masks:      map[string]string{"name": "plain"},
	}
)

func loadDefault(t testing.TB) *Engine {
	t.Helper()
	engine, err := Load(policies.FS)
	if err != nil {
		t.Fatalf("loading the embedded bundle: %v", err)
	}
	return engine
}

func request(scenario string) Request {
	return Request{
		Method:   "GET",
		Path:     "/api/population/persons/350203199001011234",
		Scenario: scenario,
		ClientIP: "127.0.0.1",
	}
}

func TestDecideDemoScenarios(t *testing.T) {
	engine := loadDefault(t)

	tests := []struct {
		name       string
		in         Input
		wantAllow  bool
		wantReason string // a substring of one reason; "" when allowed
		wantFields []string
		wantMasks  map[string]string // a subset of the decision's masks
	}{
		{
			name:      "unconditional department",
			in:        Input{Consumer: healthDept, Resource: persons},
			wantAllow: true,
			wantMasks: map[string]string{"id_number": "partial", "phone": "partial", "name": "plain"},
		},
		{
			name:       "unconditional refused to public",
			in:         Input{Consumer: resident, Resource: persons},
			wantReason: "is not open to the public",
		},
		{
			name:       "conditional without grant",
			in:         Input{Consumer: healthDept, Resource: insurance, Request: request("medical_insurance_review")},
			wantReason: "needs an approved share application",
		},
		{
			name:       "conditional wrong scenario",
			in:         Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant, Request: request("marketing")},
			wantReason: `the declared scenario "marketing" is not the scenario "medical_insurance_review"`,
		},
		{
			name:       "conditional missing scenario",
			in:         Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant, Request: request("")},
			wantReason: "X-Data-Scenario",
		},
		{
			name:       "conditional right scenario",
			in:         Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant, Request: request("medical_insurance_review")},
			wantAllow:  true,
			wantFields: []string{"data.name", "data.insured_since"},
			wantMasks:  map[string]string{"id_number": "hash", "phone": "partial"},
		},
		{
			name: "on application credit listed",
			in: Input{
				Consumer: company, Resource: enterprises, Grant: enterpriseGrant,
				Request: request("credit_report"), Credit: catalog.CreditState{DishonestDebtor: true},
			},
			wantReason: "失信被执行人",
		},
		{
			name:      "on application clean credit",
			in:        Input{Consumer: company, Resource: enterprises, Grant: enterpriseGrant, Request: request("credit_report")},
			wantAllow: true,
			wantMasks: map[string]string{"name": "partial", "credit_code": "plain"},
		},
		{
			name:       "on application plain name refused",
			in:         Input{Consumer: company, Resource: enterprises, Grant: plainNameGrant, Request: request("credit_report")},
			wantReason: "personal fields are never opened unmasked",
		},
		{
			name:       "not shared quotes legal basis",
			in:         Input{Consumer: healthDept, Resource: taxRecords},
			wantReason: "Article 109 of the Tax Collection and Administration Law",
		},
		{
			name:       "emergency ended",
			in:         Input{Consumer: healthDept, Resource: dengueCases, Request: request("epidemic_control")},
			wantReason: "access to its data has ended",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			decision, err := engine.Decide(context.Background(), &tt.in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if decision.Allow != tt.wantAllow {
				t.Errorf("Allow = %v, want %v (reasons %q)", decision.Allow, tt.wantAllow, decision.Reasons)
			}
			if tt.wantAllow && len(decision.Reasons) != 0 {
				t.Errorf("Reasons = %q, want none", decision.Reasons)
			}
			if !tt.wantAllow && !slices.ContainsFunc(decision.Reasons, func(reason string) bool {
				return strings.Contains(reason, tt.wantReason)
			}) {
				t.Errorf("Reasons = %q, want one containing %q", decision.Reasons, tt.wantReason)
			}
			if !slices.Equal(decision.Fields, tt.wantFields) {
				t.Errorf("Fields = %q, want %q", decision.Fields, tt.wantFields)
			}
			for class, want := range tt.wantMasks {
				if got := decision.Masks[class]; got != want {
					t.Errorf("Masks[%q] = %q, want %q", class, got, want)
				}
			}
			if decision.Obligations["attribution"] == "" {
				t.Errorf("Obligations = %v, want a non-empty attribution", decision.Obligations)
			}
		})
	}
}

func TestDecideObligations(t *testing.T) {
	engine := loadDefault(t)

	tests := []struct {
		name string
		in   Input
		want string
	}{
		{
			name: "default attribution",
			in:   Input{Consumer: healthDept, Resource: persons},
			want: "Xiamen Public Security Bureau / population.persons",
		},
		{
			name: "provider attribution",
			in:   Input{Consumer: company, Resource: enterprises, Grant: enterpriseGrant, Request: request("credit_report")},
			want: "Data: Xiamen Market Supervision Administration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			decision, err := engine.Decide(context.Background(), &tt.in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := decision.Obligations["attribution"]; got != tt.want {
				t.Errorf("attribution = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDecideInputContract sends every optional part of the catalogue
// model, so a mismatch between the input Go builds and the type guards of
// the policy shows up as a refusal about input.
func TestDecideInputContract(t *testing.T) {
	engine := loadDefault(t)
	creditCheckOff := false
	resource := &catalog.Resource{
		ID:       "full.resource",
		Provider: "Xiamen Big Data Bureau",
		Name:     "Every option set",
		Share:    catalog.ShareConditional,
		Open:     catalog.OpenOnApplication,
		Conditions: &catalog.Conditions{
			Scenarios: []string{"city_planning"},
			Orgs:      []string{"xm-health"},
			KeyWork:   true,
			Platform:  true,
		},
		OpenConditions: &catalog.OpenConditions{
			AllowedScenarios:   []string{"city_planning"},
			ForbiddenScenarios: []string{"marketing"},
			CreditCheck:        &creditCheckOff,
			Attribution:        "Data: Xiamen Big Data Bureau",
		},
		LegalBasis: "none",
		Subject:    &catalog.Subject{In: "query", Name: "id", Kind: "id_number"},
		Fields:     personFields,
		Emergency: &catalog.Emergency{
			Event:    "typhoon",
			Scenario: "city_planning",
			Start:    now.Add(-time.Hour),
			End:      now.Add(time.Nanosecond),
		},
	}
	platform := &catalog.Consumer{ID: "xm-health", Kind: catalog.KindGovernmentDepartment, Platform: true}
	grant := &catalog.Grant{
		ID:         "g-full",
		Kind:       catalog.GrantShare,
		Scenario:   "city_planning",
		Fields:     []string{"data.name"},
		ValidFrom:  now.Add(-time.Nanosecond),
		ValidUntil: now.Add(time.Nanosecond),
		Purpose:    "planning",
		KeyWork:    true,
		Masks:      map[string]string{"id_number": "hash", "phone": "remove"},
		Quota:      &catalog.Quota{PerDay: 100, PerMinute: 10},
	}

	tests := []struct {
		name     string
		consumer *catalog.Consumer
		grant    *catalog.Grant
		credit   catalog.CreditState
	}{
		{name: "sharing route", consumer: platform, grant: grant},
		{
			name:     "opening route",
			consumer: company,
			grant:    &catalog.Grant{ID: "g-open", Kind: catalog.GrantOpen, Scenario: "city_planning", ValidFrom: now, ValidUntil: now.Add(time.Hour)},
			credit:   catalog.CreditState{DishonestDebtor: true, AbnormalOperation: true, SeriousDishonest: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Input{
				Consumer: tt.consumer, Resource: resource, Grant: tt.grant,
				Request: request("city_planning"), Credit: tt.credit, Now: now,
			}
			decision, err := engine.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if !decision.Allow {
				t.Errorf("Allow = false, want true (reasons %q)", decision.Reasons)
			}
		})
	}
}

func TestDecideRejectsIncompleteInput(t *testing.T) {
	engine := loadDefault(t)

	tests := []struct {
		name string
		in   *Input
	}{
		{name: "nil input", in: nil},
		{name: "no consumer", in: &Input{Resource: persons, Now: now}},
		{name: "no resource", in: &Input{Consumer: healthDept, Now: now}},
		{name: "no time", in: &Input{Consumer: healthDept, Resource: persons}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := engine.Decide(context.Background(), tt.in); err == nil {
				t.Error("Decide returned no error")
			}
		})
	}
}

func TestDecideCancelledContext(t *testing.T) {
	engine := loadDefault(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := engine.Decide(ctx, &Input{Consumer: healthDept, Resource: persons, Now: now})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Decide error = %v, want context.Canceled", err)
	}
}

func TestDecideCacheClear(t *testing.T) {
	engine := loadDefault(t)
	resource := *persons
	in := &Input{Consumer: healthDept, Resource: &resource, Now: now}

	first, err := engine.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if !first.Allow {
		t.Fatalf("Allow = false before the change, want true (reasons %q)", first.Reasons)
	}

	resource.Share = catalog.ShareNotShared
	engine.ClearCache()
	second, err := engine.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if second.Allow {
		t.Error("Allow = true after the resource became not_shared and the cache was cleared, want false")
	}
}

// TestDecideConcurrent shares cached decisions and, through evaluate,
// cached input terms between goroutines; run with -race.
func TestDecideConcurrent(t *testing.T) {
	engine := loadDefault(t)
	inputs := []*Input{
		{Consumer: healthDept, Resource: persons, Now: now},
		{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant, Request: request("medical_insurance_review"), Now: now},
		{Consumer: company, Resource: enterprises, Grant: enterpriseGrant, Request: request("credit_report"), Now: now},
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for worker := range 8 {
		wg.Go(func() {
			for i := range 50 {
				decide := engine.Decide
				if i%2 == 1 {
					decide = engine.evaluate
				}
				decision, err := decide(context.Background(), inputs[(worker+i)%len(inputs)])
				if err != nil {
					errs <- err
					return
				}
				if !decision.Allow {
					errs <- errors.New("decision refused: " + strings.Join(decision.Reasons, "; "))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRunTestsEmbeddedBundle(t *testing.T) {
	engine := loadDefault(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := engine.RunTests(ctx, policies.FS); err != nil {
		t.Errorf("RunTests: %v", err)
	}
}

// BenchmarkDecide measures one decision with cached catalogue terms, as
// the gateway makes it for every request.
func BenchmarkDecide(b *testing.B) {
	engine := loadDefault(b)
	cases := []struct {
		name string
		in   Input
	}{
		{name: "unconditional", in: Input{Consumer: healthDept, Resource: persons, Request: request(""), Now: now}},
		{name: "conditional", in: Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant, Request: request("medical_insurance_review"), Now: now}},
		{name: "on_application", in: Input{Consumer: company, Resource: enterprises, Grant: enterpriseGrant, Request: request("credit_report"), Now: now}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				decision, err := engine.Decide(ctx, &bc.in)
				if err != nil {
					b.Fatal(err)
				}
				if !decision.Allow {
					b.Fatalf("decision refused: %q", decision.Reasons)
				}
			}
		})
	}
}

// BenchmarkEvaluate measures one decision without the decision cache: the
// cost of the first request of each consumer, resource, grant and
// scenario in each second.
func BenchmarkEvaluate(b *testing.B) {
	engine := loadDefault(b)
	cases := []struct {
		name string
		in   Input
	}{
		{name: "unconditional", in: Input{Consumer: healthDept, Resource: persons, Request: request(""), Now: now}},
		{name: "conditional", in: Input{Consumer: healthDept, Resource: insurance, Grant: insuranceGrant, Request: request("medical_insurance_review"), Now: now}},
		{name: "on_application", in: Input{Consumer: company, Resource: enterprises, Grant: enterpriseGrant, Request: request("credit_report"), Now: now}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				decision, err := engine.evaluate(ctx, &bc.in)
				if err != nil {
					b.Fatal(err)
				}
				if !decision.Allow {
					b.Fatalf("decision refused: %q", decision.Reasons)
				}
			}
		})
	}
}
