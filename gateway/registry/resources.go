package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/gateway/catalog"
)

// Actions recorded in a resource's history.
const (
	ActionRegister = "register"
	ActionUpdate   = "update"
	ActionRetire   = "retire"
)

// RetireReason is the reason recorded on the grants revoked because their
// resource was retired.
const RetireReason = "resource retired"

var (
	// ErrNotFound is returned for a resource id the registry does not
	// serve.
	ErrNotFound = errors.New("resource not found")
	// ErrExists is returned when registering an id the registry serves.
	ErrExists = errors.New("resource already registered")
)

// HistoryRecord is one version of a resource, as stored in its history
// list.
type HistoryRecord struct {
	// Version is the registry version the change committed as.
	Version int64     `json:"version"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	// Action is ActionRegister, ActionUpdate or ActionRetire.
	Action string `json:"action"`
	// Changes are the JSON names of the resource's top-level fields that
	// the change set, altered or removed, sorted; empty for a retirement.
	Changes []string `json:"changes"`
	// Resource is the resource after the change; for a retirement, its
	// last version.
	Resource catalog.Resource `json:"resource"`
}

// Existing is the entry the registry holds under a resource id when a
// change starts.
type Existing struct {
	// Resource is the stored resource, or nil when the id is unknown.
	Resource *catalog.Resource
	// Retired reports that Resource is a retired resource's last version.
	Retired bool
}

// Authorize decides, inside the change, whether the author may make it,
// given what the registry holds under the resource id. A non-nil error
// stops the change and is returned by the store method unchanged.
type Authorize func(existing Existing) error

// Problem is one reason a registration is invalid.
type Problem struct {
	// Field is the JSON path of the field at fault, such as "upstream" or
	// "fields[1].path", or "catalogue" for a problem of the whole registry.
	Field string `json:"field"`
	// Message states what is wrong and how to fix it.
	Message string `json:"message"`
}

// String formats the problem as "field: message".
func (p Problem) String() string { return p.Field + ": " + p.Message }

// InvalidError is returned when a registration is invalid. Nothing was
// written.
type InvalidError struct {
	// ResourceID is the id of the resource as sent, or empty when that id
	// is invalid, so that a resident identity number sent as an id is
	// never quoted.
	ResourceID string
	Problems   []Problem
}

// Error lists the problems after a count.
func (e *InvalidError) Error() string {
	var b bytes.Buffer
	b.WriteString("invalid resource")
	if e.ResourceID != "" {
		fmt.Fprintf(&b, " %q", e.ResourceID)
	}
	b.WriteString(": ")
	if len(e.Problems) > 1 {
		fmt.Fprintf(&b, "%d problems: ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Reasons returns each problem as "field: message".
func (e *InvalidError) Reasons() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return out
}

// RegisterResource adds a resource, or brings a retired id back, as a
// change by author. authorize runs inside the change with what the
// registry holds under the id. The resource is validated as the catalogue
// file validates it, its upstream by the store's UpstreamGuard, and its
// path prefix against every other resource. Any problem gives an
// *InvalidError and writes nothing. It returns the history record written.
func (s *Store) RegisterResource(ctx context.Context, author string, res catalog.Resource, authorize Authorize) (HistoryRecord, error) {
	return s.putResource(ctx, author, ActionRegister, res, authorize)
}

// UpdateResource replaces a resource the registry serves, with the checks
// of RegisterResource. An unknown or retired id gives ErrNotFound.
func (s *Store) UpdateResource(ctx context.Context, author string, res catalog.Resource, authorize Authorize) (HistoryRecord, error) {
	return s.putResource(ctx, author, ActionUpdate, res, authorize)
}

func (s *Store) putResource(ctx context.Context, author, action string, res catalog.Resource, authorize Authorize) (HistoryRecord, error) {
	// The lookup may take seconds, so it runs before the change starts
	// instead of while the registry version is watched.
	var upstreamProblem *Problem
	if s.guard != nil {
		if err := s.guard.Check(ctx, res.Upstream); err != nil {
			upstreamProblem = &Problem{Field: "upstream", Message: err.Error()}
		}
	}

	var record HistoryRecord
	_, err := s.Change(ctx, author, func(tx *Tx) error {
		existing, err := tx.existing(res.ID)
		if err != nil {
			return err
		}
		if authorize != nil {
			if err := authorize(existing); err != nil {
				return err
			}
		}
		switch {
		case action == ActionRegister && existing.Resource != nil && !existing.Retired:
			return fmt.Errorf("registering resource %q: %w: send an update instead", res.ID, ErrExists)
		case action == ActionUpdate && (existing.Resource == nil || existing.Retired):
			return fmt.Errorf("updating resource %q: %w: register it first", res.ID, ErrNotFound)
		}

		file, err := tx.File()
		if err != nil {
			return err
		}
		if err := checkCandidate(&file, &res, upstreamProblem); err != nil {
			return err
		}

		var old *catalog.Resource
		if !existing.Retired {
			old = existing.Resource
		}
		record = HistoryRecord{
			Version:  tx.NextVersion(),
			Author:   author,
			Time:     tx.now,
			Action:   action,
			Changes:  changedFields(old, &res),
			Resource: res,
		}
		value, err := json.Marshal(&res)
		if err != nil {
			return fmt.Errorf("encoding resource %q: %w", res.ID, err)
		}
		tx.pipe.HSet(ctx, tx.keys.Resources(), res.ID, value)
		if existing.Retired {
			tx.pipe.HDel(ctx, tx.keys.Retired(), res.ID)
		}
		return tx.queueHistory(record)
	})
	if err != nil {
		return HistoryRecord{}, err
	}
	return record, nil
}

// RetireResource stops serving a resource, as a change by author. Its last
// version moves to Keys.Retired and its history stays readable. Grants for
// it are revoked: each moves to Keys.RevokedGrants with RetireReason.
func (s *Store) RetireResource(ctx context.Context, author, id string, authorize Authorize) (HistoryRecord, error) {
	var record HistoryRecord
	_, err := s.Change(ctx, author, func(tx *Tx) error {
		existing, err := tx.existing(id)
		if err != nil {
			return err
		}
		if authorize != nil {
			if err := authorize(existing); err != nil {
				return err
			}
		}
		if existing.Resource == nil || existing.Retired {
			return fmt.Errorf("retiring resource %q: %w", id, ErrNotFound)
		}

		file, err := tx.File()
		if err != nil {
			return err
		}
		record = HistoryRecord{
			Version:  tx.NextVersion(),
			Author:   author,
			Time:     tx.now,
			Action:   ActionRetire,
			Changes:  []string{},
			Resource: *existing.Resource,
		}
		value, err := json.Marshal(existing.Resource)
		if err != nil {
			return fmt.Errorf("encoding resource %q: %w", id, err)
		}
		tx.pipe.HDel(ctx, tx.keys.Resources(), id)
		tx.pipe.HSet(ctx, tx.keys.Retired(), id, value)
		if err := tx.revokeGrants(file.Grants, id, RetireReason); err != nil {
			return err
		}
		if err := tx.refuseOpenApplications(id, RetireReason); err != nil {
			return err
		}
		return tx.queueHistory(record)
	})
	if err != nil {
		return HistoryRecord{}, err
	}
	return record, nil
}

// revokeGrants queues the revocation of every grant for resourceID, and
// marks the applications that created them as revoked.
func (tx *Tx) revokeGrants(grants []catalog.Grant, resourceID, reason string) error {
	for _, grant := range grants {
		if grant.Resource != resourceID {
			continue
		}
		value, err := json.Marshal(RevokedGrant{
			Grant: grant, RevokedAt: tx.now, RevokedBy: tx.author, Reason: reason,
		})
		if err != nil {
			return fmt.Errorf("encoding revoked grant %q: %w", grant.ID, err)
		}
		tx.pipe.HDel(tx.ctx, tx.keys.Grants(), grant.ID)
		tx.pipe.RPush(tx.ctx, tx.keys.RevokedGrants(), value)

		app, err := applicationOfGrant(tx, grant.ID)
		if err != nil {
			return err
		}
		if app == nil {
			continue
		}
		now := tx.now
		app.Status = StatusRevoked
		app.RevokedAt = &now
		app.RevokedBy = tx.author
		app.Reason = reason
		if err := queueJSON(tx, tx.keys.Applications(), app.ID, app); err != nil {
			return err
		}
	}
	return nil
}

// existing reads what the registry holds under id, live or retired.
func (tx *Tx) existing(id string) (Existing, error) {
	if id == "" {
		return Existing{}, nil
	}
	live, err := readResource(tx.ctx, tx.conn, tx.keys.Resources(), id)
	if err != nil || live != nil {
		return Existing{Resource: live}, err
	}
	retired, err := readResource(tx.ctx, tx.conn, tx.keys.Retired(), id)
	return Existing{Resource: retired, Retired: retired != nil}, err
}

func readResource(ctx context.Context, r redis.Cmdable, key, id string) (*catalog.Resource, error) {
	value, err := r.HGet(ctx, key, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s entry %q: %w", key, id, err)
	}
	var res catalog.Resource
	if err := json.Unmarshal(value, &res); err != nil {
		return nil, fmt.Errorf("decoding %s entry %q: %w", key, id, err)
	}
	return &res, nil
}

func (tx *Tx) queueHistory(record HistoryRecord) error {
	value, err := json.Marshal(&record)
	if err != nil {
		return fmt.Errorf("encoding history of resource %q: %w", record.Resource.ID, err)
	}
	tx.pipe.RPush(tx.ctx, tx.keys.History(record.Resource.ID), value)
	return nil
}

// changedFields returns the JSON names of the top-level fields that differ
// between old and new, sorted. A nil old counts every field new sets.
func changedFields(old, new *catalog.Resource) []string {
	before := jsonFields(old)
	after := jsonFields(new)
	changed := []string{}
	for _, name := range slices.Sorted(maps.Keys(after)) {
		if !bytes.Equal(before[name], after[name]) {
			changed = append(changed, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[name]; !ok {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	return changed
}

func jsonFields(res *catalog.Resource) map[string]json.RawMessage {
	fields := map[string]json.RawMessage{}
	if res == nil {
		return fields
	}
	// A Resource always encodes, and to an object.
	data, _ := json.Marshal(res)
	_ = json.Unmarshal(data, &fields)
	return fields
}

// Resources returns every resource the registry serves, sorted by id, and
// the registry version they belong to, read in one MULTI/EXEC.
func (s *Store) Resources(ctx context.Context) (int64, []catalog.Resource, error) {
	var (
		version   *redis.StringCmd
		resources *redis.MapStringStringCmd
	)
	_, err := s.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		version = pipe.Get(ctx, s.keys.Version())
		resources = pipe.HGetAll(ctx, s.keys.Resources())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, fmt.Errorf("listing resources: %w", err)
	}
	v, err := version.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, fmt.Errorf("listing resources: reading version: %w", err)
	}
	list, err := decodeHash[catalog.Resource](resources, s.keys.Resources())
	if err != nil {
		return 0, nil, fmt.Errorf("listing resources: %w", err)
	}
	return v, list, nil
}

// Resource returns what the registry holds under id, live or retired.
func (s *Store) Resource(ctx context.Context, id string) (Existing, error) {
	live, err := readResource(ctx, s.client, s.keys.Resources(), id)
	if err != nil || live != nil {
		return Existing{Resource: live}, err
	}
	retired, err := readResource(ctx, s.client, s.keys.Retired(), id)
	return Existing{Resource: retired, Retired: retired != nil}, err
}

// MaxHistory bounds the versions History returns, newest kept.
const MaxHistory = 1000

// History returns the versions of a resource, oldest first, up to the
// newest MaxHistory. A retired resource keeps its history. An id never
// registered gives an empty list.
func (s *Store) History(ctx context.Context, id string) ([]HistoryRecord, error) {
	values, err := s.client.LRange(ctx, s.keys.History(id), -MaxHistory, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("reading history of resource %q: %w", id, err)
	}
	records := make([]HistoryRecord, len(values))
	for i, value := range values {
		if err := json.Unmarshal([]byte(value), &records[i]); err != nil {
			return nil, fmt.Errorf("decoding history of resource %q, entry %d: %w", id, i, err)
		}
	}
	return records, nil
}
