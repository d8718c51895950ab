package policy

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot is the content of a policy folder read at one moment, tests
// included, so the bundle that is tested is the bundle that is compiled
// even when the folder changes during a reload.
type Snapshot struct {
	// Dir is the folder the snapshot was read from.
	Dir string
	// Hash is a content hash of every .rego file, tests included, so a
	// change to a test alone is seen too.
	Hash string
	// Version is the Version an Engine built from the snapshot has.
	Version string
	files   []policyFile
}

// ReadSnapshot reads every .rego file under dir, tests included, within
// the limits Load applies.
func ReadSnapshot(dir string) (*Snapshot, error) {
	files, err := readBundle(os.DirFS(dir), dir, strconv.Quote(dir), true)
	if err != nil {
		return nil, err
	}
	return &Snapshot{
		Dir:     dir,
		Hash:    bundleVersion(files),
		Version: bundleVersion(policyFiles(files)),
		files:   files,
	}, nil
}

// Build compiles the snapshot's policy modules and runs its Rego tests
// against them. It returns an Engine only when both pass. The error wraps
// ast.Errors for a file that does not parse or compile, and is a
// *TestError for failed tests. Faults turns either into located faults.
func (s *Snapshot) Build(ctx context.Context) (*Engine, error) {
	// The tests compile the modules again with the tests, so the two
	// compilations run in parallel to shorten a reload.
	type compiled struct {
		engine *Engine
		err    error
	}
	done := make(chan compiled, 1)
	go func() {
		engine, err := compile(policyFiles(s.files), strconv.Quote(s.Dir))
		done <- compiled{engine, err}
	}()
	testErr := runTestFiles(ctx, gatewayCapabilities(), s.files)
	result := <-done

	// A compile error comes first: it names the file and line, where the
	// tests would only fail to compile.
	if result.err != nil {
		return nil, result.err
	}
	if testErr != nil {
		return nil, testErr
	}
	return result.engine, nil
}

// policyFiles returns files without the *_test.rego files.
func policyFiles(files []policyFile) []policyFile {
	out := make([]policyFile, 0, len(files))
	for _, f := range files {
		if !strings.HasSuffix(f.path, "_test.rego") {
			out = append(out, f)
		}
	}
	return out
}

// Outcomes of a reload.
const (
	// ReloadApplied means the candidate replaced the running engine.
	ReloadApplied = "reloaded"
	// ReloadUnchanged means the candidate passed but has the running
	// engine's version, so the running engine and its cache stay.
	ReloadUnchanged = "unchanged"
	// ReloadRejected means the folder could not be read, did not compile
	// or failed its tests. The running engine stays.
	ReloadRejected = "rejected"
)

// ReloadResult reports one reload.
type ReloadResult struct {
	// Result is ReloadApplied, ReloadUnchanged or ReloadRejected.
	Result string `json:"result"`
	Dir    string `json:"dir"`
	// Version is the running engine's version after the reload, and
	// PreviousVersion the one before it.
	Version         string `json:"version"`
	PreviousVersion string `json:"previous_version"`
	// Candidate is the version of the rejected bundle, when it was read.
	Candidate string `json:"candidate_version,omitempty"`
	// Errors are the rejected bundle's faults.
	Errors []Fault `json:"errors,omitempty"`
	// Err is the error that rejected the bundle.
	Err      error         `json:"-"`
	Duration time.Duration `json:"-"`
}

// reloadTimeout bounds compiling and testing one candidate bundle.
const reloadTimeout = time.Minute

// Reloader installs new versions of a policy folder into an engine slot:
// it reads the folder, compiles it, runs its Rego tests, and swaps the
// engine only when both pass. Requests that load the slot once each see
// one engine or the other, never a mix. Its methods are safe for
// concurrent use; reloads run one at a time.
type Reloader struct {
	dir  string
	slot *atomic.Pointer[Engine]

	mu sync.Mutex
	// seen is the hash of the last snapshot reloaded, passed or not, so
	// the watcher does not retry a broken bundle until it changes.
	seen string
}

// NewReloader returns a Reloader of dir into slot, which must already
// hold the engine loaded from dir.
func NewReloader(dir string, slot *atomic.Pointer[Engine]) *Reloader {
	return &Reloader{dir: dir, slot: slot}
}

// Dir returns the policy folder.
func (r *Reloader) Dir() string { return r.dir }

// Reload reads the folder and installs it if it compiles and its tests
// pass, whether or not it changed since the last reload.
func (r *Reloader) Reload(ctx context.Context) ReloadResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	snapshot, err := ReadSnapshot(r.dir)
	if err != nil {
		return r.reject(start, "", err)
	}
	return r.install(ctx, start, snapshot)
}

// install builds snapshot and swaps it in. The caller holds r.mu.
func (r *Reloader) install(ctx context.Context, start time.Time, snapshot *Snapshot) ReloadResult {
	r.seen = snapshot.Hash
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	candidate, err := snapshot.Build(ctx)
	if err != nil {
		return r.reject(start, snapshot.Version, err)
	}

	previous := r.slot.Load()
	result := ReloadResult{
		Result:          ReloadUnchanged,
		Dir:             r.dir,
		Version:         previous.Version(),
		PreviousVersion: previous.Version(),
	}
	if candidate.Version() != previous.Version() {
		r.slot.Store(candidate)
		result.Result = ReloadApplied
		result.Version = candidate.Version()
	}
	result.Duration = time.Since(start)
	return result
}

func (r *Reloader) reject(start time.Time, candidate string, err error) ReloadResult {
	version := r.slot.Load().Version()
	return ReloadResult{
		Result:          ReloadRejected,
		Dir:             r.dir,
		Version:         version,
		PreviousVersion: version,
		Candidate:       candidate,
		Errors:          rootFaults(Faults(err), r.dir),
		Err:             fmt.Errorf("reloading policies from %q: %w", r.dir, err),
		Duration:        time.Since(start),
	}
}

// WatchConfig configures Reloader.Watch.
type WatchConfig struct {
	// Interval is how often the folder is read and hashed.
	Interval time.Duration
	// Settle is how long a changed folder must stay unchanged before it is
	// reloaded, so an editor's write-rename sequence or a copy of several
	// files is reloaded once, complete.
	Settle time.Duration
	// Report receives every reload the watcher makes and every error
	// reading the folder (as a rejected result), each distinct read error
	// once. It runs on the watcher's goroutine.
	Report func(ReloadResult)
}

// maxSettleRounds bounds how long a folder that keeps changing delays a
// reload: after this many Settle periods the watcher waits for the next
// Interval and starts again.
const maxSettleRounds = 20

// Watch reloads the folder when its content changes, until ctx ends. It
// polls instead of using file system notifications, so it also works on
// network and container-mounted folders. On start it reloads at once if
// the folder no longer matches the running engine.
func (r *Reloader) Watch(ctx context.Context, cfg WatchConfig) {
	w := watcher{r: r, cfg: cfg}
	if snapshot, ok := w.read(); ok {
		if snapshot.Version != r.slot.Load().Version() {
			w.reload(ctx, snapshot)
		} else {
			r.mu.Lock()
			r.seen = snapshot.Hash
			r.mu.Unlock()
		}
	}

	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		snapshot, ok := w.read()
		if !ok || !w.changed(snapshot) {
			continue
		}
		if settled, ok := w.settle(ctx, snapshot); ok {
			w.reload(ctx, settled)
		}
	}
}

// watcher is the state of one Watch loop.
type watcher struct {
	r   *Reloader
	cfg WatchConfig
	// readErr is the last error reading the folder, reported once.
	readErr string
}

func (w *watcher) read() (*Snapshot, bool) {
	snapshot, err := ReadSnapshot(w.r.dir)
	if err != nil {
		if msg := err.Error(); msg != w.readErr {
			w.readErr = msg
			w.cfg.Report(w.r.reject(time.Now(), "", err))
		}
		return nil, false
	}
	w.readErr = ""
	return snapshot, true
}

func (w *watcher) changed(snapshot *Snapshot) bool {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return snapshot.Hash != w.r.seen
}

// settle waits until two reads Settle apart agree, and returns the last.
func (w *watcher) settle(ctx context.Context, snapshot *Snapshot) (*Snapshot, bool) {
	timer := time.NewTimer(w.cfg.Settle)
	defer timer.Stop()
	for range maxSettleRounds {
		select {
		case <-ctx.Done():
			return nil, false
		case <-timer.C:
		}
		next, ok := w.read()
		if !ok {
			return nil, false
		}
		if next.Hash == snapshot.Hash {
			return next, true
		}
		snapshot = next
		timer.Reset(w.cfg.Settle)
	}
	return nil, false
}

func (w *watcher) reload(ctx context.Context, snapshot *Snapshot) {
	w.r.mu.Lock()
	result := w.r.install(ctx, time.Now(), snapshot)
	w.r.mu.Unlock()
	if ctx.Err() != nil && result.Result == ReloadRejected {
		// Stopped mid-reload: the rejection is the cancellation, not a fault.
		return
	}
	w.cfg.Report(result)
}
