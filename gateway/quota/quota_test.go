package quota

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/internal/redistest"
)

// at parses an RFC 3339 time or fails the test.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTakeWindows(t *testing.T) {
	srv := redistest.Start(t)
	l := New(srv.Client(t))
	ctx := context.Background()

	tests := []struct {
		name  string
		quota catalog.Quota
		// now is 10:15:20 in China Standard Time: 40 s to the next minute,
		// 13 h 44 min 40 s to midnight.
		calls      int
		wantPassed int
		wantRetry  time.Duration
	}{
		{"per minute", catalog.Quota{PerMinute: 3}, 5, 3, 40 * time.Second},
		{"per day", catalog.Quota{PerDay: 2}, 4, 2, (13*3600 + 44*60 + 40) * time.Second},
		{"day tighter than minute", catalog.Quota{PerMinute: 5, PerDay: 2}, 3, 2, (13*3600 + 44*60 + 40) * time.Second},
		{"minute tighter than day", catalog.Quota{PerMinute: 1, PerDay: 5}, 3, 1, 40 * time.Second},
		{"both exhausted waits for day", catalog.Quota{PerMinute: 2, PerDay: 2}, 3, 2, (13*3600 + 44*60 + 40) * time.Second},
	}
	now := at(t, "2026-01-05T10:15:20+08:00")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grant := "grant-" + tc.name
			passed := 0
			var last Result
			for range tc.calls {
				res, err := l.Take(ctx, grant, tc.quota, now)
				if err != nil {
					t.Fatalf("Take: %v", err)
				}
				if res.Allowed {
					passed++
				}
				last = res
			}
			if passed != tc.wantPassed {
				t.Errorf("admitted %d calls, want %d", passed, tc.wantPassed)
			}
			if last.Allowed {
				t.Fatal("last call admitted, want refused")
			}
			if last.RetryAfter != tc.wantRetry {
				t.Errorf("RetryAfter = %s, want %s", last.RetryAfter, tc.wantRetry)
			}
		})
	}
}

func TestTakeRefusalNotCounted(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l := New(rdb)
	ctx := context.Background()
	now := at(t, "2026-01-05T10:15:20+08:00")
	q := catalog.Quota{PerMinute: 2, PerDay: 10}

	for range 5 {
		if _, err := l.Take(ctx, "g1", q, now); err != nil {
			t.Fatalf("Take: %v", err)
		}
	}
	minute, err := rdb.Get(ctx, MinuteKey("g1", now.Unix()/60)).Int()
	if err != nil {
		t.Fatalf("reading minute counter: %v", err)
	}
	if minute != 2 {
		t.Errorf("minute counter = %d, want 2", minute)
	}
	day, err := rdb.Get(ctx, DayKey("g1", now)).Int()
	if err != nil {
		t.Fatalf("reading day counter: %v", err)
	}
	if day != 2 {
		t.Errorf("day counter = %d, want 2 (refused calls must not count)", day)
	}
}

func TestTakeNextWindowAdmits(t *testing.T) {
	srv := redistest.Start(t)
	l := New(srv.Client(t))
	ctx := context.Background()
	q := catalog.Quota{PerMinute: 1, PerDay: 2}

	steps := []struct {
		name string
		now  string
		want bool
	}{
		{"first call", "2026-01-05T23:59:10+08:00", true},
		{"same minute", "2026-01-05T23:59:50+08:00", false},
		{"next minute", "2026-01-06T00:00:00+08:00", true},
		{"new day minute spent", "2026-01-06T00:00:30+08:00", false},
		{"new day next minute", "2026-01-06T00:01:00+08:00", true},
		{"new day exhausted", "2026-01-06T00:02:00+08:00", false},
	}
	for _, step := range steps {
		res, err := l.Take(ctx, "g-roll", q, at(t, step.now))
		if err != nil {
			t.Fatalf("%s: Take: %v", step.name, err)
		}
		if res.Allowed != step.want {
			t.Errorf("%s: Allowed = %v, want %v", step.name, res.Allowed, step.want)
		}
	}
}

func TestTakeSetsExpiry(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l := New(rdb)
	ctx := context.Background()
	now := at(t, "2026-01-05T10:15:20+08:00")

	if _, err := l.Take(ctx, "g-ttl", catalog.Quota{PerMinute: 5, PerDay: 5}, now); err != nil {
		t.Fatalf("Take: %v", err)
	}
	tests := []struct {
		key string
		max time.Duration
	}{
		{MinuteKey("g-ttl", now.Unix()/60), (40 + keySlack) * time.Second},
		{DayKey("g-ttl", now), (13*3600 + 44*60 + 40 + keySlack) * time.Second},
	}
	for _, tc := range tests {
		ttl, err := rdb.TTL(ctx, tc.key).Result()
		if err != nil {
			t.Fatalf("TTL %s: %v", tc.key, err)
		}
		if ttl <= 0 || ttl > tc.max {
			t.Errorf("TTL of %s = %s, want in (0, %s]", tc.key, ttl, tc.max)
		}
	}
}

func TestDayKeyUsesChinaDate(t *testing.T) {
	tests := []struct {
		name string
		now  string
		want string
	}{
		{"utc evening is next day", "2026-01-05T16:30:00Z", "{dgq:g}:d:20260106"},
		{"utc morning same day", "2026-01-05T15:59:59Z", "{dgq:g}:d:20260105"},
		{"local midnight", "2026-01-06T00:00:00+08:00", "{dgq:g}:d:20260106"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DayKey("g", at(t, tc.now)); got != tc.want {
				t.Errorf("DayKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecondsToMidnight(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		want int64
	}{
		{"one second before", time.Date(2026, 1, 5, 23, 59, 59, 0, shanghai), 1},
		{"half second before", time.Date(2026, 1, 5, 23, 59, 59, 500_000_000, shanghai), 1},
		{"at midnight", time.Date(2026, 1, 5, 0, 0, 0, 0, shanghai), 86400},
		{"rounds up", time.Date(2026, 1, 5, 23, 59, 48, 100_000_000, shanghai), 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := secondsToMidnight(tc.now); got != tc.want {
				t.Errorf("secondsToMidnight = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLimited(t *testing.T) {
	tests := []struct {
		name  string
		quota *catalog.Quota
		want  bool
	}{
		{"nil", nil, false},
		{"zero", &catalog.Quota{}, false},
		{"per day", &catalog.Quota{PerDay: 1}, true},
		{"per minute", &catalog.Quota{PerMinute: 1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Limited(tc.quota); got != tc.want {
				t.Errorf("Limited = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTakeConcurrentTwoClients runs bounded workers over two clients, as
// two gateway instances would, and checks that exactly the day quota is
// admitted in total.
func TestTakeConcurrentTwoClients(t *testing.T) {
	const (
		perDay  = 150
		workers = 8
		calls   = 60 // per worker, 480 in all
	)
	srv := redistest.Start(t)
	limiters := []*Limiter{New(srv.Client(t)), New(srv.Client(t))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := time.Now()

	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := limiters[w%2]
			for range calls {
				res, err := l.Take(ctx, "g-load", catalog.Quota{PerDay: perDay}, now)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					admitted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Take: %v", err)
	}
	if got := admitted.Load(); got != perDay {
		t.Errorf("admitted %d calls, want exactly %d", got, perDay)
	}
	if got := refused.Load(); got != workers*calls-perDay {
		t.Errorf("refused %d calls, want %d", got, workers*calls-perDay)
	}
}

func TestTakeRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	l := New(srv.Client(t))
	srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := l.Take(ctx, "g-down", catalog.Quota{PerDay: 10}, time.Now())
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("error = %v, want one wrapping ErrUnavailable", err)
	}
	if res.Allowed {
		t.Error("call admitted while Redis is down")
	}
}

func TestTakeLoadsScriptAfterFlush(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	l := New(rdb)
	ctx := context.Background()
	now := time.Now()

	if _, err := l.Take(ctx, "g-flush", catalog.Quota{PerDay: 5}, now); err != nil {
		t.Fatalf("first Take: %v", err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := l.Take(ctx, "g-flush", catalog.Quota{PerDay: 5}, now)
	if err != nil {
		t.Fatalf("Take after SCRIPT FLUSH: %v", err)
	}
	if !res.Allowed {
		t.Error("second call refused, want admitted")
	}
}
