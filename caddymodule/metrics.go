package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/citydata/datagateway/gateway/mask"
)

// Decision results, the values of the result label of
// data_gateway_decisions_total.
const (
	resultAllow = "allow"
	resultDeny  = "deny"
	resultError = "error"
)

// Policy bundles, the values of the bundle label of
// data_gateway_policy_reloads_total.
const (
	bundleEnforced = "enforced"
	bundleDryRun   = "dry_run"
)

// counters are the collectors that outlive a config: they belong to the
// process, so their counts go on across config reloads, and every new
// config registers them on its own metrics registry. Caddy gives each
// config a fresh registry, so a collector is never registered twice on
// one.
var counters = newGatewayCounters()

type gatewayCounters struct {
	decisions     *prometheus.CounterVec
	evalSeconds   prometheus.Histogram
	maskedFields  *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	disagreements *prometheus.CounterVec
	dryRunSkipped prometheus.Counter
}

func newGatewayCounters() *gatewayCounters {
	const ns = "data_gateway"
	return &gatewayCounters{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns,
			Name:      "decisions_total",
			Help:      "Policy decisions by result (allow, deny, error) and catalogue resource.",
		}, []string{"result", "resource"}),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns,
			Name:      "policy_eval_seconds",
			Help:      "Time to decide one request, decision cache hits included.",
			// From a cache hit (about a microsecond) to the default
			// policy_timeout of 100ms.
			Buckets: []float64{1e-6, 5e-6, 2.5e-5, 1e-4, 2.5e-4, 1e-3, 2.5e-3, 1e-2, 2.5e-2, 0.1},
		}),
		maskedFields: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns,
			Name:      "masked_fields_total",
			Help:      "Response values masked or removed, by field class.",
		}, []string{"class"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns,
			Name:      "policy_reloads_total",
			Help:      "Policy reloads by bundle (enforced, dry_run) and result (reloaded, unchanged, rejected).",
		}, []string{"bundle", "result"}),
		disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns,
			Name:      "dry_run_disagreements_total",
			Help:      "Requests on which the dry-run policy decided differently from the enforced one, by resource.",
		}, []string{"resource"}),
		dryRunSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns,
			Name:      "dry_run_skipped_total",
			Help:      "Requests the dry-run policy did not evaluate because its queue was full.",
		}),
	}
}

func (c *gatewayCounters) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		c.decisions, c.evalSeconds, c.maskedFields, c.reloads, c.disagreements, c.dryRunSkipped,
	}
}

// resourceMetrics are one resource's counters, resolved when the
// catalogue is loaded so the hot path only adds to them.
type resourceMetrics struct {
	allow, deny, failed prometheus.Counter
	// masked is indexed by class id, the index of mask.Stats.ByClass.
	masked []prometheus.Counter
}

func newResourceMetrics(resourceID string, rules *mask.Rules) *resourceMetrics {
	classes := rules.Classes()
	m := &resourceMetrics{
		allow:  counters.decisions.WithLabelValues(resultAllow, resourceID),
		deny:   counters.decisions.WithLabelValues(resultDeny, resourceID),
		failed: counters.decisions.WithLabelValues(resultError, resourceID),
		masked: make([]prometheus.Counter, len(classes)),
	}
	for i, class := range classes {
		m.masked[i] = counters.maskedFields.WithLabelValues(class)
	}
	return m
}

// countDecision counts one policy decision; nil m counts nothing.
func (m *resourceMetrics) countDecision(allow bool, err error) {
	switch {
	case m == nil:
	case err != nil:
		m.failed.Inc()
	case allow:
		m.allow.Inc()
	default:
		m.deny.Inc()
	}
}

// countMasked adds one response's masked values by class.
func (m *resourceMetrics) countMasked(stats *mask.Stats) {
	if m == nil || stats.Masked == 0 {
		return
	}
	for id, n := range stats.ByClass[:len(m.masked)] {
		if n > 0 {
			m.masked[id].Add(float64(n))
		}
	}
}

// writerCollectors returns the collectors that read this config's audit
// writer at scrape time.
func (a *App) writerCollectors() []prometheus.Collector {
	const ns = "data_gateway"
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns,
			Name:      "audit_queue_depth",
			Help:      "Audit records committed and waiting for the writer.",
		}, func() float64 { return float64(a.writer.Stats().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns,
			Name:      "spool_bytes",
			Help:      "Size in bytes of the on-disk audit spool.",
		}, func() float64 { return float64(a.writer.Stats().SpoolBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: ns,
			Name:      "redis_errors_total",
			Help:      "Failed Redis calls of the audit writer since it started.",
		}, func() float64 { return float64(a.writer.Stats().RedisErrors) }),
	}
}

// registerMetrics registers the process-wide counters on the config's
// metrics registry, which Caddy serves at the admin endpoint's /metrics,
// and on a private registry that MetricsSnapshot reads.
func (a *App) registerMetrics(ctx caddy.Context) error {
	a.ops.registry = prometheus.NewRegistry()
	a.ops.shared = ctx.GetMetricsRegistry()
	return a.register(counters.collectors())
}

// registerWriterMetrics registers the collectors that read the audit
// writer, once Provision has acquired it.
func (a *App) registerWriterMetrics() error {
	return a.register(a.writerCollectors())
}

func (a *App) register(collectors []prometheus.Collector) error {
	for _, c := range collectors {
		if err := a.ops.registry.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
		if a.ops.shared == nil {
			continue
		}
		var already prometheus.AlreadyRegisteredError
		if err := a.ops.shared.Register(c); err != nil && !errors.As(err, &already) {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// MetricsSnapshot is the gateway's metrics at one moment, the same values
// the admin endpoint's /metrics serves.
type MetricsSnapshot struct {
	Time time.Time `json:"time"`
	// Decisions counts policy decisions by resource id, then by result:
	// allow, deny or error.
	Decisions map[string]map[string]uint64 `json:"decisions"`
	// PolicyEvaluations and PolicyEvalSeconds are the count and the total
	// time of the decisions timed, cache hits included.
	PolicyEvaluations uint64  `json:"policy_evaluations"`
	PolicyEvalSeconds float64 `json:"policy_eval_seconds"`
	// MaskedFields counts masked or removed values by field class.
	MaskedFields    map[string]uint64 `json:"masked_fields"`
	AuditQueueDepth uint64            `json:"audit_queue_depth"`
	SpoolBytes      uint64            `json:"spool_bytes"`
	RedisErrors     uint64            `json:"redis_errors"`
	// PolicyReloads counts reloads by bundle (enforced, dry_run), then by
	// result (reloaded, unchanged, rejected).
	PolicyReloads map[string]map[string]uint64 `json:"policy_reloads"`
	// DryRunDisagreements counts disagreements by resource id.
	DryRunDisagreements map[string]uint64 `json:"dry_run_disagreements"`
	DryRunSkipped       uint64            `json:"dry_run_skipped"`
	PolicyVersion       string            `json:"policy_version"`
	// DryRunPolicyVersion is empty when no dry run is configured.
	DryRunPolicyVersion string `json:"dry_run_policy_version,omitempty"`
}

// MetricsSnapshot returns the current values of the gateway's metrics.
// Counters count since the process started, across config reloads.
func (a *App) MetricsSnapshot() (MetricsSnapshot, error) {
	snap := MetricsSnapshot{
		Time:                time.Now(),
		Decisions:           map[string]map[string]uint64{},
		MaskedFields:        map[string]uint64{},
		PolicyReloads:       map[string]map[string]uint64{},
		DryRunDisagreements: map[string]uint64{},
		PolicyVersion:       a.live.engine.Load().Version(),
	}
	if engine := a.ops.dryRunSlot.Load(); engine != nil {
		snap.DryRunPolicyVersion = engine.Version()
	}
	families, err := a.ops.registry.Gather()
	if err != nil {
		return MetricsSnapshot{}, fmt.Errorf("gathering metrics: %w", err)
	}
	for _, family := range families {
		for _, metric := range family.GetMetric() {
			snap.add(family.GetName(), metric)
		}
	}
	return snap, nil
}

func (s *MetricsSnapshot) add(name string, metric *dto.Metric) {
	labels := map[string]string{}
	for _, pair := range metric.GetLabel() {
		labels[pair.GetName()] = pair.GetValue()
	}
	value := uint64(metric.GetCounter().GetValue() + metric.GetGauge().GetValue())
	switch name {
	case "data_gateway_decisions_total":
		nested(s.Decisions, labels["resource"])[labels["result"]] = value
	case "data_gateway_policy_eval_seconds":
		s.PolicyEvaluations = metric.GetHistogram().GetSampleCount()
		s.PolicyEvalSeconds = metric.GetHistogram().GetSampleSum()
	case "data_gateway_masked_fields_total":
		s.MaskedFields[labels["class"]] = value
	case "data_gateway_audit_queue_depth":
		s.AuditQueueDepth = value
	case "data_gateway_spool_bytes":
		s.SpoolBytes = value
	case "data_gateway_redis_errors_total":
		s.RedisErrors = value
	case "data_gateway_policy_reloads_total":
		nested(s.PolicyReloads, labels["bundle"])[labels["result"]] = value
	case "data_gateway_dry_run_disagreements_total":
		s.DryRunDisagreements[labels["resource"]] = value
	case "data_gateway_dry_run_skipped_total":
		s.DryRunSkipped = value
	}
}

func nested(m map[string]map[string]uint64, key string) map[string]uint64 {
	inner, ok := m[key]
	if !ok {
		inner = map[string]uint64{}
		m[key] = inner
	}
	return inner
}
