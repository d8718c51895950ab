package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/identity"
	"github.com/citydata/datagateway/gateway/mask"
)

// Application statuses. A share application goes from pending to approved
// or refused. An open application goes from pending to checked, when its
// materials pass the first check, and then to approved or refused. A
// failed first check is a refusal while pending. An approved application
// whose grant is revoked becomes revoked.
const (
	StatusPending  = "pending"
	StatusChecked  = "checked"
	StatusApproved = "approved"
	StatusRefused  = "refused"
	StatusRevoked  = "revoked"
)

// Review periods, in working days. A share application is decided within
// ShareDecisionDays of its submission. An open application gets its first
// check within OpenCheckDays of its submission and its decision within
// OpenDecisionDays of passing the first check.
const (
	ShareDecisionDays = 5
	OpenCheckDays     = 3
	OpenDecisionDays  = 7
)

// Limits of the free-text fields of an application, in characters.
const (
	maxTextLen   = 2000
	maxReasonLen = 2000
	maxScenario  = 64
	maxFields    = 256
)

// chinaTime is China Standard Time. China has kept UTC+8 without daylight
// saving time since 1991, so a fixed zone needs no tz database on the host.
var chinaTime = time.FixedZone("Asia/Shanghai", 8*60*60)

// Application is a consumer's share or open application for one resource,
// with its review state. Times are stored in UTC.
type Application struct {
	ID string `json:"id"`
	// Kind is catalog.GrantShare or catalog.GrantOpen.
	Kind     string `json:"kind"`
	Consumer string `json:"consumer"`
	Resource string `json:"resource"`
	// Provider is the resource's provider when the application was
	// submitted; the review follows the resource's current provider.
	Provider string `json:"provider"`
	Scenario string `json:"scenario"`
	// Fields is the requested data scope, as gjson paths. Empty requests
	// every field of the response.
	Fields     []string  `json:"fields,omitempty"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Purpose    string    `json:"purpose"`
	// SecurityMeasures states how the applicant protects the data.
	SecurityMeasures string `json:"security_measures"`
	// Provision states how the data is provided; required for an open
	// application.
	Provision string `json:"provision,omitempty"`
	// KeyWork requests a share grant for the city's key work.
	KeyWork bool `json:"key_work,omitempty"`

	Status      string     `json:"status"`
	SubmittedAt time.Time  `json:"submitted_at"`
	CheckDue    *time.Time `json:"check_due,omitempty"`
	CheckedAt   *time.Time `json:"checked_at,omitempty"`
	CheckedBy   string     `json:"checked_by,omitempty"`
	DecisionDue *time.Time `json:"decision_due,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	// Reason is the written reason of a refusal or a revocation.
	Reason    string         `json:"reason,omitempty"`
	GrantID   string         `json:"grant_id,omitempty"`
	Quota     *catalog.Quota `json:"quota,omitempty"`
	RevokedAt *time.Time     `json:"revoked_at,omitempty"`
	RevokedBy string         `json:"revoked_by,omitempty"`
}

// Submission is a consumer's request to apply for a resource.
type Submission struct {
	Kind             string    `json:"kind"`
	Resource         string    `json:"resource"`
	Scenario         string    `json:"scenario"`
	Fields           []string  `json:"fields,omitempty"`
	ValidFrom        time.Time `json:"valid_from"`
	ValidUntil       time.Time `json:"valid_until"`
	Purpose          string    `json:"purpose"`
	SecurityMeasures string    `json:"security_measures"`
	Provision        string    `json:"provision,omitempty"`
	KeyWork          bool      `json:"key_work,omitempty"`
}

// RevokedGrant is the record of a revocation kept in the revoked grants
// list: the grant as it was, and who revoked it, when and why.
type RevokedGrant struct {
	catalog.Grant
	RevokedAt time.Time `json:"revoked_at"`
	RevokedBy string    `json:"revoked_by"`
	Reason    string    `json:"reason"`
}

// ApplicationError is an application or grant request that cannot succeed
// as sent: bad input, or an action that the stored state does not allow
// (Conflict). The message names the value and the fix. Nothing was written.
type ApplicationError struct {
	Msg string
	// Conflict marks an action that clashes with the stored state, such as
	// approving an application that was already refused.
	Conflict bool
}

func (e *ApplicationError) Error() string { return e.Msg }

// MaxOpenApplications bounds the applications one consumer may have
// waiting for review, so that no consumer can flood the registry.
const MaxOpenApplications = 50

func invalid(format string, args ...any) error {
	return &ApplicationError{Msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &ApplicationError{Msg: fmt.Sprintf(format, args...), Conflict: true}
}

// Errors wrapped for an application, grant or consumer id that the
// registry does not hold. A missing resource wraps ErrNotFound.
var (
	ErrApplicationNotFound = errors.New("application not found")
	ErrGrantNotFound       = errors.New("grant not found")
	ErrConsumerNotFound    = errors.New("consumer not found")
)

// GrantID returns the id of the grant that approving application id
// creates.
func GrantID(applicationID string) string {
	return "grant-" + applicationID
}

// NewApplicationID returns a fresh application id such as
// "app-20260105-3f9a2c1d0b7e": the submission day in China Standard Time
// and 48 random bits.
func NewApplicationID(now time.Time) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making application id: %w", err)
	}
	return "app-" + now.In(chinaTime).Format("20060102") + "-" + hex.EncodeToString(b[:]), nil
}

// AddWorkingDays returns the end of the nth working day after the day of t,
// in China Standard Time: midnight at the end of that day. The day of t
// itself is never counted, so an application submitted on a Saturday or on
// a Monday afternoon has its first working day on the following Monday or
// Tuesday. Working days are Monday to Friday.
//
// NOTE: public holidays and the weekend days declared working days in
// their place are not modelled, so a deadline next to a holiday comes
// earlier than the official one.
func AddWorkingDays(t time.Time, n int) time.Time {
	local := t.In(chinaTime)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, chinaTime)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return day.AddDate(0, 0, 1).UTC()
}

// Overdue reports whether the step the application waits for is past its
// deadline at now: the first check of a pending open application, or the
// decision of a pending share or a checked open application.
func (a *Application) Overdue(now time.Time) bool {
	var due *time.Time
	switch {
	case a.Status == StatusPending && a.Kind == catalog.GrantOpen:
		due = a.CheckDue
	case a.Status == StatusPending, a.Status == StatusChecked:
		due = a.DecisionDue
	}
	return due != nil && !now.Before(*due)
}

// NewApplication validates a submission by consumer for resource and
// returns the pending application with its deadlines. The id is left for
// the caller to set.
func NewApplication(sub Submission, consumer *catalog.Consumer, resource *catalog.Resource, now time.Time) (*Application, error) {
	if err := checkSubmission(&sub, consumer, resource, now); err != nil {
		return nil, err
	}
	now = now.UTC()
	app := &Application{
		Kind:             sub.Kind,
		Consumer:         consumer.ID,
		Resource:         resource.ID,
		Provider:         resource.Provider,
		Scenario:         sub.Scenario,
		Fields:           sub.Fields,
		ValidFrom:        sub.ValidFrom.UTC(),
		ValidUntil:       sub.ValidUntil.UTC(),
		Purpose:          sub.Purpose,
		SecurityMeasures: sub.SecurityMeasures,
		Provision:        sub.Provision,
		KeyWork:          sub.KeyWork,
		Status:           StatusPending,
		SubmittedAt:      now,
	}
	if sub.Kind == catalog.GrantOpen {
		due := AddWorkingDays(now, OpenCheckDays)
		app.CheckDue = &due
	} else {
		due := AddWorkingDays(now, ShareDecisionDays)
		app.DecisionDue = &due
	}
	return app, nil
}

func checkSubmission(sub *Submission, consumer *catalog.Consumer, resource *catalog.Resource, now time.Time) error {
	sub.Purpose = strings.TrimSpace(sub.Purpose)
	sub.SecurityMeasures = strings.TrimSpace(sub.SecurityMeasures)
	sub.Provision = strings.TrimSpace(sub.Provision)

	if err := checkKind(sub.Kind, consumer, resource); err != nil {
		return err
	}
	if !validScenario(sub.Scenario) {
		return invalid("invalid scenario %q: use 1 to %d characters of a-z, 0-9, '_' and '-', starting with a letter, "+
			"the value consumers send in X-Data-Scenario", sub.Scenario, maxScenario)
	}
	if len(sub.Fields) > maxFields {
		return invalid("%d fields: apply for at most %d paths", len(sub.Fields), maxFields)
	}
	for i, path := range sub.Fields {
		if err := mask.CheckPath(path); err != nil {
			return invalid("invalid fields[%d] %q: %v", i, path, err)
		}
	}
	if err := checkPeriod(sub.ValidFrom, sub.ValidUntil, now); err != nil {
		return err
	}
	if err := checkText("purpose", sub.Purpose, true); err != nil {
		return err
	}
	if err := checkText("security_measures", sub.SecurityMeasures, true); err != nil {
		return err
	}
	if err := checkText("provision", sub.Provision, sub.Kind == catalog.GrantOpen); err != nil {
		return err
	}
	if sub.KeyWork && sub.Kind != catalog.GrantShare {
		return invalid("key_work is set on an open application: only share applications " +
			"between government bodies can be for the city's key work")
	}
	return nil
}

// checkKind requires the application kind that suits both the consumer and
// the resource: a government body applies to share a conditional resource,
// and the public applies to open an on-application resource.
func checkKind(kind string, consumer *catalog.Consumer, resource *catalog.Resource) error {
	sharing := consumer.Kind == catalog.KindGovernmentDepartment ||
		consumer.Kind == catalog.KindPublicServiceOrg
	switch {
	case kind != catalog.GrantShare && kind != catalog.GrantOpen:
		return invalid("invalid kind %q: use \"share\" or \"open\"", kind)
	case kind == catalog.GrantShare && !sharing:
		return invalid("consumer %q is a %s: the public makes open applications, "+
			"so set kind to \"open\"", consumer.ID, consumer.Kind)
	case kind == catalog.GrantOpen && sharing:
		return invalid("consumer %q is a %s: government bodies make share applications, "+
			"so set kind to \"share\"", consumer.ID, consumer.Kind)
	case kind == catalog.GrantShare && resource.Share != catalog.ShareConditional:
		return invalid("resource %q has share attribute %q: only conditional resources "+
			"take share applications", resource.ID, resource.Share)
	case kind == catalog.GrantOpen && resource.Open != catalog.OpenOnApplication:
		return invalid("resource %q has open attribute %q: only on_application resources "+
			"take open applications", resource.ID, resource.Open)
	}
	return nil
}

func checkPeriod(from, until, now time.Time) error {
	switch {
	case from.IsZero():
		return invalid("missing valid_from: set the RFC 3339 time the data is needed from")
	case until.IsZero():
		return invalid("missing valid_until: set the RFC 3339 time the data use ends")
	case !from.Before(until):
		return invalid("valid_until %s is not after valid_from %s: end the period after it starts",
			until.Format(time.RFC3339), from.Format(time.RFC3339))
	case !now.Before(until):
		return invalid("valid_until %s has passed: apply for a period that has not ended",
			until.Format(time.RFC3339))
	}
	return nil
}

// checkText requires a field of plain text within maxTextLen characters,
// and a non-empty one when required.
func checkText(name, value string, required bool) error {
	switch {
	case value == "" && required:
		return invalid("missing %s: describe it in a sentence or more", name)
	case utf8.RuneCountInString(value) > maxTextLen:
		return invalid("%s is longer than %d characters: shorten it", name, maxTextLen)
	case strings.IndexFunc(value, isControlExceptNewline) >= 0:
		return invalid("%s contains a control character: use plain text", name)
	case containsIDNumber(value):
		return invalid("%s contains a resident identity number: the registry and the "+
			"audit trail never store one, so describe the person another way", name)
	}
	return nil
}

func containsIDNumber(s string) bool {
	start, _ := identity.FindIDNumber(s)
	return start >= 0
}

func isControlExceptNewline(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\t'
}

func validScenario(s string) bool {
	// The gateway takes only scenarios that start with a letter.
	if s == "" || len(s) > maxScenario || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Check records the passed first check of an open application by actor and
// sets its decision deadline.
func (a *Application) Check(actor string, now time.Time) error {
	if a.Kind != catalog.GrantOpen {
		return invalid("application %q is a share application: only open applications "+
			"have a first check; approve or refuse it", a.ID)
	}
	if a.Status != StatusPending {
		return conflict("application %q is %s: only a pending application can be checked", a.ID, a.Status)
	}
	now = now.UTC()
	due := AddWorkingDays(now, OpenDecisionDays)
	a.Status = StatusChecked
	a.CheckedAt = &now
	a.CheckedBy = actor
	a.DecisionDue = &due
	return nil
}

// Refuse records the refusal of a pending or checked application by actor,
// with its written reason.
func (a *Application) Refuse(actor, reason string, now time.Time) error {
	reason, err := checkReason(reason)
	if err != nil {
		return err
	}
	if a.Status != StatusPending && a.Status != StatusChecked {
		return conflict("application %q is %s: only a pending or checked application can be refused",
			a.ID, a.Status)
	}
	now = now.UTC()
	a.Status = StatusRefused
	a.DecidedAt = &now
	a.DecidedBy = actor
	a.Reason = reason
	return nil
}

// Approve records the approval by actor, with an optional quota, and returns
// the grant it creates. An open application must have passed its first
// check. The grant takes the application's scenario, fields and period, so
// the policy admits calls from valid_from up to valid_until.
func (a *Application) Approve(actor string, quota *catalog.Quota, now time.Time) (*catalog.Grant, error) {
	switch {
	case a.Kind == catalog.GrantOpen && a.Status == StatusPending:
		return nil, conflict("open application %q has not passed its first check: check it first", a.ID)
	case a.Status != StatusPending && a.Status != StatusChecked:
		return nil, conflict("application %q is %s: only a pending or checked application can be approved",
			a.ID, a.Status)
	case !now.Before(a.ValidUntil):
		return nil, invalid("application %q asked for data until %s, which has passed: refuse it "+
			"and ask for a new application", a.ID, a.ValidUntil.Format(time.RFC3339))
	}
	if quota != nil && (quota.PerDay < 0 || quota.PerMinute < 0) {
		return nil, invalid("negative quota (per_day %d, per_minute %d): use a positive number "+
			"of calls, or 0 for no bound", quota.PerDay, quota.PerMinute)
	}
	if quota != nil && quota.PerDay == 0 && quota.PerMinute == 0 {
		quota = nil
	}

	now = now.UTC()
	a.Status = StatusApproved
	a.DecidedAt = &now
	a.DecidedBy = actor
	a.GrantID = GrantID(a.ID)
	a.Quota = quota
	return &catalog.Grant{
		ID:         a.GrantID,
		Kind:       a.Kind,
		Consumer:   a.Consumer,
		Resource:   a.Resource,
		Scenario:   a.Scenario,
		Fields:     a.Fields,
		ValidFrom:  a.ValidFrom,
		ValidUntil: a.ValidUntil,
		Purpose:    a.Purpose,
		KeyWork:    a.KeyWork,
		Quota:      quota,
	}, nil
}

// checkReason trims a written reason and requires it to be non-empty plain
// text.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", invalid("missing reason: a refusal or revocation must state its reason in writing")
	}
	if utf8.RuneCountInString(reason) > maxReasonLen {
		return "", invalid("reason is longer than %d characters: shorten it", maxReasonLen)
	}
	if strings.IndexFunc(reason, isControlExceptNewline) >= 0 {
		return "", invalid("reason contains a control character: use plain text")
	}
	if containsIDNumber(reason) {
		return "", invalid("reason contains a resident identity number: the registry and " +
			"the audit trail never store one, so describe the person another way")
	}
	return reason, nil
}

// AuthorizeApplication decides whether the author may take the action. It
// runs inside the change, on the state the change read. resource is the
// catalogue resource concerned and app the application, nil for a grant
// that no application created. grant is the grant being revoked, nil for
// the other actions. A non-nil error aborts the change and is returned
// unchanged.
type AuthorizeApplication func(resource *catalog.Resource, app *Application, grant *catalog.Grant) error

// SubmitApplication validates and stores a new pending application by the
// consumer consumerID and returns it.
func (s *Store) SubmitApplication(ctx context.Context, consumerID string, sub Submission, authorize AuthorizeApplication) (*Application, error) {
	var out *Application
	_, err := s.Change(ctx, consumerID, func(tx *Tx) error {
		consumer, err := readJSON[catalog.Consumer](tx, tx.keys.Consumers(), consumerID, ErrConsumerNotFound)
		if err != nil {
			return err
		}
		resource, err := readJSON[catalog.Resource](tx, tx.keys.Resources(), sub.Resource, ErrNotFound)
		if err != nil {
			return err
		}
		app, err := NewApplication(sub, consumer, resource, tx.Now())
		if err != nil {
			return err
		}
		if app.ID, err = NewApplicationID(tx.Now()); err != nil {
			return err
		}
		if err := authorize(resource, app, nil); err != nil {
			return err
		}
		openKey := tx.keys.OpenApplications(consumerID)
		open, err := tx.conn.SCard(tx.ctx, openKey).Result()
		if err != nil {
			return fmt.Errorf("counting open applications: %w", err)
		}
		if open >= MaxOpenApplications {
			return conflict("consumer %q has %d applications waiting for review, the most "+
				"allowed: wait for decisions before applying again", consumerID, open)
		}
		out = app
		tx.pipe.SAdd(tx.ctx, openKey, app.ID)
		return queueJSON(tx, tx.keys.Applications(), app.ID, app)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CheckApplication records that the author's first check of an open
// application passed.
func (s *Store) CheckApplication(ctx context.Context, author, id string, authorize AuthorizeApplication) (*Application, error) {
	return s.reviewApplication(ctx, author, id, authorize, func(tx *Tx, app *Application) error {
		return app.Check(author, tx.Now())
	})
}

// RefuseApplication records the author's refusal of an application with
// its written reason.
func (s *Store) RefuseApplication(ctx context.Context, author, id, reason string, authorize AuthorizeApplication) (*Application, error) {
	return s.reviewApplication(ctx, author, id, authorize, func(tx *Tx, app *Application) error {
		return app.Refuse(author, reason, tx.Now())
	})
}

// ApproveApplication records the author's approval of an application and
// adds the grant it creates, with quota (nil for none), to the registry.
func (s *Store) ApproveApplication(ctx context.Context, author, id string, quota *catalog.Quota, authorize AuthorizeApplication) (*Application, *catalog.Grant, error) {
	var grant *catalog.Grant
	app, err := s.reviewApplication(ctx, author, id, authorize, func(tx *Tx, app *Application) error {
		var err error
		grant, err = app.Approve(author, quota, tx.Now())
		if err != nil {
			return err
		}
		if err := checkGrant(tx, grant); err != nil {
			return err
		}
		return queueJSON(tx, tx.keys.Grants(), grant.ID, grant)
	})
	if err != nil {
		return nil, nil, err
	}
	return app, grant, nil
}

// reviewApplication runs one review step on the stored application id: it
// reads the application and its resource, calls authorize, applies step
// and stores the result.
func (s *Store) reviewApplication(ctx context.Context, author, id string, authorize AuthorizeApplication,
	step func(tx *Tx, app *Application) error) (*Application, error) {
	var out *Application
	_, err := s.Change(ctx, author, func(tx *Tx) error {
		app, err := readJSON[Application](tx, tx.keys.Applications(), id, ErrApplicationNotFound)
		if err != nil {
			return err
		}
		resource, err := readJSON[catalog.Resource](tx, tx.keys.Resources(), app.Resource, ErrNotFound)
		if err != nil {
			return err
		}
		if err := authorize(resource, app, nil); err != nil {
			return err
		}
		if err := step(tx, app); err != nil {
			return err
		}
		out = app
		if app.Status != StatusPending && app.Status != StatusChecked {
			tx.pipe.SRem(tx.ctx, tx.keys.OpenApplications(app.Consumer), app.ID)
		}
		return queueJSON(tx, tx.keys.Applications(), app.ID, app)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeGrant removes a grant from the registry, so every gateway refuses
// its calls from the next snapshot on, and keeps a record of who revoked it,
// when and why. The application that created the grant, if any, becomes
// revoked.
func (s *Store) RevokeGrant(ctx context.Context, author, grantID, reason string, authorize AuthorizeApplication) (*RevokedGrant, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	var out *RevokedGrant
	_, err = s.Change(ctx, author, func(tx *Tx) error {
		grant, err := readJSON[catalog.Grant](tx, tx.keys.Grants(), grantID, ErrGrantNotFound)
		if err != nil {
			return err
		}
		// The resource may have been retired since; its last version still
		// names the provider that may revoke.
		resource, err := readResourceOrRetired(tx, grant.Resource)
		if err != nil {
			return err
		}
		app, err := applicationOfGrant(tx, grantID)
		if err != nil {
			return err
		}
		if err := authorize(resource, app, grant); err != nil {
			return err
		}

		out = &RevokedGrant{Grant: *grant, RevokedAt: tx.Now(), RevokedBy: author, Reason: reason}
		record, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encoding revoked grant %q: %w", grantID, err)
		}
		w := tx.Writer()
		w.HDel(tx.ctx, tx.keys.Grants(), grantID)
		w.RPush(tx.ctx, tx.keys.RevokedGrants(), record)
		if app == nil {
			return nil
		}
		now := tx.Now()
		app.Status = StatusRevoked
		app.RevokedAt = &now
		app.RevokedBy = author
		app.Reason = reason
		return queueJSON(tx, tx.keys.Applications(), app.ID, app)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Applications returns the stored applications, oldest first, limited to
// those with the given status unless status is empty.
func (s *Store) Applications(ctx context.Context, status string) ([]*Application, error) {
	switch status {
	case "", StatusPending, StatusChecked, StatusApproved, StatusRefused, StatusRevoked:
	default:
		return nil, invalid("invalid status %q: use pending, checked, approved, refused or revoked", status)
	}
	all, err := s.client.HGetAll(ctx, s.keys.Applications()).Result()
	if err != nil {
		return nil, fmt.Errorf("reading applications: %w", err)
	}
	apps := make([]*Application, 0, len(all))
	for id, data := range all {
		app := new(Application)
		if err := json.Unmarshal([]byte(data), app); err != nil {
			s.logger.Error("skipping undecodable application", zap.String("application", id), zap.Error(err))
			continue
		}
		if status == "" || app.Status == status {
			apps = append(apps, app)
		}
	}
	slices.SortFunc(apps, func(a, b *Application) int {
		if c := a.SubmittedAt.Compare(b.SubmittedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return apps, nil
}

// Application returns the stored application id.
func (s *Store) Application(ctx context.Context, id string) (*Application, error) {
	data, err := s.client.HGet(ctx, s.keys.Applications(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%q: %w", id, ErrApplicationNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading application %q: %w", id, err)
	}
	app := new(Application)
	if err := json.Unmarshal(data, app); err != nil {
		return nil, fmt.Errorf("decoding application %q: %w", id, err)
	}
	return app, nil
}

// checkGrant validates a new grant within the whole registry, with the same
// rules as the catalogue loader, so that approving an application can never
// make the registry snapshot invalid. A grant id already in use is a
// conflict.
func checkGrant(tx *Tx, grant *catalog.Grant) error {
	file, err := tx.File()
	if err != nil {
		return err
	}
	for i := range file.Grants {
		if file.Grants[i].ID == grant.ID {
			return conflict("grant %q already exists", grant.ID)
		}
	}
	file.Grants = append(file.Grants, *grant)
	entry := fmt.Sprintf("grants[%d]", len(file.Grants)-1)

	var entries catalog.Errors
	if err := file.Validate(); !errors.As(err, &entries) {
		return err
	}
	// Only the new grant's problems count: a problem elsewhere was there
	// before this change and is not the reviewer's to fix.
	var problems []string
	for _, e := range entries {
		if e.Entry == entry {
			problems = append(problems, e.Field+": "+e.Problem)
		}
	}
	if len(problems) > 0 {
		return invalid("the grant would be invalid: %s", strings.Join(problems, "; "))
	}
	return nil
}

// applicationOfGrant returns the application that created grantID, or nil
// for a grant from the catalogue file.
// refuseOpenApplications refuses the pending and checked applications for
// resourceID: a retired resource can no longer be reviewed, and its open
// applications would otherwise stay overdue for ever.
func (tx *Tx) refuseOpenApplications(resourceID, reason string) error {
	if err := tx.Watch(tx.keys.Applications()); err != nil {
		return err
	}
	values, err := tx.conn.HGetAll(tx.ctx, tx.keys.Applications()).Result()
	if err != nil {
		return fmt.Errorf("reading applications: %w", err)
	}
	for id, value := range values {
		var app Application
		if err := json.Unmarshal([]byte(value), &app); err != nil {
			return fmt.Errorf("decoding application %q: %w", id, err)
		}
		if app.Resource != resourceID ||
			app.Status != StatusPending && app.Status != StatusChecked {
			continue
		}
		if err := app.Refuse(tx.author, reason, tx.now); err != nil {
			return err
		}
		tx.pipe.SRem(tx.ctx, tx.keys.OpenApplications(app.Consumer), app.ID)
		if err := queueJSON(tx, tx.keys.Applications(), app.ID, &app); err != nil {
			return err
		}
	}
	return nil
}

func applicationOfGrant(tx *Tx, grantID string) (*Application, error) {
	id, ok := strings.CutPrefix(grantID, "grant-")
	if !ok {
		return nil, nil
	}
	app, err := readJSON[Application](tx, tx.keys.Applications(), id, ErrApplicationNotFound)
	if errors.Is(err, ErrApplicationNotFound) {
		return nil, nil
	}
	return app, err
}

func readResourceOrRetired(tx *Tx, id string) (*catalog.Resource, error) {
	existing, err := tx.existing(id)
	if err != nil {
		return nil, err
	}
	if existing.Resource == nil {
		return nil, fmt.Errorf("%q: %w", id, ErrNotFound)
	}
	return existing.Resource, nil
}

// readJSON reads and decodes the hash field id of key through the watched
// connection. A missing field returns an error wrapping missing, such as
// ErrApplicationNotFound, with the id.
func readJSON[T any](tx *Tx, key, id string, missing error) (*T, error) {
	data, err := tx.Reader().HGet(tx.ctx, key, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%q: %w", id, missing)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s entry %q: %w", key, id, err)
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("decoding %s entry %q: %w", key, id, err)
	}
	return v, nil
}

// queueJSON queues HSET key id <v as JSON> in the change.
func queueJSON(tx *Tx, key, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %q: %w", id, err)
	}
	tx.Writer().HSet(tx.ctx, key, id, data)
	return nil
}
