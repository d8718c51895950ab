package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/citydata/datagateway/gateway/catalog"
)

func TestSeedWritesOnce(t *testing.T) {
	store, client := startStore(t, Options{})
	ctx := context.Background()
	file := seedFile()

	seeded, err := store.Seed(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if !seeded {
		t.Fatal("first Seed wrote nothing")
	}
	again, err := store.Seed(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if again {
		t.Error("second Seed wrote the registry again")
	}
	if v, _ := store.Version(ctx); v != 1 {
		t.Errorf("version after seeding = %d, want 1", v)
	}
	if n, _ := client.LLen(ctx, store.Keys().History("population.person")).Result(); n != 1 {
		t.Errorf("seeded resource has %d versions, want 1", n)
	}
}

func TestSnapshotRebuildsSeedFile(t *testing.T) {
	store, _ := seededStore(t)
	snap, err := store.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fromRedis, err := catalog.New(snap.File, "registry")
	if err != nil {
		t.Fatalf("snapshot does not load: %v", err)
	}
	// The registry orders entries by id, so the file is compared sorted.
	file := seedFile()
	slices.SortFunc(file.Resources, func(a, b catalog.Resource) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(file.Providers, func(a, b catalog.Provider) int { return strings.Compare(a.ID, b.ID) })
	fromFile, err := catalog.New(file, "file")
	if err != nil {
		t.Fatal(err)
	}
	if fromRedis.Version() != fromFile.Version() {
		t.Errorf("snapshot catalogue version %s, want the seed file's %s",
			fromRedis.Version(), fromFile.Version())
	}
	if fromRedis.ProviderByKey("operator-key") == nil {
		t.Error("snapshot lost the operator's key")
	}
}

func TestSnapshotOfEmptyRegistry(t *testing.T) {
	store, _ := startStore(t, Options{})
	snap, err := store.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 0 {
		t.Errorf("version = %d, want 0", snap.Version)
	}
}

func TestSnapshotNamesUndecodableEntry(t *testing.T) {
	store, client := seededStore(t)
	ctx := context.Background()
	client.HSet(ctx, store.Keys().Resources(), "broken", "{not json")
	_, err := store.Snapshot(ctx)
	if err == nil {
		t.Fatal("Snapshot decoded a broken entry")
	}
	if want := `entry "broken"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

// TestSnapshotSeesWholeChanges checks that a snapshot never holds half of a
// change: every change writes the same name into two resources, and every
// snapshot must show both names equal.
func TestSnapshotSeesWholeChanges(t *testing.T) {
	store, _ := seededStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil && i < 200; i++ {
			name := fmt.Sprintf("name-%d", i)
			_, err := store.Change(ctx, "xm-public-security", func(tx *Tx) error {
				file, err := tx.File()
				if err != nil {
					return err
				}
				for _, r := range file.Resources {
					r.Name = name
					if err := queueJSON(tx, tx.Keys().Resources(), r.ID, r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil && ctx.Err() == nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
		}
	}()

	for checks := 0; checks < 200 && ctx.Err() == nil; checks++ {
		snap, err := store.Snapshot(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.Fatal(err)
			}
			break
		}
		first, second := snap.File.Resources[0].Name, snap.File.Resources[1].Name
		if first != second {
			t.Fatalf("snapshot at version %d holds half a change: names %q and %q",
				snap.Version, first, second)
		}
	}
	cancel()
	wg.Wait()
}

// recordingApply collects the versions it applies and rejects the ones in
// reject.
type recordingApply struct {
	mu      sync.Mutex
	applied []int64
	reject  map[int64]bool
	calls   atomic.Int64
}

func (r *recordingApply) apply(snap Snapshot) error {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reject[snap.Version] {
		return errors.New("validating catalogue: rejected for the test")
	}
	r.applied = append(r.applied, snap.Version)
	return nil
}

func (r *recordingApply) last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applied) == 0 {
		return 0
	}
	return r.applied[len(r.applied)-1]
}

// waitApplied polls until apply has applied version, and returns how long
// that took, or fails after within.
func waitApplied(t *testing.T, r *recordingApply, version int64, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for r.last() < version {
		if time.Since(start) > within {
			t.Fatalf("version %d not applied within %s; last applied %d", version, within, r.last())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func runSyncer(t *testing.T, syncer *Syncer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		syncer.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestSyncerAppliesPublishedChange(t *testing.T) {
	store, _ := seededStore(t)
	rec := &recordingApply{}
	// A poll far beyond the test's bound shows that the message alone
	// brings the change.
	syncer := store.NewSyncer(rec.apply, SyncOptions{Interval: time.Hour})
	runSyncer(t, syncer)
	waitApplied(t, rec, 1, 2*time.Second)

	record, err := store.RegisterResource(context.Background(), "xm-public-security", newResource(), nil)
	if err != nil {
		t.Fatal(err)
	}
	took := waitApplied(t, rec, record.Version, time.Second)
	t.Logf("applied in %s", took)
}

func TestSyncerPollsLostMessage(t *testing.T) {
	store, client := seededStore(t)
	rec := &recordingApply{}
	syncer := store.NewSyncer(rec.apply, SyncOptions{Interval: 100 * time.Millisecond})
	runSyncer(t, syncer)
	waitApplied(t, rec, 1, 2*time.Second)

	// A change whose message is lost: INCR without PUBLISH.
	ctx := context.Background()
	if err := client.Incr(ctx, store.Keys().Version()).Err(); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, rec, 2, time.Second)
}

func TestSyncerKeepsRunningVersionOnRejection(t *testing.T) {
	store, client := seededStore(t)
	core, logs := observer.New(zapcore.InfoLevel)
	store.logger = zap.New(core)
	rec := &recordingApply{reject: map[int64]bool{2: true}}
	syncer := store.NewSyncer(rec.apply, SyncOptions{Interval: time.Hour})
	ctx := context.Background()

	if v, err := syncer.Refresh(ctx); err != nil || v != 1 {
		t.Fatalf("first refresh = %d, %v; want 1", v, err)
	}
	client.Incr(ctx, store.Keys().Version())
	if v, _ := syncer.Refresh(ctx); v != 1 {
		t.Errorf("applied version after a rejected snapshot = %d, want 1", v)
	}
	if n := logs.FilterMessage("registry snapshot rejected, keeping the running catalogue").Len(); n != 1 {
		t.Errorf("%d rejection log entries, want 1", n)
	}

	calls := rec.calls.Load()
	if v, _ := syncer.Refresh(ctx); v != 1 {
		t.Errorf("applied version = %d, want 1", v)
	}
	if rec.calls.Load() != calls {
		t.Error("a rejected version was applied again without a new change")
	}

	client.Incr(ctx, store.Keys().Version())
	if v, _ := syncer.Refresh(ctx); v != 3 {
		t.Errorf("applied version after the next change = %d, want 3", v)
	}
}

func TestSyncerSeedsEmptyRegistry(t *testing.T) {
	store, _ := startStore(t, Options{})
	rec := &recordingApply{}
	file := seedFile()
	syncer := store.NewSyncer(rec.apply, SyncOptions{Seed: &file})
	v, err := syncer.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Errorf("applied version = %d, want 1", v)
	}
}
