package policy

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is the decision of one engine on one request, in the form a
// dry run compares and reports.
type Outcome struct {
	Version string   `json:"version"`
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons"`
	// Fields is the data scope, and null keeps every field.
	Fields []string          `json:"fields"`
	Masks  map[string]string `json:"masks"`
	// Error is set when the engine returned no decision, which the
	// gateway enforces as a refusal.
	Error string `json:"error,omitempty"`
}

// OutcomeOf returns the outcome of a Decide call on the engine of version.
func OutcomeOf(version string, decision Decision, err error) Outcome {
	if err != nil {
		return Outcome{Version: version, Error: err.Error()}
	}
	return Outcome{
		Version: version,
		Allow:   decision.Allow,
		Reasons: decision.Reasons,
		Fields:  decision.Fields,
		Masks:   decision.Masks,
	}
}

// Parts of an outcome that Differences names.
const (
	PartAllow   = "allow"
	PartReasons = "reasons"
	PartFields  = "fields"
	PartMasks   = "masks"
	PartError   = "error"
)

// Differences lists the parts in which two outcomes differ, in the order
// allow, reasons, fields, masks, error, or returns nil when they agree.
// Reasons and fields compare in order, since the policy sorts them. A nil data scope
// (every field) differs from an empty one (no field).
func Differences(enforced, candidate Outcome) []string {
	var parts []string
	if enforced.Allow != candidate.Allow {
		parts = append(parts, PartAllow)
	}
	if !slices.Equal(enforced.Reasons, candidate.Reasons) {
		parts = append(parts, PartReasons)
	}
	if (enforced.Fields == nil) != (candidate.Fields == nil) ||
		!slices.Equal(enforced.Fields, candidate.Fields) {
		parts = append(parts, PartFields)
	}
	if !maps.Equal(enforced.Masks, candidate.Masks) {
		parts = append(parts, PartMasks)
	}
	if (enforced.Error == "") != (candidate.Error == "") {
		parts = append(parts, PartError)
	}
	return parts
}

// Disagreement is a request on which the dry-run candidate decided
// differently from the enforced policy.
type Disagreement struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Consumer  string    `json:"consumer"`
	Resource  string    `json:"resource"`
	Scenario  string    `json:"scenario"`
	Enforced  Outcome   `json:"enforced"`
	Candidate Outcome   `json:"candidate"`
	// Differences names the parts that differ, as Differences returns.
	Differences []string `json:"differences"`
}

// DryRunConfig configures a DryRun.
type DryRunConfig struct {
	// Candidate contains the candidate engine, which a reload may swap.
	Candidate *atomic.Pointer[Engine]
	// QueueSize bounds the requests waiting for the candidate. Default: 1024.
	QueueSize int
	// History is how many recent disagreements Disagreements returns.
	// Default: 200.
	History int
	// Timeout bounds one candidate evaluation. Default: 100ms.
	Timeout time.Duration
	// OnDisagreement, when set, receives each disagreement on the worker
	// goroutine. It must not modify it.
	OnDisagreement func(*Disagreement)
}

// DryRunStats counts a dry run's work since it started.
type DryRunStats struct {
	// Evaluated counts requests the candidate decided.
	Evaluated uint64 `json:"evaluated"`
	// Disagreed counts the evaluated requests on which it disagreed.
	Disagreed uint64 `json:"disagreed"`
	// Skipped counts requests dropped because the queue was full.
	Skipped uint64 `json:"skipped"`
	// Queued is the number of requests waiting now.
	Queued int `json:"queued"`
}

// DryRun evaluates a candidate policy beside the enforced one on live
// traffic and records where they disagree. The candidate's decisions are
// never enforced. Submit never blocks: one worker goroutine evaluates the
// candidate from a bounded queue, and a request that finds the queue full
// is skipped and counted.
type DryRun struct {
	cfg   DryRunConfig
	queue chan dryRunJob
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	evaluated atomic.Uint64
	disagreed atomic.Uint64
	skipped   atomic.Uint64

	mu   sync.Mutex
	ring []*Disagreement
	next int // index of the slot the next disagreement goes to
	full bool
}

// dryRunJob is passed by value, so Submit does not allocate.
type dryRunJob struct {
	requestID string
	in        Input
	enforced  Decision
	version   string
	err       error
}

// NewDryRun starts a dry run. Call Close to stop its worker.
func NewDryRun(cfg DryRunConfig) *DryRun {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.History <= 0 {
		cfg.History = 200
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	d := &DryRun{
		cfg:   cfg,
		queue: make(chan dryRunJob, cfg.QueueSize),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		ring:  make([]*Disagreement, cfg.History),
	}
	go d.run()
	return d
}

// Submit queues a request for the candidate with the enforced engine's
// version and Decide result. It returns false, and counts a skip, when
// the queue is full or the dry run is closed. in's catalogue entries must
// not change afterwards, as for Decide.
func (d *DryRun) Submit(requestID string, in *Input, version string, enforced Decision, err error) bool {
	select {
	case <-d.stop:
		d.skipped.Add(1)
		return false
	default:
	}
	select {
	case d.queue <- dryRunJob{requestID: requestID, in: *in, enforced: enforced, version: version, err: err}:
		return true
	default:
		d.skipped.Add(1)
		return false
	}
}

// Close stops the worker and waits for it. Requests still queued are
// dropped. Close is idempotent.
func (d *DryRun) Close() {
	d.once.Do(func() { close(d.stop) })
	<-d.done
}

// Stats returns the dry run's counters.
func (d *DryRun) Stats() DryRunStats {
	return DryRunStats{
		Evaluated: d.evaluated.Load(),
		Disagreed: d.disagreed.Load(),
		Skipped:   d.skipped.Load(),
		Queued:    len(d.queue),
	}
}

// Disagreements returns the most recent disagreements, oldest first, at
// most DryRunConfig.History of them. The caller must not modify them.
func (d *DryRun) Disagreements() []Disagreement {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ordered []*Disagreement
	if d.full {
		ordered = append(ordered, d.ring[d.next:]...)
	}
	ordered = append(ordered, d.ring[:d.next]...)
	out := make([]Disagreement, len(ordered))
	for i, entry := range ordered {
		out[i] = *entry
	}
	return out
}

func (d *DryRun) run() {
	defer close(d.done)
	for {
		select {
		case <-d.stop:
			return
		case job := <-d.queue:
			d.evaluate(&job)
		}
	}
}

func (d *DryRun) evaluate(job *dryRunJob) {
	candidate := d.cfg.Candidate.Load()
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout)
	decision, err := candidate.Decide(ctx, &job.in)
	cancel()
	d.evaluated.Add(1)

	enforced := OutcomeOf(job.version, job.enforced, job.err)
	outcome := OutcomeOf(candidate.Version(), decision, err)
	parts := Differences(enforced, outcome)
	if parts == nil {
		return
	}
	d.disagreed.Add(1)
	disagreement := &Disagreement{
		Time:        job.in.Now,
		RequestID:   job.requestID,
		Consumer:    job.in.Consumer.ID,
		Resource:    job.in.Resource.ID,
		Scenario:    job.in.Request.Scenario,
		Enforced:    enforced,
		Candidate:   outcome,
		Differences: parts,
	}
	d.remember(disagreement)
	if d.cfg.OnDisagreement != nil {
		d.cfg.OnDisagreement(disagreement)
	}
}

func (d *DryRun) remember(disagreement *Disagreement) {
	d.mu.Lock()
	d.ring[d.next] = disagreement
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
	d.mu.Unlock()
}
