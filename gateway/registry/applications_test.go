package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/internal/redistest"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAddWorkingDays(t *testing.T) {
	tests := []struct {
		name string
		from string
		days int
		want string
	}{
		{"monday plus five crosses weekend", "2026-01-05T10:00:00+08:00", 5, "2026-01-13T00:00:00+08:00"},
		{"friday plus three", "2026-01-09T16:00:00+08:00", 3, "2026-01-15T00:00:00+08:00"},
		{"saturday plus five", "2026-01-10T09:00:00+08:00", 5, "2026-01-17T00:00:00+08:00"},
		{"sunday plus three", "2026-01-11T23:59:00+08:00", 3, "2026-01-15T00:00:00+08:00"},
		{"utc sunday is china monday", "2026-01-11T20:00:00Z", 1, "2026-01-14T00:00:00+08:00"},
		{"thursday plus seven", "2026-01-08T11:00:00+08:00", 7, "2026-01-20T00:00:00+08:00"},
		{"friday plus one", "2026-01-09T08:00:00+08:00", 1, "2026-01-13T00:00:00+08:00"},
		{"across month end", "2026-01-29T12:00:00+08:00", 3, "2026-02-04T00:00:00+08:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AddWorkingDays(mustTime(t, tc.from), tc.days)
			if want := mustTime(t, tc.want); !got.Equal(want) {
				t.Errorf("AddWorkingDays = %s, want %s", got.In(chinaTime), want)
			}
		})
	}
}

var (
	testConsumers = []catalog.Consumer{
		{ID: "xm-housing-bureau", Kind: catalog.KindGovernmentDepartment, Org: "厦门市住房局",
			CreditCode: "113502000036220590", APIKeySHA256: strings.Repeat("a", 64)},
		{ID: "ludao-data-tech", Kind: catalog.KindLegalPerson, Org: "厦门鹭岛数据科技有限公司",
			CreditCode: "91350200721875499B", APIKeySHA256: strings.Repeat("b", 64)},
	}
	testResources = []catalog.Resource{
		{ID: "marriage.record", Provider: "xm-civil-affairs", PathPrefix: "/api/marriage/records/",
			Upstream: "http://127.0.0.1:9102", Share: catalog.ShareConditional, Open: catalog.OpenNotOpen,
			Conditions: &catalog.Conditions{Scenarios: []string{"housing_subsidy_review"}}},
		{ID: "enterprise.registration", Provider: "xm-market-regulation",
			PathPrefix: "/api/enterprise/companies/", Upstream: "http://127.0.0.1:9103",
			Share: catalog.ShareUnconditional, Open: catalog.OpenOnApplication},
	}
	testProviders = []catalog.Provider{
		{ID: "xm-civil-affairs", Role: catalog.RoleProvider, APIKeySHA256: strings.Repeat("c", 64)},
		{ID: "xm-market-regulation", Role: catalog.RoleProvider, APIKeySHA256: strings.Repeat("d", 64)},
	}
)

func shareSubmission() Submission {
	return Submission{
		Kind:             catalog.GrantShare,
		Resource:         "marriage.record",
		Scenario:         "housing_subsidy_review",
		Fields:           []string{"name", "marriage_status"},
		ValidFrom:        time.Date(2026, 1, 10, 0, 0, 0, 0, chinaTime),
		ValidUntil:       time.Date(2027, 1, 1, 0, 0, 0, 0, chinaTime),
		Purpose:          "保障性住房申请资格审核",
		SecurityMeasures: "专网访问，日志留存六个月",
	}
}

func openSubmission() Submission {
	return Submission{
		Kind:             catalog.GrantOpen,
		Resource:         "enterprise.registration",
		Scenario:         "supplier_due_diligence",
		ValidFrom:        time.Date(2026, 1, 10, 0, 0, 0, 0, chinaTime),
		ValidUntil:       time.Date(2027, 1, 1, 0, 0, 0, 0, chinaTime),
		Purpose:          "供应商尽职调查",
		SecurityMeasures: "数据加密存储",
		Provision:        "API 接口调用",
	}
}

func TestNewApplicationRejects(t *testing.T) {
	now := mustTime(t, "2026-01-05T10:00:00+08:00")
	gov, company := &testConsumers[0], &testConsumers[1]
	marriage, enterprise := &testResources[0], &testResources[1]

	tests := []struct {
		name     string
		edit     func(*Submission)
		consumer *catalog.Consumer
		resource *catalog.Resource
		want     string
	}{
		{"open kind from government body", func(s *Submission) { s.Kind = catalog.GrantOpen },
			gov, marriage, "make share applications"},
		{"share kind from company", func(s *Submission) {}, company, marriage, "makes open applications"},
		{"unknown kind", func(s *Submission) { s.Kind = "borrow" }, gov, marriage, "invalid kind"},
		{"share of unconditional resource", func(s *Submission) {}, gov, enterprise, "only conditional"},
		{"bad scenario", func(s *Submission) { s.Scenario = "Housing Review" }, gov, marriage, "invalid scenario"},
		{"empty scenario", func(s *Submission) { s.Scenario = "" }, gov, marriage, "invalid scenario"},
		{"bad field path", func(s *Submission) { s.Fields = []string{"name..x"} }, gov, marriage, "fields[0]"},
		{"missing valid_from", func(s *Submission) { s.ValidFrom = time.Time{} }, gov, marriage, "valid_from"},
		{"period reversed", func(s *Submission) { s.ValidUntil = s.ValidFrom }, gov, marriage, "not after"},
		{"period over", func(s *Submission) {
			s.ValidFrom = now.AddDate(-1, 0, 0)
			s.ValidUntil = now.Add(-time.Hour)
		}, gov, marriage, "has passed"},
		{"blank purpose", func(s *Submission) { s.Purpose = "  " }, gov, marriage, "missing purpose"},
		{"missing security measures", func(s *Submission) { s.SecurityMeasures = "" }, gov, marriage,
			"missing security_measures"},
		{"control character", func(s *Submission) { s.Purpose = "a\x00b" }, gov, marriage, "control character"},
		{"long purpose", func(s *Submission) { s.Purpose = strings.Repeat("审", maxTextLen+1) }, gov, marriage,
			"longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := shareSubmission()
			tc.edit(&sub)
			_, err := NewApplication(sub, tc.consumer, tc.resource, now)
			var appErr *ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("error = %v, want *ApplicationError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	t.Run("open without provision", func(t *testing.T) {
		sub := openSubmission()
		sub.Provision = ""
		_, err := NewApplication(sub, company, enterprise, now)
		if err == nil || !strings.Contains(err.Error(), "missing provision") {
			t.Errorf("error = %v, want missing provision", err)
		}
	})
}

func TestApplicationDeadlinesAndOverdue(t *testing.T) {
	// Monday 10:00: a share decision is due at the end of the next Monday,
	// an open first check at the end of Thursday.
	submitted := mustTime(t, "2026-01-05T10:00:00+08:00")
	share, err := NewApplication(shareSubmission(), &testConsumers[0], &testResources[0], submitted)
	if err != nil {
		t.Fatal(err)
	}
	open, err := NewApplication(openSubmission(), &testConsumers[1], &testResources[1], submitted)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustTime(t, "2026-01-13T00:00:00+08:00"); share.DecisionDue == nil || !share.DecisionDue.Equal(want) {
		t.Errorf("share decision due = %v, want %s", share.DecisionDue, want)
	}
	if share.CheckDue != nil {
		t.Errorf("share check due = %v, want none", share.CheckDue)
	}
	if want := mustTime(t, "2026-01-09T00:00:00+08:00"); open.CheckDue == nil || !open.CheckDue.Equal(want) {
		t.Errorf("open check due = %v, want %s", open.CheckDue, want)
	}
	if open.DecisionDue != nil {
		t.Errorf("open decision due before the first check = %v, want none", open.DecisionDue)
	}

	overdue := []struct {
		name string
		app  *Application
		now  string
		want bool
	}{
		{"share on due day", share, "2026-01-12T23:59:59+08:00", false},
		{"share at deadline", share, "2026-01-13T00:00:00+08:00", true},
		{"share on saturday before", share, "2026-01-10T12:00:00+08:00", false},
		{"open check on due day", open, "2026-01-08T18:00:00+08:00", false},
		{"open check late", open, "2026-01-09T00:00:01+08:00", true},
	}
	for _, tc := range overdue {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.app.Overdue(mustTime(t, tc.now)); got != tc.want {
				t.Errorf("Overdue = %v, want %v", got, tc.want)
			}
		})
	}

	// Checked on Friday: the decision is due seven working days later, at
	// the end of the Tuesday after next.
	if err := open.Check("xm-market-regulation", mustTime(t, "2026-01-09T15:00:00+08:00")); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if want := mustTime(t, "2026-01-21T00:00:00+08:00"); open.DecisionDue == nil || !open.DecisionDue.Equal(want) {
		t.Errorf("open decision due = %v, want %s", open.DecisionDue, want)
	}
	if open.Overdue(mustTime(t, "2026-01-12T00:00:00+08:00")) {
		t.Error("checked application overdue by its old check deadline")
	}
	if !open.Overdue(mustTime(t, "2026-01-21T00:00:00+08:00")) {
		t.Error("checked application not overdue at its decision deadline")
	}
	if _, err := open.Approve("xm-market-regulation", nil, mustTime(t, "2026-01-22T10:00:00+08:00")); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if open.Overdue(mustTime(t, "2026-03-01T00:00:00+08:00")) {
		t.Error("approved application reported overdue")
	}
}

func TestApplicationTransitions(t *testing.T) {
	now := mustTime(t, "2026-01-05T10:00:00+08:00")
	newShare := func() *Application {
		app, err := NewApplication(shareSubmission(), &testConsumers[0], &testResources[0], now)
		if err != nil {
			t.Fatal(err)
		}
		app.ID = "app-1"
		return app
	}
	newOpen := func() *Application {
		app, err := NewApplication(openSubmission(), &testConsumers[1], &testResources[1], now)
		if err != nil {
			t.Fatal(err)
		}
		app.ID = "app-2"
		return app
	}

	tests := []struct {
		name     string
		run      func() error
		conflict bool
		want     string
	}{
		{"check share", func() error { return newShare().Check("p", now) }, false, "only open applications"},
		{"check twice", func() error {
			app := newOpen()
			_ = app.Check("p", now)
			return app.Check("p", now)
		}, true, "only a pending"},
		{"approve open unchecked", func() error {
			_, err := newOpen().Approve("p", nil, now)
			return err
		}, true, "first check"},
		{"refuse without reason", func() error { return newShare().Refuse("p", "", now) }, false, "missing reason"},
		{"refuse blank reason", func() error { return newShare().Refuse("p", " \n\t ", now) }, false,
			"missing reason"},
		{"approve refused", func() error {
			app := newShare()
			_ = app.Refuse("p", "用途不符合共享条件", now)
			_, err := app.Approve("p", nil, now)
			return err
		}, true, "is refused"},
		{"refuse approved", func() error {
			app := newShare()
			_, _ = app.Approve("p", nil, now)
			return app.Refuse("p", "改变主意", now)
		}, true, "is approved"},
		{"approve after period", func() error {
			_, err := newShare().Approve("p", nil, mustTime(t, "2027-01-02T00:00:00+08:00"))
			return err
		}, false, "has passed"},
		{"negative quota", func() error {
			_, err := newShare().Approve("p", &catalog.Quota{PerDay: -1}, now)
			return err
		}, false, "negative quota"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			var appErr *ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("error = %v, want *ApplicationError", err)
			}
			if appErr.Conflict != tc.conflict {
				t.Errorf("Conflict = %v, want %v", appErr.Conflict, tc.conflict)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	t.Run("approve builds grant", func(t *testing.T) {
		app := newShare()
		grant, err := app.Approve("xm-civil-affairs", &catalog.Quota{PerDay: 100}, now)
		if err != nil {
			t.Fatal(err)
		}
		if grant.ID != "grant-app-1" {
			t.Errorf("grant id = %q, want %q", grant.ID, "grant-app-1")
		}
		if !grant.ValidFrom.Equal(app.ValidFrom) || !grant.ValidUntil.Equal(app.ValidUntil) {
			t.Errorf("grant period %s..%s, want the application's", grant.ValidFrom, grant.ValidUntil)
		}
		if grant.Quota == nil || grant.Quota.PerDay != 100 {
			t.Errorf("grant quota = %+v, want per_day 100", grant.Quota)
		}
		if app.Status != StatusApproved || app.GrantID != grant.ID {
			t.Errorf("application status %q grant %q, want approved with the grant", app.Status, app.GrantID)
		}
	})
	t.Run("zero quota means none", func(t *testing.T) {
		grant, err := newShare().Approve("p", &catalog.Quota{}, now)
		if err != nil {
			t.Fatal(err)
		}
		if grant.Quota != nil {
			t.Errorf("grant quota = %+v, want nil", grant.Quota)
		}
	})
}

// newTestStore seeds a registry on a real redis-server with the test
// consumers, providers and resources, with the store's clock at now.
func newTestStore(t *testing.T, now time.Time) *Store {
	t.Helper()
	srv := redistest.Start(t)
	store, err := New(srv.Client(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.now = func() time.Time { return now }
	file := catalog.File{Consumers: testConsumers, Providers: testProviders, Resources: testResources}
	if err := file.Validate(); err != nil {
		t.Fatalf("test catalogue invalid: %v", err)
	}
	if ok, err := store.Seed(context.Background(), file); err != nil || !ok {
		t.Fatalf("Seed = %v, %v", ok, err)
	}
	return store
}

func allow(*catalog.Resource, *Application, *catalog.Grant) error { return nil }

func TestStoreApplicationFlow(t *testing.T) {
	ctx := context.Background()
	now := mustTime(t, "2026-01-05T10:00:00+08:00")
	store := newTestStore(t, now)

	app, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow)
	if err != nil {
		t.Fatalf("SubmitApplication: %v", err)
	}
	if !strings.HasPrefix(app.ID, "app-20260105-") {
		t.Errorf("application id = %q, want prefix app-20260105-", app.ID)
	}
	pending, err := store.Applications(ctx, StatusPending)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != app.ID {
		t.Fatalf("pending applications = %v, want [%s]", pending, app.ID)
	}

	// The authorizer receives the resource with its provider.
	var sawProvider string
	approved, grant, err := store.ApproveApplication(ctx, "xm-civil-affairs", app.ID, &catalog.Quota{PerDay: 3},
		func(res *catalog.Resource, a *Application, g *catalog.Grant) error {
			sawProvider = res.Provider
			return nil
		})
	if err != nil {
		t.Fatalf("ApproveApplication: %v", err)
	}
	if sawProvider != "xm-civil-affairs" {
		t.Errorf("authorizer saw provider %q, want xm-civil-affairs", sawProvider)
	}
	if approved.Status != StatusApproved {
		t.Errorf("status = %q, want approved", approved.Status)
	}

	snap, err := store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.File.Validate(); err != nil {
		t.Fatalf("snapshot after approval invalid: %v", err)
	}
	if len(snap.File.Grants) != 1 || snap.File.Grants[0].ID != grant.ID {
		t.Fatalf("snapshot grants = %+v, want [%s]", snap.File.Grants, grant.ID)
	}
	if q := snap.File.Grants[0].Quota; q == nil || q.PerDay != 3 {
		t.Errorf("snapshot grant quota = %+v, want per_day 3", q)
	}

	_, err = store.RevokeGrant(ctx, "xm-civil-affairs", grant.ID, "", allow)
	if err == nil || !strings.Contains(err.Error(), "missing reason") {
		t.Errorf("revoke without reason: error = %v, want missing reason", err)
	}
	revoked, err := store.RevokeGrant(ctx, "xm-civil-affairs", grant.ID, "申请单位职能调整", allow)
	if err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	if revoked.RevokedBy != "xm-civil-affairs" {
		t.Errorf("revoked by %q, want xm-civil-affairs", revoked.RevokedBy)
	}
	snap, err = store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.File.Grants) != 0 {
		t.Errorf("snapshot grants after revocation = %+v, want none", snap.File.Grants)
	}
	records, err := store.Client().LRange(ctx, store.Keys().RevokedGrants(), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 {
		t.Fatalf("revoked grants list has %d records, want 1", len(records))
	}
	var record RevokedGrant
	if err := json.Unmarshal([]byte(records[0]), &record); err != nil {
		t.Fatal(err)
	}
	if record.ID != grant.ID || record.Reason != "申请单位职能调整" || record.RevokedBy != "xm-civil-affairs" {
		t.Errorf("revoked record = %+v, want grant %s with author and reason", record, grant.ID)
	}
	stored, err := store.Application(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != StatusRevoked {
		t.Errorf("application status after revocation = %q, want revoked", stored.Status)
	}
	_, err = store.RevokeGrant(ctx, "xm-civil-affairs", grant.ID, "again", allow)
	if !errors.Is(err, ErrGrantNotFound) {
		t.Errorf("second revocation: error = %v, want ErrGrantNotFound", err)
	}
}

func TestStoreOpenFlowNeedsCheck(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, mustTime(t, "2026-01-09T16:00:00+08:00"))

	app, err := store.SubmitApplication(ctx, "ludao-data-tech", openSubmission(), allow)
	if err != nil {
		t.Fatalf("SubmitApplication: %v", err)
	}
	if _, _, err := store.ApproveApplication(ctx, "xm-market-regulation", app.ID, nil, allow); err == nil {
		t.Fatal("approved an open application before its first check")
	}
	checked, err := store.CheckApplication(ctx, "xm-market-regulation", app.ID, allow)
	if err != nil {
		t.Fatalf("CheckApplication: %v", err)
	}
	if checked.Status != StatusChecked || checked.CheckedBy != "xm-market-regulation" {
		t.Errorf("after check: status %q by %q", checked.Status, checked.CheckedBy)
	}
	if _, _, err := store.ApproveApplication(ctx, "xm-market-regulation", app.ID, nil, allow); err != nil {
		t.Fatalf("ApproveApplication after check: %v", err)
	}
}

func TestStoreRefusals(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, mustTime(t, "2026-01-05T10:00:00+08:00"))
	app, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow)
	if err != nil {
		t.Fatal(err)
	}
	before, err := store.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}

	errDenied := errors.New("denied by policy")
	deny := func(*catalog.Resource, *Application, *catalog.Grant) error { return errDenied }
	if _, _, err := store.ApproveApplication(ctx, "xm-market-regulation", app.ID, nil, deny); !errors.Is(err, errDenied) {
		t.Errorf("approve refused by authorizer: error = %v, want the authorizer's", err)
	}
	if _, err := store.RefuseApplication(ctx, "xm-civil-affairs", app.ID, "   ", allow); err == nil {
		t.Error("refusal without a reason was stored")
	}
	if _, err := store.CheckApplication(ctx, "xm-civil-affairs", "app-missing", allow); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("check of unknown id: error = %v, want ErrApplicationNotFound", err)
	}
	sub := shareSubmission()
	sub.Resource = "no.such.resource"
	if _, err := store.SubmitApplication(ctx, "xm-housing-bureau", sub, allow); !errors.Is(err, ErrNotFound) {
		t.Errorf("submit for unknown resource: error = %v, want ErrNotFound", err)
	}
	if _, err := store.SubmitApplication(ctx, "nobody", shareSubmission(), allow); !errors.Is(err, ErrConsumerNotFound) {
		t.Errorf("submit by unknown consumer: error = %v, want ErrConsumerNotFound", err)
	}
	after, err := store.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("registry version %d -> %d after refused changes, want unchanged", before, after)
	}

	refused, err := store.RefuseApplication(ctx, "xm-civil-affairs", app.ID, "申请场景不在共享条件内", allow)
	if err != nil {
		t.Fatalf("RefuseApplication: %v", err)
	}
	if refused.Reason != "申请场景不在共享条件内" || refused.DecidedBy != "xm-civil-affairs" {
		t.Errorf("refused application = reason %q by %q", refused.Reason, refused.DecidedBy)
	}
	if _, _, err := store.ApproveApplication(ctx, "xm-civil-affairs", app.ID, nil, allow); err == nil {
		t.Error("approved a refused application")
	}
}

func TestStoreApplicationsFilter(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, mustTime(t, "2026-01-05T10:00:00+08:00"))
	first, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow)
	if err != nil {
		t.Fatal(err)
	}
	store.now = func() time.Time { return mustTime(t, "2026-01-06T10:00:00+08:00") }
	second, err := store.SubmitApplication(ctx, "ludao-data-tech", openSubmission(), allow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RefuseApplication(ctx, "xm-civil-affairs", first.ID, "不符合条件", allow); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		status string
		want   []string
	}{
		{"", []string{first.ID, second.ID}},
		{StatusPending, []string{second.ID}},
		{StatusRefused, []string{first.ID}},
		{StatusApproved, nil},
	}
	for _, tc := range tests {
		t.Run("status "+tc.status, func(t *testing.T) {
			apps, err := store.Applications(ctx, tc.status)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range apps {
				got = append(got, a.ID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("applications = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := store.Applications(ctx, "lost"); err == nil {
		t.Error("Applications accepted an unknown status")
	}
}

func TestRetireRefusesOpenApplications(t *testing.T) {
	ctx := context.Background()
	now := mustTime(t, "2026-01-05T10:00:00+08:00")
	store := newTestStore(t, now)

	app, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow)
	if err != nil {
		t.Fatalf("SubmitApplication: %v", err)
	}
	if _, err := store.RetireResource(ctx, "xm-civil-affairs", app.Resource, nil); err != nil {
		t.Fatalf("RetireResource: %v", err)
	}
	got, err := store.Application(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusRefused {
		t.Errorf("status after retirement = %q, want refused", got.Status)
	}
	if got.Reason != RetireReason {
		t.Errorf("reason = %q, want %q", got.Reason, RetireReason)
	}
	if got.Overdue(now.AddDate(0, 1, 0)) {
		t.Errorf("refused application still overdue")
	}
}

func TestOpenApplicationsBounded(t *testing.T) {
	ctx := context.Background()
	now := mustTime(t, "2026-01-05T10:00:00+08:00")
	store := newTestStore(t, now)

	var first *Application
	for i := 0; i < MaxOpenApplications; i++ {
		app, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow)
		if err != nil {
			t.Fatalf("application %d: %v", i+1, err)
		}
		if first == nil {
			first = app
		}
	}
	_, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow)
	var appErr *ApplicationError
	if !errors.As(err, &appErr) || !appErr.Conflict {
		t.Fatalf("application past the bound: error %v, want a conflict", err)
	}

	// A decision frees a place.
	if _, err := store.RefuseApplication(ctx, "xm-civil-affairs", first.ID, "场景不符", allow); err != nil {
		t.Fatalf("RefuseApplication: %v", err)
	}
	if _, err := store.SubmitApplication(ctx, "xm-housing-bureau", shareSubmission(), allow); err != nil {
		t.Errorf("application after a refusal: %v", err)
	}
}
