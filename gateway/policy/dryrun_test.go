package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
)

func TestDifferences(t *testing.T) {
	base := Outcome{
		Version: "a",
		Allow:   true,
		Reasons: nil,
		Fields:  []string{"data.name"},
		Masks:   map[string]string{"id_number": "partial"},
	}
	tests := []struct {
		name   string
		change func(o *Outcome)
		want   []string
	}{
		{"same decision other version", func(o *Outcome) { o.Version = "b" }, nil},
		{"allow", func(o *Outcome) { o.Allow = false }, []string{PartAllow}},
		{"reasons", func(o *Outcome) { o.Reasons = []string{"no"} }, []string{PartReasons}},
		{"fields added", func(o *Outcome) { o.Fields = []string{"data.name", "data.phone"} }, []string{PartFields}},
		{"fields null", func(o *Outcome) { o.Fields = nil }, []string{PartFields}},
		{"fields empty", func(o *Outcome) { o.Fields = []string{} }, []string{PartFields}},
		{"mask strategy", func(o *Outcome) { o.Masks = map[string]string{"id_number": "hash"} }, []string{PartMasks}},
		{"mask class added", func(o *Outcome) {
			o.Masks = map[string]string{"id_number": "partial", "phone": "remove"}
		}, []string{PartMasks}},
		{"error", func(o *Outcome) { *o = Outcome{Version: "b", Error: "timed out"} },
			[]string{PartAllow, PartFields, PartMasks, PartError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			candidate := base
			candidate.Masks = map[string]string{"id_number": "partial"}
			tt.change(&candidate)
			if got := Differences(base, candidate); !slices.Equal(got, tt.want) {
				t.Errorf("Differences = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutcomeOfError(t *testing.T) {
	got := OutcomeOf("v1", Decision{Allow: true}, errors.New("policy timed out"))
	if got.Allow {
		t.Error("Allow = true for an error, want false")
	}
	if got.Error != "policy timed out" {
		t.Errorf("Error = %q, want %q", got.Error, "policy timed out")
	}
}

// candidateSlot loads the embedded bundle plus withdrawCensus.
func candidateSlot(t *testing.T) *atomic.Pointer[Engine] {
	t.Helper()
	dir := copyBundle(t)
	if err := os.WriteFile(filepath.Join(dir, "data_gateway", "withdraw.rego"), []byte(withdrawCensus), 0o644); err != nil {
		t.Fatal(err)
	}
	engine, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	slot := new(atomic.Pointer[Engine])
	slot.Store(engine)
	return slot
}

func waitEvaluated(t *testing.T, d *DryRun, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.Stats().Evaluated < n {
		if time.Now().After(deadline) {
			t.Fatalf("evaluated %d of %d requests within 10s", d.Stats().Evaluated, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDryRunReportsOnlyDisagreements(t *testing.T) {
	enforced := loadDefault(t)
	dry := NewDryRun(DryRunConfig{Candidate: candidateSlot(t)})
	defer dry.Close()

	requests := []struct {
		id       string
		resource *catalog.Resource
	}{
		{"r1", persons}, {"r2", census}, {"r3", taxRecords}, {"r4", census}, {"r5", persons},
	}
	for _, r := range requests {
		in := Input{Consumer: healthDept, Resource: r.resource, Request: request(""), Now: now}
		decision, err := enforced.Decide(context.Background(), &in)
		if !dry.Submit(r.id, &in, enforced.Version(), decision, err) {
			t.Fatalf("Submit(%s) = false, want true", r.id)
		}
	}
	waitEvaluated(t, dry, uint64(len(requests)))

	got := dry.Disagreements()
	var ids []string
	for _, d := range got {
		ids = append(ids, d.RequestID)
	}
	if want := []string{"r2", "r4"}; !slices.Equal(ids, want) {
		t.Fatalf("disagreement request ids = %q, want %q", ids, want)
	}
	first := got[0]
	if first.Resource != census.ID {
		t.Errorf("Resource = %q, want %q", first.Resource, census.ID)
	}
	if first.Consumer != healthDept.ID {
		t.Errorf("Consumer = %q, want %q", first.Consumer, healthDept.ID)
	}
	if !first.Enforced.Allow {
		t.Error("Enforced.Allow = false, want true")
	}
	if first.Candidate.Allow {
		t.Error("Candidate.Allow = true, want false")
	}
	if !slices.Equal(first.Differences, []string{PartAllow, PartReasons}) {
		t.Errorf("Differences = %q, want allow and reasons", first.Differences)
	}
	if first.Candidate.Version == first.Enforced.Version {
		t.Error("candidate and enforced versions are equal")
	}
	stats := dry.Stats()
	if stats.Disagreed != 2 {
		t.Errorf("Stats().Disagreed = %d, want 2", stats.Disagreed)
	}
	if stats.Skipped != 0 {
		t.Errorf("Stats().Skipped = %d, want 0", stats.Skipped)
	}
}

func TestDryRunKeepsLatestHistory(t *testing.T) {
	enforced := loadDefault(t)
	dry := NewDryRun(DryRunConfig{Candidate: candidateSlot(t), History: 3})
	defer dry.Close()
	ids := []string{"a", "b", "c", "d", "e"}
	for _, id := range ids {
		in := Input{Consumer: healthDept, Resource: census, Request: request(""), Now: now}
		decision, err := enforced.Decide(context.Background(), &in)
		dry.Submit(id, &in, enforced.Version(), decision, err)
	}
	waitEvaluated(t, dry, uint64(len(ids)))
	var got []string
	for _, d := range dry.Disagreements() {
		got = append(got, d.RequestID)
	}
	if want := []string{"c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("Disagreements ids = %q, want %q", got, want)
	}
}

func TestDryRunSkipsWhenQueueFull(t *testing.T) {
	enforced := loadDefault(t)
	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	dry := NewDryRun(DryRunConfig{
		Candidate: candidateSlot(t),
		QueueSize: 1,
		OnDisagreement: func(*Disagreement) {
			select {
			case blocked <- struct{}{}:
			default:
			}
			<-release
		},
	})
	in := Input{Consumer: healthDept, Resource: census, Request: request(""), Now: now}
	decision, err := enforced.Decide(context.Background(), &in)

	// The first request holds the worker; the second fills the queue.
	dry.Submit("first", &in, enforced.Version(), decision, err)
	<-blocked
	dry.Submit("second", &in, enforced.Version(), decision, err)
	start := time.Now()
	accepted := dry.Submit("third", &in, enforced.Version(), decision, err)
	elapsed := time.Since(start)
	close(release)
	dry.Close()

	if accepted {
		t.Error("Submit on a full queue = true, want false")
	}
	if elapsed > 100*time.Millisecond {
		t.Errorf("Submit on a full queue took %v, want no wait", elapsed)
	}
	if got := dry.Stats().Skipped; got != 1 {
		t.Errorf("Stats().Skipped = %d, want 1", got)
	}
	if dry.Submit("after close", &in, enforced.Version(), decision, err) {
		t.Error("Submit after Close = true, want false")
	}
}

func TestDryRunComparesEnforcedError(t *testing.T) {
	enforced := loadDefault(t)
	dry := NewDryRun(DryRunConfig{Candidate: candidateSlot(t)})
	defer dry.Close()
	in := Input{Consumer: healthDept, Resource: persons, Request: request(""), Now: now}
	dry.Submit("timed-out", &in, enforced.Version(), Decision{}, context.DeadlineExceeded)
	waitEvaluated(t, dry, 1)
	got := dry.Disagreements()
	if len(got) != 1 {
		t.Fatalf("got %d disagreements, want 1", len(got))
	}
	if got[0].Enforced.Error == "" {
		t.Error("Enforced.Error is empty")
	}
	if !slices.Contains(got[0].Differences, PartError) {
		t.Errorf("Differences = %q, want it to contain %q", got[0].Differences, PartError)
	}
}
