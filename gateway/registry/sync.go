package registry

import (
	"context"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/catalog"
)

// DefaultPollInterval is how often a Syncer reads the registry version when
// no change message arrives, so a lost pub/sub message delays a change by
// at most this long.
const DefaultPollInterval = time.Second

// Apply installs a snapshot in the running instance. An error means the
// snapshot was not installed and the previous one stays in force.
type Apply func(snap Snapshot) error

// SyncOptions configure a Syncer.
type SyncOptions struct {
	// Interval is how often the version is polled; zero means
	// DefaultPollInterval.
	Interval time.Duration
	// Seed, when set, is written to the registry whenever the registry
	// has no version yet (see Store.Seed).
	Seed *catalog.File
}

// Syncer keeps one instance's catalogue at the registry's latest version.
// It reacts to the change messages on Keys.Changes and also polls the
// version, and applies each newer snapshot through its Apply function. A
// snapshot that Apply rejects is logged once and not retried until the
// version changes again.
type Syncer struct {
	store    *Store
	apply    Apply
	interval time.Duration
	seed     *catalog.File
	logger   *zap.Logger

	// mu serialises refreshes, so snapshots are applied in version order.
	mu       sync.Mutex
	applied  int64
	rejected int64
	failing  bool
}

// NewSyncer returns a syncer that has applied nothing yet.
func (s *Store) NewSyncer(apply Apply, opts SyncOptions) *Syncer {
	interval := opts.Interval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	return &Syncer{
		store:    s,
		apply:    apply,
		interval: interval,
		seed:     opts.Seed,
		logger:   s.logger,
	}
}

// Applied returns the registry version last applied.
func (y *Syncer) Applied() int64 {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.applied
}

// Refresh applies the registry's snapshot if its version is newer than
// the one applied, and returns the version applied afterwards. It returns
// an error only when Redis could not be read.
func (y *Syncer) Refresh(ctx context.Context) (int64, error) {
	y.mu.Lock()
	defer y.mu.Unlock()

	version, err := y.store.Version(ctx)
	if err == nil && version == 0 && y.seed != nil {
		version, err = y.seedRegistry(ctx)
	}
	if err != nil {
		y.noteFailure(err)
		return y.applied, err
	}
	if version <= y.applied || version == y.rejected {
		y.noteRecovery()
		return y.applied, nil
	}

	snap, err := y.store.Snapshot(ctx)
	if err != nil {
		y.noteFailure(err)
		return y.applied, err
	}
	y.noteRecovery()
	if snap.Version <= y.applied {
		return y.applied, nil
	}
	if err := y.apply(snap); err != nil {
		y.rejected = snap.Version
		y.logger.Error("registry snapshot rejected, keeping the running catalogue",
			zap.Int64("registry_version", snap.Version),
			zap.Int64("running_version", y.applied),
			zap.Error(err))
		return y.applied, nil
	}
	y.logger.Info("registry snapshot applied",
		zap.Int64("registry_version", snap.Version),
		zap.Int64("previous_version", y.applied),
		zap.Int("resources", len(snap.File.Resources)))
	y.applied = snap.Version
	return y.applied, nil
}

// seedRegistry writes the seed file to the empty registry and returns the
// registry version afterwards, which is still 0 while another instance
// holds the seed lock.
func (y *Syncer) seedRegistry(ctx context.Context) (int64, error) {
	seeded, err := y.store.Seed(ctx, *y.seed)
	if err != nil {
		return 0, err
	}
	if seeded {
		y.logger.Info("registry seeded from the catalogue file",
			zap.Int("resources", len(y.seed.Resources)),
			zap.Int("consumers", len(y.seed.Consumers)),
			zap.Int("providers", len(y.seed.Providers)))
	}
	return y.store.Version(ctx)
}

// noteFailure logs the first of a run of Redis errors; the rest of the run
// would only repeat it once per poll.
func (y *Syncer) noteFailure(err error) {
	if y.failing {
		return
	}
	y.failing = true
	y.logger.Warn("reading the registry failed, serving the running catalogue until Redis replies",
		zap.Int64("running_version", y.applied), zap.Error(err))
}

func (y *Syncer) noteRecovery() {
	if !y.failing {
		return
	}
	y.failing = false
	y.logger.Info("registry reachable again", zap.Int64("running_version", y.applied))
}

// Run refreshes on every change message and every poll interval until ctx
// ends. The subscription reconnects by itself after a Redis outage, and
// the poll covers the messages lost meanwhile.
func (y *Syncer) Run(ctx context.Context) {
	pubsub := y.store.client.Subscribe(ctx, y.store.keys.Changes())
	defer pubsub.Close()
	messages := pubsub.Channel()

	ticker := time.NewTicker(y.interval)
	defer ticker.Stop()

	_, _ = y.Refresh(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-messages:
			if !ok {
				// The subscription closed, which happens only when ctx
				// ends or the client closes; polling goes on until then.
				messages = nil
				continue
			}
			if v, err := strconv.ParseInt(msg.Payload, 10, 64); err == nil && v <= y.Applied() {
				continue
			}
		case <-ticker.C:
		}
		_, _ = y.Refresh(ctx)
	}
}
