package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "empty", sorted: nil, q: 0.5, want: 0},
		{name: "one value", sorted: ms(7), q: 0.99, want: 7 * time.Millisecond},
		{name: "median of four", sorted: ms(1, 2, 3, 4), q: 0.5, want: 2 * time.Millisecond},
		{name: "p99 of hundred", sorted: ms(seq(100)...), q: 0.99, want: 99 * time.Millisecond},
		{name: "max", sorted: ms(1, 2, 3), q: 1, want: 3 * time.Millisecond},
		{name: "min", sorted: ms(1, 2, 3), q: 0, want: 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestParseFlagsRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "other host", args: []string{"-url", "http://10.0.0.1/", "-rate", "1"}, want: "not a loopback address"},
		{name: "host name", args: []string{"-url", "http://example.com/", "-rate", "1"}, want: "not a loopback address"},
		{name: "https", args: []string{"-url", "https://127.0.0.1/", "-rate", "1"}, want: "invalid -url"},
		{name: "no url", args: []string{"-rate", "1"}, want: "invalid -url"},
		{name: "no rate", args: []string{"-url", "http://127.0.0.1/"}, want: "invalid -rate"},
		{name: "negative rate", args: []string{"-url", "http://127.0.0.1/", "-rate", "-5"}, want: "invalid -rate"},
		{name: "zero max", args: []string{"-url", "http://127.0.0.1/", "-rate", "1", "-max", "0"}, want: "invalid -max"},
		{name: "warmup too long", args: []string{"-url", "http://127.0.0.1/", "-rate", "1", "-duration", "1s", "-warmup", "1s"}, want: "invalid -warmup"},
		{name: "unbounded duration", args: []string{"-url", "http://127.0.0.1/", "-rate", "1", "-duration", "1h"}, want: "invalid -duration"},
		{name: "bad header", args: []string{"-url", "http://127.0.0.1/", "-rate", "1", "-header", "no colon"}, want: "invalid header"},
		{name: "stray argument", args: []string{"-url", "http://127.0.0.1/", "-rate", "1", "extra"}, want: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args)
			if err == nil {
				t.Fatalf("parseFlags(%q) accepted the arguments", tt.args)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFlags(%q) error = %q, want it to contain %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseFlagsHeaders(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "http://[::1]:8080/x", "-rate", "10",
		"-header", "Authorization: Bearer k", "-header", "X-Data-Scenario:  s1 "})
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if got := cfg.header.Get("Authorization"); got != "Bearer k" {
		t.Errorf("Authorization = %q, want %q", got, "Bearer k")
	}
	if got := cfg.header.Get("X-Data-Scenario"); got != "s1" {
		t.Errorf("X-Data-Scenario = %q, want %q", got, "s1")
	}
}

func TestRunCountsOutcomes(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("X-Test") != "yes" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()

	cfg := config{
		url: srv.URL, rate: 200, duration: 500 * time.Millisecond, maxRequests: 1000,
		connections: 4, warmup: 100 * time.Millisecond, timeout: time.Second,
		status: http.StatusOK, header: http.Header{"X-Test": {"yes"}},
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.sent != 100 {
		t.Errorf("sent = %d, want 100 (200/s for 0.5s)", res.sent)
	}
	if got := calls.Load(); got != res.sent {
		t.Errorf("server saw %d requests, client sent %d", got, res.sent)
	}
	if res.unexpected != 20 {
		t.Errorf("unexpected = %d, want 20 (every fifth request got 503)", res.unexpected)
	}
	if res.ok != 80 {
		t.Errorf("ok = %d, want 80", res.ok)
	}
	if res.errors != 0 {
		t.Errorf("errors = %d, want 0", res.errors)
	}
	if res.measured != 80 {
		t.Errorf("measured = %d, want 80 (the first 20 requests fall in the 100ms warm-up)", res.measured)
	}
}

func TestRunStopsAtMax(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	cfg := config{
		url: srv.URL, rate: 1000, duration: 10 * time.Second, maxRequests: 30,
		connections: 2, timeout: time.Second, status: http.StatusOK, header: http.Header{},
	}
	start := time.Now()
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.sent != 30 {
		t.Errorf("sent = %d, want 30", res.sent)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("run took %v for 30 requests at 1000/s, want it to stop at -max", elapsed)
	}
}

func TestRunCountsTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens any more

	cfg := config{
		url: url, rate: 100, duration: 100 * time.Millisecond, maxRequests: 100,
		connections: 2, timeout: time.Second, status: http.StatusOK, header: http.Header{},
	}
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.errors != res.sent {
		t.Errorf("errors = %d, want every one of the %d requests", res.errors, res.sent)
	}
	if res.ok != 0 {
		t.Errorf("ok = %d, want 0", res.ok)
	}
}
