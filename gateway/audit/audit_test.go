package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/citydata/datagateway/internal/redistest"
)

var testKey = []byte("test-chain-key-0123456789abcdef")

// testClient returns a client that gives up fast, so tests that stop
// Redis see failures within milliseconds.
func testClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:               addr,
		MaxRetries:         -1,
		DialerRetries:      1,
		DialerRetryTimeout: 10 * time.Millisecond,
		DialTimeout:        200 * time.Millisecond,
		ReadTimeout:        2 * time.Second,
		WriteTimeout:       2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newTestWriter starts a writer with the test chain key, a temporary spool
// directory and a test logger unless cfg sets them, and closes it at the
// end of the test.
func newTestWriter(t testing.TB, cfg Config) *Writer {
	t.Helper()
	w := startWriter(t, cfg)
	t.Cleanup(func() { closeWriter(t, w) })
	return w
}

// startWriter is newTestWriter without the Close at the end.
func startWriter(t testing.TB, cfg Config) *Writer {
	t.Helper()
	if cfg.ChainKey == nil {
		cfg.ChainKey = testKey
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t)
	}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	return w
}

func closeWriter(t testing.TB, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func testRecord(id string) *Record {
	return &Record{
		ID:              id,
		Time:            time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.FixedZone("CST", 8*3600)),
		Consumer:        "consumer-1",
		Org:             "org-health",
		Resource:        "household-register",
		Provider:        "public-security",
		Scenario:        "social-assistance",
		Method:          "GET",
		Path:            "/api/households/{subject}",
		Decision:        DecisionDeny,
		Reasons:         []string{"grant expired", `quote " and \ backslash`},
		PolicyVersion:   "v7",
		Status:          403,
		Bytes:           1234,
		Masked:          3,
		UpstreamLatency: 12345 * time.Microsecond,
		TotalLatency:    15 * time.Millisecond,
		SubjectHash:     "5f3a",
		GrantID:         "grant-9",
		ClientIP:        "127.0.0.1",
	}
}

// commitRecords reserves and commits n records with ids prefix-0 ....
func commitRecords(t testing.TB, w *Writer, prefix string, n int) {
	t.Helper()
	for i := range n {
		tk, err := w.Reserve()
		if err != nil {
			t.Fatalf("Reserve of record %d: %v", i, err)
		}
		tk.Commit(testRecord(prefix + "-" + strconv.Itoa(i)))
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readStream(t testing.TB, c redis.UniversalClient, stream string) []redis.XMessage {
	t.Helper()
	msgs, err := c.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	return msgs
}

func field(m redis.XMessage, name string) string {
	s, _ := m.Values[name].(string)
	return s
}

// checkChain fails unless msgs hold exactly ids, in order, with seqs that
// count from 1 per instance, and the stream verifies.
func checkChain(t *testing.T, c redis.UniversalClient, stream string, ids []string) {
	t.Helper()
	msgs := readStream(t, c, stream)
	if len(msgs) != len(ids) {
		t.Fatalf("stream has %d entries, want %d", len(msgs), len(ids))
	}
	seqs := map[string]uint64{}
	for i, m := range msgs {
		if got := field(m, "id"); got != ids[i] {
			t.Fatalf("entry %d has id %q, want %q", i, got, ids[i])
		}
		instance := field(m, "instance")
		seqs[instance]++
		if got := field(m, "seq"); got != strconv.FormatUint(seqs[instance], 10) {
			t.Fatalf("entry %d has seq %s, want %d", i, got, seqs[instance])
		}
	}
	problems, err := VerifyStream(context.Background(), c, stream, testKey)
	if err != nil {
		t.Fatalf("VerifyStream: %v", err)
	}
	if len(problems) != 0 {
		t.Fatalf("VerifyStream found %d problems, first: %v", len(problems), problems[0])
	}
}

func recordIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "-" + strconv.Itoa(i)
	}
	return ids
}

func TestWriterWritesChainInOrder(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, BatchSize: 64})

	commitRecords(t, w, "req", 500)
	closeWriter(t, w)

	checkChain(t, c, DefaultStream, recordIDs("req", 500))
	if got := w.Stats().Written; got != 500 {
		t.Errorf("Stats().Written = %d, want 500", got)
	}
}

func TestWriterEntryFields(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, Stream: "{audit}:test"})

	commitRecords(t, w, "req", 2)
	closeWriter(t, w)

	msgs := readStream(t, c, "{audit}:test")
	if len(msgs) != 2 {
		t.Fatalf("stream has %d entries, want 2", len(msgs))
	}
	first := msgs[0]
	tests := []struct {
		field, want string
	}{
		{"id", "req-0"},
		{"time", "2025-03-03T21:06:07.890123456Z"},
		{"instance", w.Instance()},
		{"seq", "1"},
		{"prev", ""},
		{"consumer", "consumer-1"},
		{"org", "org-health"},
		{"resource", "household-register"},
		{"provider", "public-security"},
		{"scenario", "social-assistance"},
		{"grant", "grant-9"},
		{"method", "GET"},
		{"path", "/api/households/{subject}"},
		{"decision", "deny"},
		{"reasons", `["grant expired","quote \" and \\ backslash"]`},
		{"policy_version", "v7"},
		{"status", "403"},
		{"bytes", "1234"},
		{"masked", "3"},
		{"upstream_ms", "12.345"},
		{"total_ms", "15.000"},
		{"subject", "5f3a"},
		{"client_ip", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if got := field(first, tt.field); got != tt.want {
				t.Errorf("field %s = %q, want %q", tt.field, got, tt.want)
			}
		})
	}
	if got, want := len(first.Values), numFields; got != want {
		t.Errorf("entry has %d fields, want %d", got, want)
	}
	if got := field(msgs[1], "prev"); got != field(first, "hash") {
		t.Errorf("second entry prev = %q, want first entry hash %q", got, field(first, "hash"))
	}
	if got := len(field(first, "hash")); got != 64 {
		t.Errorf("hash has %d hex digits, want 64", got)
	}
	writers, err := c.HGetAll(context.Background(), "{audit}:test:writers").Result()
	if err != nil {
		t.Fatalf("HGETALL writers: %v", err)
	}
	if got := writers[w.Instance()]; got != "2" {
		t.Errorf("writers hash last seq = %q, want \"2\"", got)
	}
}

func TestWriterConcurrentCommits(t *testing.T) {
	const goroutines, perGoroutine = 50, 200
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, QueueSize: goroutines * perGoroutine})

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				tk, err := w.Reserve()
				if err != nil {
					errs <- fmt.Errorf("goroutine %d record %d: %w", g, i, err)
					return
				}
				tk.Commit(testRecord(fmt.Sprintf("g%d-%d", g, i)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Reserve: %v", err)
	}
	closeWriter(t, w)

	msgs := readStream(t, c, DefaultStream)
	if len(msgs) != goroutines*perGoroutine {
		t.Fatalf("stream has %d entries, want %d", len(msgs), goroutines*perGoroutine)
	}
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		seen[field(m, "id")] = true
	}
	if len(seen) != goroutines*perGoroutine {
		t.Errorf("stream has %d distinct ids, want %d", len(seen), goroutines*perGoroutine)
	}
	problems, err := VerifyStream(context.Background(), c, DefaultStream, testKey)
	if err != nil {
		t.Fatalf("VerifyStream: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("VerifyStream found %d problems, first: %v", len(problems), problems[0])
	}
}

func TestWriterSpoolsDuringOutage(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, BatchSize: 16})

	commitRecords(t, w, "before", 100)
	waitFor(t, "100 records written", 5*time.Second, func() bool { return w.Stats().Written == 100 })

	srv.Stop()
	commitRecords(t, w, "during", 100)
	waitFor(t, "records spooled", 5*time.Second, func() bool {
		s := w.Stats()
		return s.Spooling && s.Reserved == 0
	})
	if got := w.Stats().Spooled; got != 100 {
		t.Errorf("Stats().Spooled = %d, want 100", got)
	}

	srv.Restart()
	commitRecords(t, w, "after", 100)
	waitFor(t, "spool replayed", 10*time.Second, func() bool {
		s := w.Stats()
		return !s.Spooling && s.Reserved == 0
	})
	if got := w.Stats().SpoolBytes; got != 0 {
		t.Errorf("Stats().SpoolBytes = %d after replay, want 0", got)
	}
	closeWriter(t, w)

	ids := append(recordIDs("before", 100), recordIDs("during", 100)...)
	ids = append(ids, recordIDs("after", 100)...)
	checkChain(t, c, DefaultStream, ids)
	if files := spoolFiles(t, w.cfg.SpoolDir); len(files) != 0 {
		t.Errorf("spool directory still has %v", files)
	}
}

func spoolFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	if err != nil {
		t.Fatalf("listing spool files: %v", err)
	}
	return files
}

// leaveSpool writes n records through a writer whose Redis is down, closes
// it and returns the spool file it left in dir.
func leaveSpool(t *testing.T, srv *redistest.Server, dir, prefix string, n int) string {
	t.Helper()
	srv.Stop()
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	commitRecords(t, w, prefix, n)
	closeWriter(t, w)

	if got := w.Stats().Spooled; got != uint64(n) {
		t.Fatalf("first writer spooled %d records, want %d", got, n)
	}
	files := spoolFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("spool directory has %d files, want 1: %v", len(files), files)
	}
	return files[0]
}

func TestWriterReplaysSpoolOfStoppedWriter(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	leaveSpool(t, srv, dir, "old", 50)

	srv.Restart()
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	waitFor(t, "old spool replayed", 5*time.Second, func() bool { return w.Stats().Written == 50 })
	commitRecords(t, w, "new", 10)
	closeWriter(t, w)

	checkChain(t, c, DefaultStream, append(recordIDs("old", 50), recordIDs("new", 10)...))
	if files := spoolFiles(t, dir); len(files) != 0 {
		t.Errorf("spool directory still has %v", files)
	}
}

func TestSpoolReplayedTwiceAddsNothing(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	file := leaveSpool(t, srv, dir, "old", 50)
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading spool file: %v", err)
	}

	srv.Restart()
	c := testClient(t, srv.Addr)
	first := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	waitFor(t, "spool replayed", 5*time.Second, func() bool { return first.Stats().Written == 50 })
	closeWriter(t, first)

	// The same records again, under another file name as a copy made by
	// hand would be.
	if err := os.WriteFile(filepath.Join(dir, "audit-copy.spool"), saved, 0o600); err != nil {
		t.Fatalf("writing spool copy: %v", err)
	}
	second := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	waitFor(t, "copy replayed", 5*time.Second, func() bool { return len(spoolFiles(t, dir)) == 0 })
	closeWriter(t, second)

	if got := second.Stats().Written; got != 0 {
		t.Errorf("second replay wrote %d records, want 0", got)
	}
	checkChain(t, c, DefaultStream, recordIDs("old", 50))
}

func TestWriterSkipsLockedSpool(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()

	down := newTestWriter(t, Config{Client: testClient(t, "127.0.0.1:1"), SpoolDir: dir})
	commitRecords(t, down, "held", 5)
	waitFor(t, "records spooled", 5*time.Second, func() bool { return down.Stats().Spooled == 5 })

	c := testClient(t, srv.Addr)
	up := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	commitRecords(t, up, "live", 1)
	waitFor(t, "live record written", 5*time.Second, func() bool { return up.Stats().Written == 1 })

	if got := up.Stats().SpoolBytes; got != 0 {
		t.Errorf("second writer holds %d spool bytes, want 0", got)
	}
	if got := len(spoolFiles(t, dir)); got != 1 {
		t.Errorf("spool directory has %d files, want 1", got)
	}
	if got := len(readStream(t, c, DefaultStream)); got != 1 {
		t.Errorf("stream has %d entries, want 1", got)
	}
}

func TestWriterRejectsWhenSpoolFull(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	const spoolMax = 6 * MaxRecordBytes
	w := newTestWriter(t, Config{Client: c, BatchSize: 1, QueueSize: 16, SpoolMaxBytes: spoolMax})
	srv.Stop()

	var committed []string
	var reserveErr error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tk, err := w.Reserve()
		if err != nil {
			reserveErr = err
			break
		}
		id := "req-" + strconv.Itoa(len(committed))
		tk.Commit(testRecord(id))
		committed = append(committed, id)
		time.Sleep(2 * time.Millisecond)
	}
	if !errors.Is(reserveErr, ErrUnavailable) {
		t.Fatalf("Reserve error = %v, want ErrUnavailable", reserveErr)
	}
	if got := w.Stats().SpoolBytes; got > spoolMax {
		t.Errorf("spool holds %d bytes, above SpoolMaxBytes %d", got, spoolMax)
	}

	srv.Restart()
	waitFor(t, "held records written", 10*time.Second, func() bool {
		s := w.Stats()
		return s.Reserved == 0 && !s.Unavailable && !s.Spooling
	})
	tk, err := w.Reserve()
	if err != nil {
		t.Fatalf("Reserve after recovery: %v", err)
	}
	tk.Cancel()
	closeWriter(t, w)

	checkChain(t, c, DefaultStream, committed)
}

func TestWriterQueueFullRejects(t *testing.T) {
	w := newTestWriter(t, Config{QueueSize: 4, BatchSize: 4})
	var tickets []Ticket
	for range 4 {
		tk, err := w.Reserve()
		if err != nil {
			t.Fatalf("Reserve within the queue size: %v", err)
		}
		tickets = append(tickets, tk)
	}
	if _, err := w.Reserve(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Reserve beyond the queue size: error = %v, want ErrUnavailable", err)
	}
	tickets[0].Cancel()
	tk, err := w.Reserve()
	if err != nil {
		t.Errorf("Reserve after Cancel: %v", err)
	}
	tk.Cancel()
	for _, tk := range tickets[1:] {
		tk.Cancel()
	}
	if got := w.Stats().Reserved; got != 0 {
		t.Errorf("Stats().Reserved = %d after every Cancel, want 0", got)
	}
}

func TestWriterWithoutRedisSpools(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{SpoolDir: dir})
	commitRecords(t, w, "demo", 20)
	closeWriter(t, w)

	files := spoolFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("spool directory has %d files, want 1", len(files))
	}
	entries := readSpoolFile(t, files[0])
	if len(entries) != 20 {
		t.Fatalf("spool file has %d records, want 20", len(entries))
	}
	if problems := Verify(testKey, entries, map[string]uint64{w.Instance(): 20}); len(problems) != 0 {
		t.Errorf("Verify found %d problems in the spool, first: %v", len(problems), problems[0])
	}
}

// readSpoolFile parses a spool file into stream messages for Verify.
func readSpoolFile(t testing.TB, path string) []redis.XMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading spool file: %v", err)
	}
	var msgs []redis.XMessage
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		e, err := parseSpoolLine([]byte(line))
		if err != nil {
			t.Fatalf("spool line %d: %v", i, err)
		}
		msgs = append(msgs, entryMessage(strconv.Itoa(i), &e))
	}
	return msgs
}

func entryMessage(id string, e *entry) redis.XMessage {
	values := make(map[string]any, numFields)
	for i, name := range fieldNames {
		values[name] = e[i]
	}
	return redis.XMessage{ID: id, Values: values}
}

func TestWriterCloseDrainsQueue(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, BatchSize: 1000, QueueSize: 4000, FlushInterval: time.Second})

	commitRecords(t, w, "req", 3000)
	closeWriter(t, w)

	if got := len(readStream(t, c, DefaultStream)); got != 3000 {
		t.Errorf("stream has %d entries after Close, want 3000", got)
	}
	if _, err := w.Reserve(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reserve after Close: error = %v, want ErrClosed", err)
	}
}

func TestWriterCloseCountsUnwritten(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	w := startWriter(t, Config{Client: testClient(t, "127.0.0.1:1"), SpoolDir: spoolDir})
	// A file where the spool folder was makes every spool write fail.
	if err := os.RemoveAll(spoolDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spoolDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	commitRecords(t, w, "req", 3)
	waitFor(t, "writer unavailable", 5*time.Second, func() bool { return w.Stats().Unavailable })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if err == nil {
		t.Fatal("Close returned nil with records unwritten")
	}
	if !strings.Contains(err.Error(), "3 audit records written neither") {
		t.Errorf("Close error %q does not count the 3 records", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close error %q does not wrap context.DeadlineExceeded", err)
	}
}

func TestWriterCloseLeavesNoGoroutine(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	before := runtime.NumGoroutine()

	for range 3 {
		w := newTestWriter(t, Config{Client: c})
		commitRecords(t, w, "req", 100)
		closeWriter(t, w)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after Close, %d before NewWriter", after, before)
	}
}

func TestNewWriterRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no spool dir", Config{ChainKey: testKey}, "SpoolDir"},
		{"no chain key", Config{SpoolDir: "x"}, "ChainKey"},
		{"short chain key", Config{SpoolDir: "x", ChainKey: []byte("short")}, "ChainKey"},
		{"negative queue size", Config{SpoolDir: "x", ChainKey: testKey, QueueSize: -1}, "QueueSize"},
		{"negative batch size", Config{SpoolDir: "x", ChainKey: testKey, BatchSize: -5}, "BatchSize"},
		{"negative spool size", Config{SpoolDir: "x", ChainKey: testKey, SpoolMaxBytes: -1}, "SpoolMaxBytes"},
		{"negative flush interval", Config{SpoolDir: "x", ChainKey: testKey, FlushInterval: -time.Second}, "FlushInterval"},
		{"batch above queue", Config{SpoolDir: "x", ChainKey: testKey, QueueSize: 10, BatchSize: 20}, "BatchSize"},
		{"batch above limit", Config{SpoolDir: "x", ChainKey: testKey, QueueSize: 100000, BatchSize: 5000}, "BatchSize"},
		{"stray brace in stream", Config{SpoolDir: "x", ChainKey: testKey, Stream: "audit}"}, `"audit}"`},
		{"empty hash tag in stream", Config{SpoolDir: "x", ChainKey: testKey, Stream: "a{}b"}, `"a{}b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.SpoolDir != "" {
				tt.cfg.SpoolDir = filepath.Join(t.TempDir(), tt.cfg.SpoolDir)
			}
			w, err := NewWriter(tt.cfg)
			if err == nil {
				_ = w.Close(context.Background())
				t.Fatal("NewWriter accepted the config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestNewWriterErrorHidesChainKey(t *testing.T) {
	secret := []byte("tooshortsecret")
	_, err := NewWriter(Config{SpoolDir: t.TempDir(), ChainKey: secret})
	if err == nil {
		t.Fatal("NewWriter accepted a 14-byte chain key")
	}
	if strings.Contains(err.Error(), string(secret)) {
		t.Errorf("error %q contains the chain key", err)
	}
}

func BenchmarkWriter(b *testing.B) {
	srv := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { _ = c.Close() })
	w, err := NewWriter(Config{
		Client:    c,
		SpoolDir:  b.TempDir(),
		ChainKey:  testKey,
		QueueSize: 65536,
		BatchSize: 512,
	})
	if err != nil {
		b.Fatalf("NewWriter: %v", err)
	}
	r := testRecord("bench")

	b.ReportAllocs()
	b.ResetTimer()
	full := 0
	for i := 0; i < b.N; {
		tk, err := w.Reserve()
		if err != nil {
			// The queue is full: wait as a handler's client would, without
			// taking the CPU that the writer and Redis need.
			full++
			time.Sleep(50 * time.Microsecond)
			continue
		}
		tk.Commit(r)
		i++
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		b.Fatalf("Close: %v", err)
	}
	b.StopTimer()

	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(full)/float64(b.N), "full/op")
	if got := w.Stats().Written; got != uint64(b.N) {
		b.Fatalf("wrote %d records, want %d", got, b.N)
	}
}

func TestReserveCommitDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t)
	w := newTestWriter(t, Config{Client: testClient(t, srv.Addr), QueueSize: 4096})

	allocs := testing.AllocsPerRun(1000, func() {
		r := Record{ID: "req", Decision: DecisionAllow, Status: 200}
		tk, err := w.Reserve()
		if err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		tk.Commit(&r)
	})
	if allocs != 0 {
		t.Errorf("Reserve and Commit allocate %.1f times per record, want 0", allocs)
	}
}

func TestWriterCloseWaitsForOpenTicket(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := startWriter(t, Config{Client: c})

	tk, err := w.Reserve()
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closed <- w.Close(ctx)
	}()

	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a ticket was open", err)
	case <-time.After(100 * time.Millisecond):
	}
	tk.Commit(testRecord("late"))
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkChain(t, c, DefaultStream, []string{"late"})
}
