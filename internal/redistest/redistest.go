// Package redistest runs a real redis-server for tests, on a free loopback
// port with its data in a temporary directory.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Binary is the redis-server executable that Start runs.
const Binary = "/usr/bin/redis-server"

const (
	startTimeout = 5 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3
)

// Server is one redis-server process. Stop and Restart may be called any
// number of times; the test's cleanup stops the process at the end.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	exit chan error
}

// Start runs a redis-server on a free port of 127.0.0.1 with persistence
// off and its working directory in t.TempDir(), and waits until it replies to
// PING. It skips the test when redis-server is not installed, but fails it
// when the environment sets CI=true, because CI must run every test.
func Start(t testing.TB) *Server {
	t.Helper()

	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("finding redis-server: %v (install the redis-server package)", err)
		}
		t.Skipf("skipping: %s is not installed (apt-get install redis-server)", Binary)
	}

	s := &Server{t: t, dir: t.TempDir()}
	t.Cleanup(s.Stop)

	// Another process may take the free port between the probe and the
	// start, so a failed start is retried on a new port.
	var err error
	for range startTries {
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("starting redis-server: %v", err)
	return nil
}

// Client returns a go-redis client for the server, closed at the end of
// the test. It dials once per attempt, without the default retries, so a
// call to a stopped server fails at once.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()

	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop shuts the server down with SHUTDOWN SAVE, so the data survives a
// later Restart as it would on a server with persistence, and waits for the
// process to exit. It does nothing when the server is not running.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}

	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	// SHUTDOWN closes the connection instead of replying, so its error is
	// expected; the process exit below is what counts.
	_ = c.ShutdownSave(context.Background()).Err()
	_ = c.Close()

	select {
	case <-s.exit:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exit
		s.t.Errorf("redis-server on %s ignored SHUTDOWN for %s and was killed", s.Addr, stopTimeout)
	}
	s.cmd = nil
}

// Kill ends the server with SIGKILL, like a crash: data written since the
// last save is lost.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.cmd = nil
}

// Restart starts the server again on the same port and data directory,
// stopping it first if it is running.
func (s *Server) Restart() {
	s.t.Helper()

	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting redis-server on %s: %v", s.Addr, err)
	}
}

func (s *Server) start() error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "redis.log"),
		os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening redis log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(Binary,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", Binary, err)
	}

	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()

	if exited, err := waitReady(s.Addr, exit); err != nil {
		if !exited {
			_ = cmd.Process.Kill()
			<-exit
		}
		return fmt.Errorf("%w (log in %s)", err, filepath.Join(s.dir, "redis.log"))
	}
	s.cmd = cmd
	s.exit = exit
	return nil
}

// waitReady polls PING until the server replies, the process exits or
// startTimeout passes. It reports whether it consumed the exit status.
func waitReady(addr string, exit <-chan error) (exited bool, err error) {
	c := redis.NewClient(&redis.Options{
		Addr:        addr,
		MaxRetries:  -1,
		DialTimeout: 200 * time.Millisecond,
	})
	defer c.Close()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case err := <-exit:
			return true, fmt.Errorf("redis-server exited before replying to PING: %v", err)
		default:
		}

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return false, nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("waiting for PING on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()

	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener address is not TCP")
	}
	return addr.Port, nil
}
