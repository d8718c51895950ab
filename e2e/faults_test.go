package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// tally counts the outcomes of a load run.
type tally struct {
	mu       sync.Mutex
	byStatus map[int]int
	failures map[string]int // transport errors, by message
	leaks    int
}

func newTally() *tally {
	return &tally{byStatus: map[int]int{}, failures: map[string]int{}}
}

func (c *tally) add(r reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.err != nil && r.status == 0 {
		msg := r.err.Error()
		if errors.Is(r.err, context.DeadlineExceeded) {
			msg = "client timeout"
		}
		c.failures[msg]++
	} else {
		c.byStatus[r.status]++
	}
	if len(leaks(r.header, r.body)) > 0 {
		c.leaks++
	}
}

func (c *tally) count(status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byStatus[status]
}

func (c *tally) failed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.failures {
		n += v
	}
	return n
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for status, n := range c.byStatus {
		parts = append(parts, fmt.Sprintf("%d: %d", status, n))
	}
	for msg, n := range c.failures {
		parts = append(parts, fmt.Sprintf("%q: %d", msg, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// isAuditRefusal reports whether the gateway refused the call because it
// could not record it; such a call has, and can have, no audit record.
func isAuditRefusal(r reply) bool {
	return r.status == http.StatusServiceUnavailable &&
		strings.Contains(string(r.body), "audit trail unavailable")
}

// loadSpec bounds one load run in time and in calls.
type loadSpec struct {
	workers   int
	perWorker int
	duration  time.Duration
	// send makes the n-th call of a worker.
	send func(worker, n int) reply
	// abandoned is set when a call that got no response still reached the
	// handler, so that it must have left an audit record.
	abandoned bool
}

// runLoad sends calls from several workers until each has made perWorker
// calls or the duration has passed, and records each in the tally and the
// ledger.
func runLoad(spec loadSpec, c *tally, ledger *auditLedger) {
	deadline := time.Now().Add(spec.duration)
	var wg sync.WaitGroup
	for w := range spec.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < spec.perWorker && time.Now().Before(deadline); n++ {
				r := spec.send(w, n)
				c.add(r)
				switch {
				case r.rid() != "" && !isAuditRefusal(r):
					ledger.add(r)
				case r.rid() == "" && spec.abandoned:
					ledger.add(r)
				}
			}
		}()
	}
	wg.Wait()
}

// personCall reads the demo person record, which has personal fields.
func personCall(s *stack) func(int, int) reply {
	return func(int, int) reply {
		return s.call("GET", "/api/population/persons/"+person, "KEY_SIMING_CIVIL",
			"social_assistance_review", 10*time.Second)
	}
}

func checkTally(t *testing.T, c *tally, allowed ...int) {
	t.Helper()
	t.Logf("outcomes: %s", c)
	if c.count(http.StatusOK) == 0 {
		t.Errorf("no call was served")
	}
	if n := c.failed(); n > 0 {
		t.Errorf("%d calls got no response", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for status, n := range c.byStatus {
		if status != http.StatusOK && !containsInt(allowed, status) {
			t.Errorf("%d calls answered %d", n, status)
		}
	}
	if c.leaks > 0 {
		t.Errorf("%d responses leak a personal value", c.leaks)
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestRedisKilledUnderLoad kills Redis with SIGKILL while eight workers
// read personal records, and starts it again. Redis persists its data
// first, so that every record the gateway counts as written survives the
// crash and any record missing afterwards is the gateway's loss.
func TestRedisKilledUnderLoad(t *testing.T) {
	s := startStack(t, stackOptions{})
	admin := s.redis.Client(t)
	c, ledger := newTally(), new(auditLedger)

	done := make(chan struct{})
	go func() {
		defer close(done)
		runLoad(loadSpec{workers: 8, perWorker: 4000, duration: 5 * time.Second,
			send: personCall(s)}, c, ledger)
	}()

	time.Sleep(700 * time.Millisecond)
	ctx := context.Background()
	// Writes wait from here on, so the snapshot holds every acknowledged
	// record; the gateway's waiting writes fail when Redis dies.
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "10000", "WRITE").Err(); err != nil {
		t.Fatalf("pausing redis writes: %v", err)
	}
	if err := admin.Save(ctx).Err(); err != nil {
		t.Fatalf("saving redis: %v", err)
	}
	s.redis.Kill()
	// Down for longer than the Redis client's own retries last, so the
	// writer gives up on Redis and spools.
	time.Sleep(2500 * time.Millisecond)
	s.redis.Restart()
	<-done

	checkTally(t, c, http.StatusServiceUnavailable)
	ledger.check(t, s, 30*time.Second)
}

// TestRedisSlowUnderLoad pauses every Redis client for two seconds while
// the load runs: calls are still served, and every record arrives once.
func TestRedisSlowUnderLoad(t *testing.T) {
	s := startStack(t, stackOptions{})
	admin := s.redis.Client(t)
	c, ledger := newTally(), new(auditLedger)

	done := make(chan struct{})
	go func() {
		defer close(done)
		runLoad(loadSpec{workers: 8, perWorker: 2000, duration: 4 * time.Second,
			send: personCall(s)}, c, ledger)
	}()
	time.Sleep(500 * time.Millisecond)
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		t.Fatalf("pausing redis: %v", err)
	}
	<-done

	checkTally(t, c)
	ledger.check(t, s, 30*time.Second)
}

// TestSpoolFull stops Redis with a tiny spool: once the spool is full the
// gateway refuses with 503 and a JSON body, and when Redis returns every
// call it served has its record.
func TestSpoolFull(t *testing.T) {
	s := startStack(t, stackOptions{spoolMax: "64KiB"})
	c, ledger := newTally(), new(auditLedger)
	send := personCall(s)
	keep := func(r reply) {
		c.add(r)
		if r.rid() != "" && !isAuditRefusal(r) {
			ledger.add(r)
		}
	}

	s.redis.Stop()
	refused := 0
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; n < 500 && refused < 3 && time.Now().Before(deadline); n++ {
		r := send(0, n)
		keep(r)
		if r.status != http.StatusServiceUnavailable {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		refused++
		t.Run(fmt.Sprintf("refusal %d", refused), func(t *testing.T) {
			wantGatewayError(t, r)
			if !isAuditRefusal(r) {
				t.Errorf("503 does not say the audit trail is unavailable: %s", r.body)
			}
		})
	}
	if refused == 0 {
		t.Fatalf("no call was refused with a full spool; outcomes: %s", c)
	}

	s.redis.Restart()
	if !sendUntilServed(s, keep) {
		t.Errorf("no call served within 30s of Redis returning")
	}
	checkTally(t, c, http.StatusServiceUnavailable)
	ledger.check(t, s, 30*time.Second)
}

// sendUntilServed reads the person record every 100ms until a call is
// served, for at most 30 seconds.
func sendUntilServed(s *stack, keep func(reply)) bool {
	send := personCall(s)
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; n < 300 && time.Now().Before(deadline); n++ {
		r := send(0, n)
		keep(r)
		if r.status == http.StatusOK {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// TestServedCallsKeepRecordsAcrossRestart serves calls while Redis is
// down and the spool too small for their records, then stops the gateway
// and starts it again once Redis is back. A call that was served must
// have its record in the end: a gateway that cannot make the record
// durable must refuse the call instead.
func TestServedCallsKeepRecordsAcrossRestart(t *testing.T) {
	s := startStack(t, stackOptions{spoolMax: "64KiB"})
	c, ledger := newTally(), new(auditLedger)
	keep := func(r reply) {
		c.add(r)
		if r.rid() != "" && !isAuditRefusal(r) {
			ledger.add(r)
		}
	}

	s.redis.Stop()
	send := personCall(s)
	for n := range 20 {
		keep(send(0, n))
	}
	t.Logf("while Redis was down: %s", c)
	s.restartGateway()
	s.redis.Restart()
	if !sendUntilServed(s, keep) {
		t.Errorf("no call served within 30s of the restart")
	}
	ledger.check(t, s, 30*time.Second)
}

// TestUpstreamHangAndResetUnderLoad mixes upstreams that hang before or
// during the body, and that reset the connection mid-body, with good ones.
// Callers give up after one second; nothing they receive is unmasked, each
// call leaves one record, and the gateway closes every upstream request.
func TestUpstreamHangAndResetUnderLoad(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources()})
	h.handle("hang-head", hang(false, 30*time.Second))
	h.handle("hang-body", hang(true, 30*time.Second))
	h.handle("reset", sendRaw(cutResponse("application/json"), true))
	h.handle("good", sendJSON(200, "application/json", recordJSON))
	names := []string{"hang-head", "hang-body", "reset", "good"}

	c, ledger := newTally(), new(auditLedger)
	runLoad(loadSpec{workers: 8, perWorker: 200, duration: 3 * time.Second, abandoned: true,
		send: func(w, n int) reply {
			path := hostilePersonal + "case/" + names[(w+n)%len(names)]
			return s.call("GET", path, "KEY_SIMING_CIVIL", "social_assistance_review", time.Second)
		}}, c, ledger)

	t.Logf("outcomes: %s", c)
	if c.leaks > 0 {
		t.Errorf("%d responses leak a personal value", c.leaks)
	}
	if c.count(http.StatusOK) == 0 || c.count(http.StatusBadGateway) == 0 {
		t.Errorf("want both served calls and 502s")
	}
	c.mu.Lock()
	for status, n := range c.byStatus {
		if status != http.StatusOK && status != http.StatusBadGateway {
			t.Errorf("%d calls answered %d", n, status)
		}
	}
	for msg, n := range c.failures {
		if msg != "client timeout" {
			t.Errorf("%d calls failed with %q", n, msg)
		}
	}
	c.mu.Unlock()
	if !h.waitIdle(5 * time.Second) {
		t.Errorf("%d upstream requests still open 5s after their callers gave up", h.inflight.Load())
	}
	ledger.check(t, s, 30*time.Second)
}

// TestUpstreamHangBounded checks that a caller with no deadline of its own
// gets a response when the upstream never sends its head. A request that
// waits for ever holds an audit slot, and enough of them refuse every call.
func TestUpstreamHangBounded(t *testing.T) {
	h := startHostile(t)
	s := startStack(t, stackOptions{resources: h.resources(), upstreamTimeout: "2s"})
	h.handle("hang", hang(false, 60*time.Second))
	r := s.call("GET", hostilePersonal+"case/hang", "KEY_SIMING_CIVIL",
		"social_assistance_review", 40*time.Second)
	if r.err != nil {
		t.Fatalf("no response after %v: %v", r.elapsed, r.err)
	}
	if r.status != http.StatusBadGateway && r.status != http.StatusGatewayTimeout {
		t.Errorf("status = %d after %v, want 502 or 504", r.status, r.elapsed)
	}
	wantGatewayError(t, r)
}

// TestConfigReloadUnderLoad posts the same and a changed Caddyfile to the
// admin endpoint while calls run: no call fails, and each has its record.
func TestConfigReloadUnderLoad(t *testing.T) {
	s := startStack(t, stackOptions{})
	changed := strings.Replace(s.caddyfile, "max_body 1MiB", "max_body 2MiB", 1)
	if changed == s.caddyfile {
		t.Fatalf("the Caddyfile has no max_body 1MiB line to change")
	}
	c, ledger := newTally(), new(auditLedger)

	done := make(chan struct{})
	go func() {
		defer close(done)
		runLoad(loadSpec{workers: 4, perWorker: 5000, duration: 4 * time.Second,
			send: personCall(s)}, c, ledger)
	}()
	for i, cf := range []string{s.caddyfile, changed, s.caddyfile} {
		time.Sleep(time.Second)
		if err := s.load(cf); err != nil {
			t.Errorf("reload %d: %v", i+1, err)
		}
	}
	<-done

	checkTally(t, c)
	ledger.check(t, s, 30*time.Second)
}

// load posts a Caddyfile to the admin endpoint's /load.
func (s *stack) load(caddyfile string) error {
	req, err := http.NewRequest("POST", "http://"+s.admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	// A load restarts the admin server, which closes its idle connections:
	// a reused one could be reset under the next request.
	req.Close = true
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("posting config: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("posting config: status %d: %s", resp.StatusCode, body)
	}
	return nil
}

// TestConfigReloadLeaksNothing reloads the config many times and checks
// that the gateway's goroutines and its connections to Redis come back to
// where they were: each config's app, watchers, registry sync and metrics
// are released when the next config replaces it.
func TestConfigReloadLeaksNothing(t *testing.T) {
	s := startStack(t, stackOptions{})
	send := personCall(s)
	warm := func() {
		for n := range 5 {
			if r := send(0, n); r.status != http.StatusOK {
				t.Fatalf("call before counting: status %d", r.status)
			}
		}
	}
	warm()
	if err := s.load(s.caddyfile); err != nil {
		t.Fatalf("first reload: %v", err)
	}
	warm()
	time.Sleep(500 * time.Millisecond)
	goroutinesBefore := s.goroutines()
	clientsBefore := s.redisClients()

	changed := strings.Replace(s.caddyfile, "max_body 1MiB", "max_body 2MiB", 1)
	for i := range 10 {
		cf := s.caddyfile
		if i%2 == 0 {
			cf = changed
		}
		if err := s.load(cf); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
	}
	warm()
	time.Sleep(time.Second)

	// A few goroutines come and go with idle connections and timers; a
	// leak would grow with the ten reloads.
	const slack = 8
	after := s.goroutines()
	t.Logf("goroutines %d before, %d after; redis connections %d before, %d after",
		goroutinesBefore, after, clientsBefore, s.redisClients())
	if after > goroutinesBefore+slack {
		t.Errorf("goroutines grew from %d to %d over 10 reloads", goroutinesBefore, after)
	}
	if after := s.redisClients(); after > clientsBefore+2 {
		t.Errorf("redis connections grew from %d to %d over 10 reloads", clientsBefore, after)
	}
}

// goroutines reads the gateway's goroutine count from Caddy's pprof
// endpoint on the admin address.
func (s *stack) goroutines() int {
	s.t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.admin+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Close = true // the admin server restarts on every load
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("reading goroutine profile: %v", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		s.t.Fatalf("reading goroutine profile: %v", err)
	}
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil {
		s.t.Fatalf("parsing %q: %v", line, err)
	}
	return n
}

// redisClients counts the connections Redis has open, less the test's own.
func (s *stack) redisClients() int {
	s.t.Helper()
	list, err := s.rdb.ClientList(context.Background()).Result()
	if err != nil {
		s.t.Fatalf("listing redis clients: %v", err)
	}
	return strings.Count(list, "\n")
}
