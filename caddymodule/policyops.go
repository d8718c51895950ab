package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/policy"
)

// Policy folder watching: the folder is read and hashed every
// watchInterval, and a change is reloaded once it has been stable for
// watchSettle, so an editor's save or a copy of several files is reloaded
// once, complete.
const (
	watchInterval = 500 * time.Millisecond
	watchSettle   = 50 * time.Millisecond
)

// Dry-run bounds. dryRunQueue requests wait for the candidate at most;
// more are skipped and counted. At most disagreementLogsPerSecond
// disagreements are logged each second; the rest are counted, kept in
// the history and summarised in one log line.
const (
	dryRunQueue               = 1024
	dryRunHistory             = 200
	disagreementLogsPerSecond = 100
)

// policyOps is the app's policy tooling: hot reload of the policy
// folders, the dry run of a candidate bundle, and the metrics registry
// that MetricsSnapshot reads.
type policyOps struct {
	// reloader is nil when the app runs the embedded bundle.
	reloader *policy.Reloader

	// The dry run's fields are nil when dry_run_policies is not set.
	dryRunSlot  atomic.Pointer[policy.Engine]
	dryReloader *policy.Reloader
	dryRun      *policy.DryRun
	logWindow   disagreementLogWindow

	// registry is private to MetricsSnapshot, and shared is the config's
	// registry that Caddy serves.
	registry *prometheus.Registry
	shared   *prometheus.Registry

	stopWatch context.CancelFunc
	watchers  sync.WaitGroup
	stopOnce  sync.Once
}

// disagreementLogWindow counts disagreement log lines per second. Only
// the dry run's worker goroutine uses it.
type disagreementLogWindow struct {
	start      time.Time
	logged     int
	suppressed int
}

// provisionPolicyOps sets up reloading, the dry run and the metrics. It
// runs in Provision after the enforced policies are loaded.
func (a *App) provisionPolicyOps(ctx caddy.Context) error {
	a.ops = new(policyOps)
	if a.Policies != "" {
		a.ops.reloader = policy.NewReloader(a.Policies, &a.live.engine)
	}
	if err := a.provisionDryRun(); err != nil {
		return err
	}
	return a.registerMetrics(ctx)
}

func (a *App) provisionDryRun() error {
	a.DryRunPolicies = caddy.NewReplacer().ReplaceKnown(a.DryRunPolicies, "")
	if a.DryRunPolicies == "" {
		return nil
	}
	snapshot, err := policy.ReadSnapshot(a.DryRunPolicies)
	if err != nil {
		return fmt.Errorf("loading dry_run_policies: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	engine, err := snapshot.Build(ctx)
	if err != nil {
		return fmt.Errorf("loading dry_run_policies %q: %s", a.DryRunPolicies, faultList(policy.Faults(err)))
	}
	a.ops.dryRunSlot.Store(engine)
	a.ops.dryReloader = policy.NewReloader(a.DryRunPolicies, &a.ops.dryRunSlot)
	a.ops.dryRun = policy.NewDryRun(policy.DryRunConfig{
		Candidate:      &a.ops.dryRunSlot,
		QueueSize:      dryRunQueue,
		History:        dryRunHistory,
		Timeout:        time.Duration(a.PolicyTimeout),
		OnDisagreement: a.onDisagreement,
	})
	a.logger.Info("dry-run policies loaded",
		zap.String("dir", a.DryRunPolicies),
		zap.String("version", engine.Version()))
	return nil
}

// startPolicyOps registers the audit writer's metrics and starts a
// watcher for each policy folder. It runs in Start, so a config that
// fails to provision starts no watcher, and a scrape during Provision
// never reads a writer not yet acquired.
func (a *App) startPolicyOps() error {
	if err := a.registerWriterMetrics(); err != nil {
		return err
	}
	ops := a.ops
	ctx, cancel := context.WithCancel(context.Background())
	ops.stopWatch = cancel
	for bundle, reloader := range map[string]*policy.Reloader{
		bundleEnforced: ops.reloader,
		bundleDryRun:   ops.dryReloader,
	} {
		if reloader == nil {
			continue
		}
		ops.watchers.Add(1)
		go func() {
			defer ops.watchers.Done()
			reloader.Watch(ctx, policy.WatchConfig{
				Interval: watchInterval,
				Settle:   watchSettle,
				Report:   func(result policy.ReloadResult) { a.reportReload(bundle, result) },
			})
		}()
	}
	return nil
}

// stopPolicyOps stops the watchers and the dry run and waits for their
// goroutines. It tolerates a half-finished Provision and repeated calls.
func (a *App) stopPolicyOps() {
	ops := a.ops
	if ops == nil {
		return
	}
	ops.stopOnce.Do(func() {
		if ops.stopWatch != nil {
			ops.stopWatch()
		}
		ops.watchers.Wait()
		if ops.dryRun != nil {
			ops.dryRun.Close()
		}
	})
}

// reloadPolicies reloads one bundle now, whether or not its folder
// changed. It returns false when the bundle has no folder to reload.
func (a *App) reloadPolicies(ctx context.Context, bundle string) (policy.ReloadResult, bool) {
	reloader := a.ops.reloader
	if bundle == bundleDryRun {
		reloader = a.ops.dryReloader
	}
	if reloader == nil {
		return policy.ReloadResult{}, false
	}
	result := reloader.Reload(ctx)
	a.reportReload(bundle, result)
	return result, true
}

// reportReload logs and counts one reload.
func (a *App) reportReload(bundle string, result policy.ReloadResult) {
	counters.reloads.WithLabelValues(bundle, result.Result).Inc()
	fields := []zap.Field{
		zap.String("bundle", bundle),
		zap.String("dir", result.Dir),
		zap.String("version", result.Version),
		zap.String("previous_version", result.PreviousVersion),
		zap.Duration("duration", result.Duration),
	}
	switch result.Result {
	case policy.ReloadApplied:
		a.logger.Info("policies reloaded", fields...)
	case policy.ReloadUnchanged:
		a.logger.Info("policies reloaded, version unchanged", fields...)
	default:
		faults := make([]string, len(result.Errors))
		for i, fault := range result.Errors {
			faults[i] = fault.String()
		}
		a.logger.Error("policy reload rejected, the running policies stay",
			append(fields,
				zap.String("candidate_version", result.Candidate),
				zap.Strings("errors", faults),
				zap.Error(result.Err))...)
	}
}

// onDisagreement logs and counts one dry-run disagreement. It runs on
// the dry run's worker goroutine.
func (a *App) onDisagreement(d *policy.Disagreement) {
	counters.disagreements.WithLabelValues(d.Resource).Inc()

	window := &a.ops.logWindow
	if now := time.Now(); now.Sub(window.start) >= time.Second {
		if window.suppressed > 0 {
			a.logger.Info("dry-run disagreement logs suppressed",
				zap.Int("count", window.suppressed),
				zap.Int("max_per_second", disagreementLogsPerSecond))
		}
		*window = disagreementLogWindow{start: now}
	}
	if window.logged == disagreementLogsPerSecond {
		window.suppressed++
		return
	}
	window.logged++
	a.logger.Info("dry-run policy disagrees with the enforced policy",
		zap.String("request_id", d.RequestID),
		zap.String("consumer", d.Consumer),
		zap.String("resource", d.Resource),
		zap.String("scenario", d.Scenario),
		zap.Strings("differences", d.Differences),
		zap.Any("enforced", d.Enforced),
		zap.Any("candidate", d.Candidate))
}

// DryRunDisagreements returns the most recent requests on which the
// dry-run policy decided differently from the enforced one, oldest
// first, at most 200. It returns nil when no dry run is configured.
func (a *App) DryRunDisagreements() []policy.Disagreement {
	if a.ops == nil || a.ops.dryRun == nil {
		return nil
	}
	return a.ops.dryRun.Disagreements()
}

// decisionInput builds the policy input of one call. The handler and
// explain both build it here, so explain shows the decision the handler
// makes for the same consumer, resource, scenario, path and time.
func decisionInput(cat *catalog.Catalog, consumer *catalog.Consumer, resource *catalog.Resource,
	request policy.Request, now time.Time) policy.Input {
	return policy.Input{
		Consumer: consumer,
		Resource: resource,
		Grant:    cat.Grant(consumer.ID, resource.ID, request.Scenario, now),
		Request:  request,
		Credit:   cat.Credit(consumer.CreditCode),
		Now:      now,
	}
}

// decide gets the enforced engine's decision on in, counts and times it,
// and submits it to the dry run. It returns the version of the
// engine that decided, which the audit record must carry: the engine is
// loaded once, so a reload during the call cannot split the two.
func (a *App) decide(ctx context.Context, rs *resourceState, in *policy.Input, requestID string) (policy.Decision, string, error) {
	engine := a.live.engine.Load()
	start := time.Now()
	decision, err := engine.DecideWithin(ctx, in, time.Duration(a.PolicyTimeout))
	counters.evalSeconds.Observe(time.Since(start).Seconds())
	if rs != nil {
		rs.metrics.countDecision(decision.Allow, err)
	}
	if ops := a.ops; ops != nil && ops.dryRun != nil {
		if !ops.dryRun.Submit(requestID, in, engine.Version(), decision, err) {
			counters.dryRunSkipped.Inc()
		}
	}
	return decision, engine.Version(), err
}

// faultList formats faults one per line for an error message.
func faultList(faults []policy.Fault) string {
	lines := make([]string, len(faults))
	for i, fault := range faults {
		lines[i] = fault.String()
	}
	return strings.Join(lines, "\n")
}
