package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		name    string
		address string
		wantErr bool
	}{
		{"ipv4 loopback", "127.0.0.1:9101", false},
		{"other ipv4 loopback", "127.0.0.2:9101", false},
		{"ipv6 loopback", "[::1]:9101", false},
		{"localhost", "localhost:9101", false},
		{"any address", "0.0.0.0:9101", true},
		{"empty host", ":9101", true},
		{"documentation address", "192.0.2.1:9101", true},
		{"host name", "example.com:9101", true},
		{"no port", "127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLoopback(tt.address)
			if (err != nil) != tt.wantErr {
				t.Errorf("checkLoopback(%q) = %v, want error %v", tt.address, err, tt.wantErr)
			}
		})
	}
}

func TestStartDepartmentsRejects(t *testing.T) {
	tests := []struct {
		name      string
		addresses map[string]string
		wantText  string
	}{
		{"none enabled", map[string]string{}, "no department enabled"},
		{"not loopback", map[string]string{"population": "0.0.0.0:0"}, "not on loopback"},
		{"second not loopback", map[string]string{"population": "127.0.0.1:0", "emergency": "192.0.2.1:0"}, "-emergency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers, err := startDepartments(tt.addresses, testDataset(), discardLogger())
			if err == nil {
				for _, s := range servers {
					s.listener.Close()
				}
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestServeUntilCancelled(t *testing.T) {
	addresses := make(map[string]string)
	for _, dep := range departments {
		addresses[dep.Name] = "127.0.0.1:0"
	}
	servers, err := startDepartments(addresses, testDataset(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != len(departments) {
		t.Fatalf("%d servers, want %d", len(servers), len(departments))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, servers, discardLogger()) }()

	client := &http.Client{Timeout: 5 * time.Second}
	for _, s := range servers {
		reply, err := client.Get("http://" + s.listener.Addr().String() + "/healthz")
		if err != nil {
			t.Fatalf("%s: %v", s.department.Name, err)
		}
		reply.Body.Close()
		if reply.StatusCode != http.StatusOK {
			t.Errorf("%s: /healthz status %d, want 200", s.department.Name, reply.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v, want nil", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("serve did not return after cancellation")
	}
	if _, err := client.Get("http://" + servers[0].listener.Addr().String() + "/healthz"); err == nil {
		t.Error("a request after shutdown succeeded")
	}
}

func TestRunList(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-list"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	subjects := readShellAssignments(t, "../demo.sh", "SUBJECT_")
	if !strings.Contains(stdout.String(), "population\t"+subjects["SUBJECT_PERSON"]+"\t") {
		t.Error("-list does not print the demo's person")
	}
}

func TestRunRejectsArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"positional argument", []string{"extra"}},
		{"unknown flag", []string{"-verbose"}},
		{"bad log level", []string{"-log-level", "loud"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(tt.args, &stdout, &stderr); err == nil {
				t.Error("no error")
			}
		})
	}
}
