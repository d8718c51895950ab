// Command providers serves synthetic department APIs for the data gateway
// demo: the population register (公安局), marriage and adoption registration
// (民政局), enterprise registration (市场监督管理局), housing provident fund
// accounts (住房公积金管理中心) and typhoon evacuee records (应急管理局), each
// on its own loopback listener.
//
// The records are generated from a fixed seed, so every run serves the same
// subjects; -list prints them. Identity numbers, unified social credit codes
// and bank card numbers carry valid check characters.
//
// Usage:
//
//	providers [-population ADDR] [-marriage ADDR] [-enterprise ADDR]
//	          [-housing-fund ADDR] [-emergency ADDR] [-log-level LEVEL]
//	providers -list
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds the wait for in-flight requests on SIGINT or
// SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &usage):
		// The flag package has printed the error and the usage already.
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "providers:", err)
		os.Exit(1)
	}
}

// usageError is a command-line error that the flag package has reported.
type usageError struct {
	err error
}

func (e usageError) Error() string { return e.err.Error() }

func (e usageError) Unwrap() error { return e.err }

// config is the parsed command line.
type config struct {
	// addresses maps a department name to its listen address. An empty
	// address disables the department.
	addresses map[string]string
	list      bool
	logLevel  slog.Level
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	flags := flag.NewFlagSet("providers", flag.ContinueOnError)
	flags.SetOutput(stderr)
	cfg := config{addresses: make(map[string]string)}
	pointers := make(map[string]*string)
	for _, dep := range departments {
		pointers[dep.Name] = flags.String(dep.Name, dep.DefaultAddress,
			fmt.Sprintf("listen `address` of the %s API (%s), a loopback host and port; empty disables it", dep.Title, dep.Provider))
	}
	flags.BoolVar(&cfg.list, "list", false,
		"print every record as department, subject id and label, tab-separated, and exit")
	flags.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo,
		"minimum log `level`: debug (adds one line per request), info, warn or error")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, usageError{err}
	}
	if flags.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q: every option is a flag", flags.Arg(0))
	}
	for name, address := range pointers {
		cfg.addresses[name] = *address
	}
	return cfg, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	data := newDataset()
	if cfg.list {
		return writeList(stdout, data)
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	servers, err := startDepartments(cfg.addresses, data, logger)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, servers, logger)
}

// departmentServer is a department's HTTP server and its bound listener.
type departmentServer struct {
	department *department
	listener   net.Listener
	server     *http.Server
}

// startDepartments binds the listener of every enabled department. It binds
// all of them before serving any, and closes those it opened if one fails,
// so a port conflict stops the program instead of leaving it half up.
func startDepartments(addresses map[string]string, data *dataset, logger *slog.Logger) ([]*departmentServer, error) {
	var servers []*departmentServer
	closeAll := func() {
		for _, s := range servers {
			s.listener.Close()
		}
	}
	for i := range departments {
		dep := &departments[i]
		address := addresses[dep.Name]
		if address == "" {
			continue
		}
		if err := checkLoopback(address); err != nil {
			closeAll()
			return nil, fmt.Errorf("checking -%s: %w", dep.Name, err)
		}
		listener, err := net.Listen("tcp", address)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listening for %s on %q: %w", dep.Name, address, err)
		}
		servers = append(servers, &departmentServer{
			department: dep,
			listener:   listener,
			server: &http.Server{
				Handler:           newDepartmentHandler(dep, data, logger),
				ReadHeaderTimeout: 5 * time.Second,
				WriteTimeout:      30 * time.Second,
				IdleTimeout:       90 * time.Second,
				ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			},
		})
	}
	if len(servers) == 0 {
		return nil, errors.New("no department enabled: give at least one of -population, -marriage, -enterprise, -housing-fund, -emergency a loopback address")
	}
	return servers, nil
}

// checkLoopback rejects a listen address whose host is not a loopback IP
// address or localhost, because the synthetic records must not be served
// beyond this machine.
func checkLoopback(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: use host:port, such as 127.0.0.1:9101", address)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not on loopback: use 127.0.0.1, [::1] or localhost", address)
	}
	return nil
}

// serve runs every server until ctx is done or one of them fails, then
// shuts all of them down, letting in-flight requests finish within
// shutdownTimeout.
func serve(ctx context.Context, servers []*departmentServer, logger *slog.Logger) error {
	failures := make(chan error, len(servers))
	for _, s := range servers {
		logger.Info("provider started",
			slog.String("department", s.department.Name),
			slog.String("provider", s.department.Provider),
			slog.String("address", s.listener.Addr().String()))
		go func() {
			if err := s.server.Serve(s.listener); !errors.Is(err, http.ErrServerClosed) {
				failures <- fmt.Errorf("serving %s: %w", s.department.Name, err)
			}
		}()
	}

	var failure error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", slog.String("cause", context.Cause(ctx).Error()))
	case failure = <-failures:
		logger.Error("provider failed, shutting down", slog.Any("error", failure))
	}

	shutdownContext, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.server.Shutdown(shutdownContext); err != nil {
			logger.Warn("shutdown timed out, closing connections",
				slog.String("department", s.department.Name), slog.Any("error", err))
			s.server.Close()
		}
		logger.Info("provider stopped", slog.String("department", s.department.Name))
	}
	return failure
}
