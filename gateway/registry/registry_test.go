package registry

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/internal/redistest"
)

// startStore starts a redis-server and returns a store on it with the
// default prefix, and a plain client for checks behind the store's back.
func startStore(t *testing.T, opts Options) (*Store, *redis.Client) {
	t.Helper()
	server := redistest.Start(t)
	client := server.Client(t)
	store, err := New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return store, client
}

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		ok     bool
	}{
		{"default", DefaultPrefix, true},
		{"tag in the middle", "city:{dg}:registry", true},
		{"no braces", "data_gateway:registry", false},
		{"empty tag", "{}:registry", false},
		{"unclosed brace", "{data_gateway:registry", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPrefix(tc.prefix)
			if (err == nil) != tc.ok {
				t.Errorf("CheckPrefix(%q) = %v, want ok %v", tc.prefix, err, tc.ok)
			}
		})
	}
}

func TestKeysShareThePrefix(t *testing.T) {
	keys, err := NewKeys("{reg}")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"version":   keys.Version(),
		"changes":   keys.Changes(),
		"resources": keys.Resources(),
		"retired":   keys.Retired(),
		"history":   keys.History("population.person"),
		"consumers": keys.Consumers(),
		"providers": keys.Providers(),
		"grants":    keys.Grants(),
		"revoked":   keys.RevokedGrants(),
		"apps":      keys.Applications(),
		"credit":    keys.Credit("dishonest_debtor"),
	}
	want := map[string]string{
		"version":   "{reg}:version",
		"changes":   "{reg}:changes",
		"resources": "{reg}:resources",
		"retired":   "{reg}:retired",
		"history":   "{reg}:history:population.person",
		"consumers": "{reg}:consumers",
		"providers": "{reg}:providers",
		"grants":    "{reg}:grants",
		"revoked":   "{reg}:grants:revoked",
		"apps":      "{reg}:applications",
		"credit":    "{reg}:credit:dishonest_debtor",
	}
	for name, got := range tests {
		if got != want[name] {
			t.Errorf("%s key = %q, want %q", name, got, want[name])
		}
	}
}

func TestNewRejectsBadPrefix(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	if _, err := New(client, Options{Prefix: "no-tag"}); err == nil {
		t.Error("New accepted a prefix without a hash tag")
	}
}

func TestChangeCommitsAndPublishes(t *testing.T) {
	store, client := startStore(t, Options{})
	ctx := context.Background()
	sub := client.Subscribe(ctx, store.Keys().Changes())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	version, err := store.Change(ctx, "xm-civil-affairs", func(tx *Tx) error {
		if tx.BaseVersion() != 0 {
			t.Errorf("BaseVersion = %d, want 0", tx.BaseVersion())
		}
		tx.Writer().HSet(tx.Context(), tx.Keys().Key("test"), "field", "value")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if version != 1 {
		t.Errorf("version = %d, want 1", version)
	}
	if got, _ := client.HGet(ctx, store.Keys().Key("test"), "field").Result(); got != "value" {
		t.Errorf("written value = %q, want %q", got, "value")
	}

	msgCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(msgCtx)
	if err != nil {
		t.Fatalf("no change message: %v", err)
	}
	if msg.Payload != "1" {
		t.Errorf("change message = %q, want %q", msg.Payload, "1")
	}
}

func TestChangeErrorWritesNothing(t *testing.T) {
	store, client := startStore(t, Options{})
	ctx := context.Background()
	refusal := errors.New("refused by the caller")

	_, err := store.Change(ctx, "xm-civil-affairs", func(tx *Tx) error {
		tx.Writer().HSet(tx.Context(), tx.Keys().Key("test"), "field", "value")
		return refusal
	})
	if err != refusal {
		t.Errorf("Change error = %v, want the caller's error unchanged", err)
	}
	if n, _ := client.Exists(ctx, store.Keys().Key("test"), store.Keys().Version()).Result(); n != 0 {
		t.Errorf("%d keys written after a refused change, want 0", n)
	}
}

func TestChangeNeedsAuthor(t *testing.T) {
	store, _ := startStore(t, Options{})
	_, err := store.Change(context.Background(), "", func(*Tx) error { return nil })
	if err == nil {
		t.Error("Change without an author succeeded")
	}
}

func TestChangeRetriesAfterLostRace(t *testing.T) {
	store, client := startStore(t, Options{})
	ctx := context.Background()
	calls := 0

	version, err := store.Change(ctx, "xm-civil-affairs", func(tx *Tx) error {
		calls++
		if calls == 1 {
			// Another writer commits between this change's read and its
			// EXEC.
			if err := client.Incr(ctx, store.Keys().Version()).Err(); err != nil {
				return err
			}
		}
		tx.Writer().HSet(tx.Context(), tx.Keys().Key("test"), "base", tx.BaseVersion())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2", calls)
	}
	if version != 2 {
		t.Errorf("version = %d, want 2", version)
	}
	if base, _ := client.HGet(ctx, store.Keys().Key("test"), "base").Result(); base != "1" {
		t.Errorf("committed attempt saw base version %s, want 1", base)
	}
}

func TestChangeConcurrentWritersLoseNothing(t *testing.T) {
	store, client := startStore(t, Options{})
	ctx := context.Background()
	const writers = 8
	const each = 10
	counter := store.Keys().Key("counter")

	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := store.Change(ctx, "writer-"+strconv.Itoa(w), func(tx *Tx) error {
					n, err := tx.Reader().Get(tx.Context(), counter).Int()
					if err != nil && !errors.Is(err, redis.Nil) {
						return err
					}
					tx.Writer().Set(tx.Context(), counter, n+1, 0)
					return nil
				})
				if err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	if failures.Load() != 0 {
		t.Fatalf("%d changes failed", failures.Load())
	}
	if n, _ := client.Get(ctx, counter).Int(); n != writers*each {
		t.Errorf("counter = %d, want %d: a read-modify-write was lost", n, writers*each)
	}
	if v, _ := store.Version(ctx); v != writers*each {
		t.Errorf("version = %d, want %d", v, writers*each)
	}
}
