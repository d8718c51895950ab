// Command load sends HTTP GET requests at a fixed rate to one loopback URL
// and reports the latency distribution. It measures latency at a set
// fraction of a server's peak throughput. wrk finds the peak, but it sends
// as fast as it can, so its latencies are those of a saturated server.
//
// Request i is due at start + i/rate whether or not earlier responses have
// arrived. Latency is measured from the moment the request is queued for a
// connection, not from when a connection takes it, so a stalled server
// shows as latency instead of as fewer requests (the coordinated omission
// that a closed-loop client suffers). It is not measured from the due time
// because on some virtual machines a timer fires up to a millisecond late,
// which would add the timer's error to every figure.
//
// Usage:
//
//	load -url URL -rate N [-duration 10s] [-max 200000] [-connections 32]
//	     [-warmup 1s] [-timeout 5s] [-status 200] [-header 'Name: value']...
//
// It prints one line of space-separated key=value pairs:
//
//	sent=... measured=... ok=... unexpected_status=... errors=... late=...
//	rate=... p50_ms=... p90_ms=... p99_ms=... p999_ms=... max_ms=...
//
// and exits with status 1 when any request failed or got a status other
// than -status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	res, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	fmt.Println(res.String())
	if res.errors > 0 || res.unexpected > 0 {
		fmt.Fprintf(os.Stderr, "load: %d requests failed and %d got a status other than %d\n",
			res.errors, res.unexpected, cfg.status)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	url         string
	rate        float64
	duration    time.Duration
	maxRequests int
	connections int
	warmup      time.Duration
	timeout     time.Duration
	status      int
	header      http.Header
}

// headerFlags collects repeated -header options.
type headerFlags struct{ h http.Header }

func (f *headerFlags) String() string { return "" }

func (f *headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("invalid header %q: use 'Name: value'", v)
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

func parseFlags(args []string) (config, error) {
	cfg := config{header: http.Header{}}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&cfg.url, "url", "", "`URL` to GET; its host must be a loopback address or localhost")
	fs.Float64Var(&cfg.rate, "rate", 0, "requests per second to send (required)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second,
		"how long to send, warm-up included; the run also stops after -max requests")
	fs.IntVar(&cfg.maxRequests, "max", 200000, "maximum number of requests to send")
	fs.IntVar(&cfg.connections, "connections", 32,
		"maximum number of concurrent requests, and of open connections")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second,
		"time at the start whose requests are sent but left out of the figures")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "timeout of one request")
	fs.IntVar(&cfg.status, "status", http.StatusOK, "expected response status")
	fs.Var(&headerFlags{cfg.header}, "header", "request header 'Name: value'; repeat for several")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q: every option is a flag", fs.Arg(0))
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	u, err := url.Parse(c.url)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("invalid -url %q: use http://127.0.0.1:PORT/path", c.url)
	}
	if host := u.Hostname(); host != "localhost" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-url host %q is not a loopback address: use 127.0.0.1, [::1] or localhost", host)
		}
	}
	switch {
	case !(c.rate > 0) || math.IsInf(c.rate, 0):
		return fmt.Errorf("invalid -rate %v: use a positive number of requests per second", c.rate)
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return fmt.Errorf("invalid -duration %v: use a positive duration up to 10m", c.duration)
	case c.maxRequests <= 0 || c.maxRequests > 10_000_000:
		return fmt.Errorf("invalid -max %d: use 1 to 10000000", c.maxRequests)
	case c.connections <= 0 || c.connections > 4096:
		return fmt.Errorf("invalid -connections %d: use 1 to 4096", c.connections)
	case c.warmup < 0 || c.warmup >= c.duration:
		return fmt.Errorf("invalid -warmup %v: use 0 or more, and less than -duration %v", c.warmup, c.duration)
	case c.timeout <= 0:
		return fmt.Errorf("invalid -timeout %v: use a positive duration", c.timeout)
	}
	return nil
}

// result sums up one run.
type result struct {
	sent       int64 // requests sent, warm-up included
	measured   int   // requests in the latency figures
	ok         int64 // responses with the expected status
	unexpected int64 // responses with another status
	errors     int64 // requests that got no complete response
	late       int64 // requests queued more than 2 ms after they were due
	rate       float64
	latencies  []time.Duration // sorted
}

func (r result) String() string {
	ms := func(q float64) string {
		return fmt.Sprintf("%.3f", float64(percentile(r.latencies, q))/float64(time.Millisecond))
	}
	return fmt.Sprintf("sent=%d measured=%d ok=%d unexpected_status=%d errors=%d late=%d "+
		"rate=%.1f p50_ms=%s p90_ms=%s p99_ms=%s p999_ms=%s max_ms=%s",
		r.sent, r.measured, r.ok, r.unexpected, r.errors, r.late,
		r.rate, ms(0.50), ms(0.90), ms(0.99), ms(0.999), ms(1))
}

// percentile returns the nearest-rank q-quantile of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// job is one request: when it was queued and whether it counts in the
// figures.
type job struct {
	index    int
	queued   time.Time
	measured bool
}

func run(ctx context.Context, cfg config) (result, error) {
	client := &http.Client{
		Timeout: cfg.timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxConnsPerHost:     cfg.connections,
			MaxIdleConnsPerHost: cfg.connections,
			// wrk sends no Accept-Encoding either, so both tools get the
			// same identity-encoded bodies.
			DisableCompression: true,
		},
	}
	defer client.CloseIdleConnections()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.url, nil)
	if err != nil {
		return result{}, fmt.Errorf("building request: %w", err)
	}
	req.Header = cfg.header

	total := min(cfg.maxRequests, int(cfg.rate*cfg.duration.Seconds())+1)
	latencies := make([]time.Duration, total)
	var res result
	jobs := make(chan job, total)
	var wg sync.WaitGroup
	for range cfg.connections {
		wg.Go(func() {
			for j := range jobs {
				send(client, req, cfg.status, &res)
				latencies[j.index] = time.Since(j.queued)
				if !j.measured {
					latencies[j.index] = -1
				}
			}
		})
	}

	start := time.Now()
	sent := dispatch(jobs, start, cfg, total, &res.late)
	close(jobs)
	// The send period ends one interval after the last request was due.
	elapsed := max(time.Since(start), time.Duration(float64(sent)/cfg.rate*float64(time.Second)))
	wg.Wait()

	res.sent = int64(sent)
	res.rate = float64(sent) / elapsed.Seconds()
	res.latencies = latencies[:sent]
	res.latencies = slices.DeleteFunc(res.latencies, func(d time.Duration) bool { return d < 0 })
	slices.Sort(res.latencies)
	res.measured = len(res.latencies)
	return res, nil
}

// dispatch queues request i at start + i/rate, until total requests or the
// duration is up, and returns how many it queued. The channel holds every
// request, so the dispatcher never waits for a busy worker: a queue that
// backs up shows in the figures.
func dispatch(jobs chan<- job, start time.Time, cfg config, total int, late *int64) int {
	interval := time.Duration(float64(time.Second) / cfg.rate)
	end := start.Add(cfg.duration)
	warmEnd := start.Add(cfg.warmup)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			return i
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		now := time.Now()
		if now.Sub(due) > 2*time.Millisecond {
			atomic.AddInt64(late, 1)
		}
		jobs <- job{index: i, queued: now, measured: !due.Before(warmEnd)}
	}
	return total
}

// send makes one request, reads the whole body and counts the outcome.
func send(client *http.Client, template *http.Request, want int, res *result) {
	// A request must not be shared by concurrent sends.
	resp, err := client.Do(template.Clone(template.Context()))
	if err != nil {
		atomic.AddInt64(&res.errors, 1)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		atomic.AddInt64(&res.errors, 1)
	case resp.StatusCode != want:
		atomic.AddInt64(&res.unexpected, 1)
	default:
		atomic.AddInt64(&res.ok, 1)
	}
}
