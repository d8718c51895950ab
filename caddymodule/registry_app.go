package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/registry"
)

// registryStartTimeout bounds the seeding and the first snapshot read while
// the app is provisioned. Past it the app serves the catalogue file and
// the sync loop keeps trying.
const registryStartTimeout = 5 * time.Second

// registryStopTimeout bounds how long Cleanup waits for the sync loop.
const registryStopTimeout = 5 * time.Second

// registryRuntime links the app to the catalogue registry in Redis: the
// store behind the registry API and the sync loop that keeps the served
// catalogue at the registry's version.
type registryRuntime struct {
	store  *registry.Store
	syncer *registry.Syncer
	cancel context.CancelFunc
	done   chan struct{}
}

// startRegistry connects the app to the registry when Redis is configured:
// it seeds an empty registry from the catalogue file, applies the
// registry's snapshot, and starts the sync loop. Without Redis the app
// serves the catalogue file and the registry API responds with 503.
func (a *App) startRegistry() error {
	client := a.RedisClient()
	if client == nil {
		return nil
	}
	logger := a.logger.Named("registry")
	store, err := a.registryStore(client, logger)
	if err != nil {
		return err
	}

	seed := a.live.state.Load().catalog.File()
	syncer := store.NewSyncer(a.applySnapshot, registry.SyncOptions{Seed: &seed})
	ctx, cancel := context.WithTimeout(context.Background(), registryStartTimeout)
	version, err := syncer.Refresh(ctx)
	cancel()
	if err != nil {
		logger.Warn("registry unavailable at start: serving the catalogue file until Redis replies",
			zap.Error(err))
	}

	runCtx, stop := context.WithCancel(context.Background())
	rt := &registryRuntime{store: store, syncer: syncer, cancel: stop, done: make(chan struct{})}
	go func() {
		defer close(rt.done)
		syncer.Run(runCtx)
	}()
	a.registry = rt
	logger.Info("registry sync started",
		zap.String("prefix", store.Keys().Prefix()),
		zap.Int64("registry_version", version),
		zap.Strings("upstream_allow", a.UpstreamAllow))
	return nil
}

// stopRegistry stops the sync loop and waits for it, within
// registryStopTimeout.
func (a *App) stopRegistry() {
	rt := a.registry
	if rt == nil {
		return
	}
	rt.cancel()
	select {
	case <-rt.done:
	case <-time.After(registryStopTimeout):
		a.logger.Warn("registry sync loop did not stop in time",
			zap.Duration("timeout", registryStopTimeout))
	}
}

// applySnapshot validates a registry snapshot as a catalogue file and swaps
// it in with one atomic store. On error the running catalogue stays.
//
// NOTE: newState builds new reverse_proxy upstreams for every resource, so
// each registry change resets their passive health counters.
func (a *App) applySnapshot(snap registry.Snapshot) error {
	st, err := snapshotState(snap)
	if err != nil {
		return err
	}
	a.live.state.Store(st)
	return nil
}

// snapshotState validates a registry snapshot as a catalogue file and
// builds the state the app would serve from it. The explain subcommand
// uses it too, so it accepts exactly the snapshots the app accepts.
func snapshotState(snap registry.Snapshot) (*state, error) {
	cat, err := catalog.New(snap.File, fmt.Sprintf("registry version %d", snap.Version))
	if err != nil {
		return nil, err
	}
	st, err := newState(cat)
	if err != nil {
		return nil, fmt.Errorf("preparing registry version %d: %w", snap.Version, err)
	}
	return st, nil
}

// registryStore returns the store of the registry that the app's options
// name, on client. The explain subcommand reads the registry through it
// too, so both use the same prefix and checks.
func (a *App) registryStore(client redis.UniversalClient, logger *zap.Logger) (*registry.Store, error) {
	allow, err := catalog.ParseAllowList(a.UpstreamAllow)
	if err != nil {
		return nil, fmt.Errorf("upstream_allow: %w", err)
	}
	store, err := registry.New(client, registry.Options{
		Prefix: a.RegistryPrefix,
		Logger: logger,
		Guard:  &catalog.UpstreamGuard{Allow: allow},
	})
	if err != nil {
		return nil, fmt.Errorf("registry_prefix: %w", err)
	}
	return store, nil
}

// validateRegistryOptions checks registry_prefix and upstream_allow, which
// need no I/O, so a typo fails the config even without Redis.
func (a *App) validateRegistryOptions() error {
	if a.RegistryPrefix != "" {
		if err := registry.CheckPrefix(a.RegistryPrefix); err != nil {
			return fmt.Errorf("registry_prefix: %w", err)
		}
	}
	if _, err := catalog.ParseAllowList(a.UpstreamAllow); err != nil {
		return fmt.Errorf("upstream_allow: %w", err)
	}
	return nil
}
