package policy

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/policies"
)

// withdrawCensus is a policy file that passes the embedded tests (they
// never read a resource of this id) and refuses every read of it.
const withdrawCensus = `package data_gateway

deny contains "resource population.census is withdrawn for review" if {
	input.resource.id == "population.census"
}
`

// census is a resource the embedded tests never read.
var census = &catalog.Resource{
	ID:         "population.census",
	Provider:   "Xiamen Public Security Bureau",
	PathPrefix: "/api/population/census/",
	Upstream:   "http://127.0.0.1:9001",
	Share:      catalog.ShareUnconditional,
	Open:       catalog.OpenNotOpen,
}

// copyBundle writes the embedded bundle into a new temp folder.
func copyBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS, ".", func(name string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		data, err := fs.ReadFile(policies.FS, name)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying the embedded bundle: %v", err)
	}
	return dir
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editFile replaces the first old in path with new. It fails the test
// when old is absent, so a change to the bundle cannot void the test.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(data), old, new, 1))
}

// lineOf returns the 1-based line of the first occurrence of text in path.
func lineOf(t *testing.T, path, text string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), text)
	if i < 0 {
		t.Fatalf("%s does not contain %q", path, text)
	}
	return strings.Count(string(data[:i]), "\n") + 1
}

func newReloader(t *testing.T, dir string) (*Reloader, *atomic.Pointer[Engine]) {
	t.Helper()
	engine, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	slot := new(atomic.Pointer[Engine])
	slot.Store(engine)
	return NewReloader(dir, slot), slot
}

func decideCensus(t *testing.T, engine *Engine) Decision {
	t.Helper()
	in := Input{Consumer: healthDept, Resource: census, Request: request(""), Now: now}
	decision, err := engine.Decide(context.Background(), &in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return decision
}

func TestReloadRejectsCompileError(t *testing.T) {
	tests := []struct {
		name string
		line string // inserted before the first share refusal
	}{
		{"parse error", "!!! not rego"},
		{"undefined function", "extra_check := no_such_function(1)"},
		{"unsafe variable", "extra_check if x > 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t)
			reloader, slot := newReloader(t, dir)
			running := slot.Load()
			share := filepath.Join(dir, "data_gateway", "share.rego")
			anchor := "share_refusals contains reason if {"
			editFile(t, share, anchor, tt.line+"\n\n"+anchor)
			wantRow := lineOf(t, share, tt.line)

			result := reloader.Reload(context.Background())
			if result.Result != ReloadRejected {
				t.Fatalf("Result = %q, want %q", result.Result, ReloadRejected)
			}
			if len(result.Errors) == 0 {
				t.Fatal("Errors is empty")
			}
			if got := result.Errors[0].File; got != share {
				t.Errorf("Errors[0].File = %q, want %q", got, share)
			}
			if got := result.Errors[0].Row; got != wantRow {
				t.Errorf("Errors[0].Row = %d, want %d", got, wantRow)
			}
			if result.Errors[0].Message == "" {
				t.Error("Errors[0].Message is empty")
			}
			if slot.Load() != running {
				t.Error("the running engine was replaced")
			}
			if result.Version != running.Version() {
				t.Errorf("Version = %q, want the running %q", result.Version, running.Version())
			}
		})
	}
}

func TestReloadRejectsFailingTests(t *testing.T) {
	dir := copyBundle(t)
	reloader, slot := newReloader(t, dir)
	running := slot.Load()
	// A change that compiles but contradicts a test of the refusal text.
	editFile(t, filepath.Join(dir, "data_gateway", "share.rego"),
		`"resource %s is not shared: %s"`, `"resource %s is never shared: %s"`)
	testFile := filepath.Join(dir, "data_gateway", "share_test.rego")

	result := reloader.Reload(context.Background())
	if result.Result != ReloadRejected {
		t.Fatalf("Result = %q, want %q", result.Result, ReloadRejected)
	}
	if len(result.Errors) == 0 {
		t.Fatal("Errors is empty")
	}
	found := false
	for _, fault := range result.Errors {
		if fault.File == testFile && fault.Row > 0 &&
			strings.Contains(fault.Message, "test_deny_not_shared_quotes_legal_basis") {
			found = true
		}
	}
	if !found {
		t.Errorf("Errors = %v, want a fault in %s naming test_deny_not_shared_quotes_legal_basis", result.Errors, testFile)
	}
	if slot.Load() != running {
		t.Error("the running engine was replaced")
	}
	if result.Candidate == running.Version() {
		t.Error("Candidate is the running version, want the rejected bundle's")
	}
}

func TestReloadRejectsMissingFolder(t *testing.T) {
	dir := copyBundle(t)
	reloader, slot := newReloader(t, dir)
	running := slot.Load()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	result := reloader.Reload(context.Background())
	if result.Result != ReloadRejected {
		t.Fatalf("Result = %q, want %q", result.Result, ReloadRejected)
	}
	if result.Err == nil {
		t.Error("Err is nil")
	}
	if slot.Load() != running {
		t.Error("the running engine was replaced")
	}
}

func TestReloadAcceptsFix(t *testing.T) {
	dir := copyBundle(t)
	reloader, slot := newReloader(t, dir)
	running := slot.Load()
	share := filepath.Join(dir, "data_gateway", "share.rego")
	original, err := os.ReadFile(share)
	if err != nil {
		t.Fatal(err)
	}
	editFile(t, share, "share_refusals contains reason if {", "share_refusals contains reason if {{")
	if got := reloader.Reload(context.Background()).Result; got != ReloadRejected {
		t.Fatalf("broken bundle: Result = %q, want %q", got, ReloadRejected)
	}

	writeFile(t, share, string(original))
	writeFile(t, filepath.Join(dir, "data_gateway", "withdraw.rego"), withdrawCensus)
	result := reloader.Reload(context.Background())
	if result.Result != ReloadApplied {
		t.Fatalf("Result = %q, want %q; errors: %v", result.Result, ReloadApplied, result.Errors)
	}
	if result.PreviousVersion != running.Version() {
		t.Errorf("PreviousVersion = %q, want %q", result.PreviousVersion, running.Version())
	}
	if result.Version == running.Version() {
		t.Error("Version did not change")
	}
	if got := slot.Load().Version(); got != result.Version {
		t.Errorf("slot version = %q, want %q", got, result.Version)
	}
	if decideCensus(t, running).Allow != true {
		t.Error("the old engine no longer allows the read")
	}
	if decideCensus(t, slot.Load()).Allow {
		t.Error("the new engine allows a read its policy refuses")
	}

	if got := reloader.Reload(context.Background()).Result; got != ReloadUnchanged {
		t.Errorf("second reload: Result = %q, want %q", got, ReloadUnchanged)
	}
}

func TestWatchSwapsOnChange(t *testing.T) {
	dir := copyBundle(t)
	reloader, slot := newReloader(t, dir)
	running := slot.Load()
	reports := make(chan ReloadResult, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloader.Watch(ctx, WatchConfig{
			Interval: 20 * time.Millisecond,
			Settle:   10 * time.Millisecond,
			Report:   func(r ReloadResult) { reports <- r },
		})
	}()
	defer func() {
		cancel()
		<-done
	}()

	share := filepath.Join(dir, "data_gateway", "share.rego")
	editFile(t, share, "share_refusals contains reason if {", "share_refusals contains reason if {{")
	broken := waitReport(t, reports)
	if broken.Result != ReloadRejected {
		t.Fatalf("broken bundle: Result = %q, want %q", broken.Result, ReloadRejected)
	}
	if len(broken.Errors) == 0 || broken.Errors[0].File != share {
		t.Errorf("broken bundle: Errors = %v, want a fault in %s", broken.Errors, share)
	}
	// The watcher does not retry a bundle it rejected until it changes.
	select {
	case r := <-reports:
		t.Errorf("unexpected report of an unchanged folder: %+v", r)
	case <-time.After(150 * time.Millisecond):
	}

	editFile(t, share, "share_refusals contains reason if {{", "share_refusals contains reason if {")
	writeFile(t, filepath.Join(dir, "data_gateway", "withdraw.rego"), withdrawCensus)
	fixed := waitReport(t, reports)
	if fixed.Result != ReloadApplied {
		t.Fatalf("fixed bundle: Result = %q, want %q; errors: %v", fixed.Result, ReloadApplied, fixed.Errors)
	}
	if slot.Load() == running {
		t.Error("the running engine was not replaced")
	}
}

func TestWatchStopsWithContext(t *testing.T) {
	dir := copyBundle(t)
	reloader, _ := newReloader(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloader.Watch(ctx, WatchConfig{Interval: 10 * time.Millisecond, Settle: 5 * time.Millisecond,
			Report: func(ReloadResult) {}})
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return within 5s of its context ending")
	}
}

func waitReport(t *testing.T, reports <-chan ReloadResult) ReloadResult {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no reload report within 30s")
		return ReloadResult{}
	}
}

func TestFaultString(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  string
	}{
		{"message only", Fault{Message: "m"}, "m"},
		{"file only", Fault{File: "a.rego", Message: "m"}, "a.rego: m"},
		{"file and row", Fault{File: "a.rego", Row: 3, Message: "m"}, "a.rego:3: m"},
		{"file row col", Fault{File: "a.rego", Row: 3, Col: 7, Message: "m"}, "a.rego:3:7: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fault.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
