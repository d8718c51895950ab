// Package registry keeps the gateway's catalogue in Redis, so that every
// gateway instance serves the same catalogue and a provider's registration
// reaches all of them without a restart.
//
// Every writer follows one change protocol (see Store.Change): it watches
// the registry version, reads what it needs, validates, and then writes
// inside MULTI/EXEC together with INCR of the version, and finally
// publishes the new version. Readers load a snapshot in one MULTI, so a
// snapshot never holds half of a change.
//
// All keys share one hash tag, so MULTI and WATCH work on Redis Cluster.
package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/catalog"
)

// DefaultPrefix is the key prefix of the registry. The braces are a Redis
// Cluster hash tag: every key that starts with it maps to the same slot.
const DefaultPrefix = "{data_gateway:registry}"

// MaxAttempts bounds how often Change retries a transaction that lost a
// race with another writer.
const MaxAttempts = 16

// ErrContention is returned by Change when every attempt lost a race with
// another writer.
var ErrContention = errors.New("the registry changed during every attempt")

// Keys builds the Redis keys of one registry. The zero value is not usable;
// get one from NewKeys or Store.Keys.
type Keys struct {
	prefix string
}

// NewKeys returns the key builder for prefix. The prefix must contain a
// non-empty hash tag such as "{data_gateway:registry}".
func NewKeys(prefix string) (Keys, error) {
	if err := CheckPrefix(prefix); err != nil {
		return Keys{}, err
	}
	return Keys{prefix: prefix}, nil
}

// CheckPrefix returns an error when prefix has no non-empty hash tag, since
// MULTI on Redis Cluster needs every key of a transaction in one slot.
func CheckPrefix(prefix string) error {
	open := strings.IndexByte(prefix, '{')
	if open >= 0 {
		if end := strings.IndexByte(prefix[open+1:], '}'); end > 0 {
			return nil
		}
	}
	return fmt.Errorf("invalid registry prefix %q: it needs a non-empty hash tag in braces, "+
		"such as %q, so that every registry key maps to one Redis Cluster slot",
		prefix, DefaultPrefix)
}

// Prefix returns the key prefix, hash tag included.
func (k Keys) Prefix() string { return k.prefix }

// Key returns prefix:name, for keys beyond those with their own builder.
func (k Keys) Key(name string) string { return k.prefix + ":" + name }

// Version is the STRING incremented by every change: the registry version.
func (k Keys) Version() string { return k.Key("version") }

// Changes is the pub/sub channel on which each change publishes its new
// version.
func (k Keys) Changes() string { return k.Key("changes") }

// Seeded is the lock an instance holds while it seeds an empty registry.
func (k Keys) Seeded() string { return k.Key("seeded") }

// Resources is the HASH of resource id to catalog.Resource JSON.
func (k Keys) Resources() string { return k.Key("resources") }

// Retired is the HASH of resource id to the JSON of a retired resource's
// last version.
func (k Keys) Retired() string { return k.Key("retired") }

// History is the LIST of version records (HistoryRecord JSON) of one
// resource, oldest first.
func (k Keys) History(resourceID string) string { return k.Key("history:" + resourceID) }

// Consumers is the HASH of consumer id to catalog.Consumer JSON.
func (k Keys) Consumers() string { return k.Key("consumers") }

// Providers is the HASH of provider id to catalog.Provider JSON.
func (k Keys) Providers() string { return k.Key("providers") }

// Grants is the HASH of grant id to catalog.Grant JSON.
func (k Keys) Grants() string { return k.Key("grants") }

// RevokedGrants is the LIST of revoked grants, each the grant's JSON with
// revoked_at, revoked_by and reason added.
func (k Keys) RevokedGrants() string { return k.Key("grants:revoked") }

// Applications is the HASH of application id to application JSON.
func (k Keys) Applications() string { return k.Key("applications") }

// OpenApplications is the SET of the ids of one consumer's applications
// that still wait for a check or a decision.
func (k Keys) OpenApplications(consumer string) string {
	return k.Key("open_applications:" + consumer)
}

// Credit is the HASH of credit code to {"since","source"} of one credit
// list: catalog.ListDishonestDebtor, ListAbnormalOperation or
// ListSeriousDishonest.
func (k Keys) Credit(list string) string { return k.Key("credit:" + list) }

// Options configure a Store.
type Options struct {
	// Prefix is the key prefix; empty means DefaultPrefix.
	Prefix string
	// Logger receives the store's warnings and the sync loop's lifecycle
	// events; nil discards them.
	Logger *zap.Logger
	// Guard checks the upstream of every registered or updated resource;
	// nil skips that check.
	Guard *catalog.UpstreamGuard
}

// Store reads and changes one registry in Redis. It is safe for concurrent
// use.
type Store struct {
	client redis.UniversalClient
	keys   Keys
	logger *zap.Logger
	guard  *catalog.UpstreamGuard
	now    func() time.Time
}

// New returns a store on client. The client may be a single server,
// Sentinel or Cluster client.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("creating registry store: no Redis client: configure redis")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	keys, err := NewKeys(prefix)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	store := &Store{client: client, keys: keys, logger: logger, guard: opts.Guard, now: time.Now}
	return store, nil
}

// Keys returns the store's key builder.
func (s *Store) Keys() Keys { return s.keys }

// Client returns the store's Redis client, for reads outside a change.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Version returns the registry version, or 0 when the registry was never
// seeded.
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, err := s.client.Get(ctx, s.keys.Version()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading registry version: %w", err)
	}
	return v, nil
}

// Tx is one change in progress, handed to the function given to Change.
// Reads through Reader run at once on the connection that watches the
// registry version. Writes through Writer are queued, and run inside
// MULTI/EXEC with the version increment after fn returns.
type Tx struct {
	ctx    context.Context
	keys   Keys
	author string
	now    time.Time
	base   int64
	conn   *redis.Tx
	pipe   redis.Pipeliner
}

// Context returns the context the change runs under.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Keys returns the registry's key builder.
func (tx *Tx) Keys() Keys { return tx.keys }

// Author returns the id of the provider, operator or consumer making the
// change.
func (tx *Tx) Author() string { return tx.author }

// Now returns the time of the change, the same for every record it writes.
func (tx *Tx) Now() time.Time { return tx.now }

// BaseVersion returns the registry version the change started from: 0 for
// a registry never seeded.
func (tx *Tx) BaseVersion() int64 { return tx.base }

// NextVersion returns the version the registry has once this change
// commits. The version key is watched, so a commit always gives exactly
// BaseVersion()+1.
func (tx *Tx) NextVersion() int64 { return tx.base + 1 }

// Reader returns the watched connection, for reads. Every change of the
// registry increments the watched version, so what it reads is still
// current when the change commits, or the change is retried.
func (tx *Tx) Reader() redis.Cmdable { return tx.conn }

// Writer returns the queue of writes that run inside MULTI/EXEC. Results of
// queued commands are known only after Change returns.
func (tx *Tx) Writer() redis.Pipeliner { return tx.pipe }

// Watch adds keys to the watched set, for a read-modify-write of a key
// that is not part of the registry protocol. Call it before reading them.
func (tx *Tx) Watch(keys ...string) error {
	if err := tx.conn.Watch(tx.ctx, keys...).Err(); err != nil {
		return fmt.Errorf("watching %q: %w", keys, err)
	}
	return nil
}

// Change runs fn as one registry change by author and returns the new
// registry version. fn reads through tx.Reader, validates, and queues its
// writes on tx.Writer. When fn returns nil, the writes and INCR of the
// version run in one MULTI/EXEC, which fails if any other change committed
// since the version was read. Change then runs fn again, up to MaxAttempts
// times, so fn must have no effect besides its reads and queued writes.
// After the commit the new version is published on Keys.Changes.
//
// An error from fn is returned unchanged and nothing is written.
func (s *Store) Change(ctx context.Context, author string, fn func(tx *Tx) error) (int64, error) {
	if author == "" {
		return 0, errors.New("changing registry: no author: name the provider, operator " +
			"or consumer making the change")
	}
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		version, err := s.attempt(ctx, author, fn)
		if errors.Is(err, redis.TxFailedErr) {
			if err := sleepBackoff(ctx, attempt); err != nil {
				return 0, fmt.Errorf("changing registry: %w", err)
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		s.publish(ctx, version)
		return version, nil
	}
	return 0, fmt.Errorf("changing registry: %w %d times: retry later", ErrContention, MaxAttempts)
}

// fnError marks an error returned by the caller's function, so Change
// returns it without wrapping.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (s *Store) attempt(ctx context.Context, author string, fn func(tx *Tx) error) (int64, error) {
	var version int64
	err := s.client.Watch(ctx, func(conn *redis.Tx) error {
		base, err := conn.Get(ctx, s.keys.Version()).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading version: %w", err)
		}
		tx := &Tx{
			ctx:    ctx,
			keys:   s.keys,
			author: author,
			now:    s.now().UTC().Truncate(time.Millisecond),
			base:   base,
			conn:   conn,
			pipe:   conn.TxPipeline(),
		}
		if err := fn(tx); err != nil {
			return fnError{err}
		}
		incr := tx.pipe.Incr(ctx, s.keys.Version())
		if _, err := tx.pipe.Exec(ctx); err != nil {
			if errors.Is(err, redis.TxFailedErr) {
				return err
			}
			return fmt.Errorf("committing: %w", err)
		}
		version = incr.Val()
		return nil
	}, s.keys.Version())

	var callerErr fnError
	if errors.As(err, &callerErr) {
		return 0, callerErr.err
	}
	if err != nil && !errors.Is(err, redis.TxFailedErr) {
		return 0, fmt.Errorf("changing registry: %w", err)
	}
	return version, err
}

// publish announces a committed version. A lost message only delays the
// other instances until their next poll of the version, so a failure is
// logged rather than returned.
func (s *Store) publish(ctx context.Context, version int64) {
	err := s.client.Publish(ctx, s.keys.Changes(), strconv.FormatInt(version, 10)).Err()
	if err != nil {
		s.logger.Warn("publishing registry change failed; other instances apply it at their next poll",
			zap.Int64("version", version), zap.Error(err))
	}
}

// sleepBackoff waits a little longer after each lost race, with jitter so
// that competing writers spread out.
func sleepBackoff(ctx context.Context, attempt int) error {
	limit := time.Duration(min(attempt, 8)) * 2 * time.Millisecond
	timer := time.NewTimer(time.Millisecond + rand.N(limit))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
