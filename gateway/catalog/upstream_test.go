package catalog

import (
	"context"
	"strings"
	"testing"
)

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
		ok    bool
	}{
		{"ipv4 network", "127.0.0.0/8", "127.0.0.0/8", true},
		{"network with host bits", "10.1.2.3/16", "10.1.0.0/16", true},
		{"bare address", "10.0.0.5", "10.0.0.5/32", true},
		{"ipv6 network", "fd00::/8", "fd00::/8", true},
		{"not a network", "localhost", "", false},
		{"bad length", "10.0.0.0/33", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAllowList([]string{tc.value})
			if (err == nil) != tc.ok {
				t.Fatalf("ParseAllowList(%q) error = %v, want ok %v", tc.value, err, tc.ok)
			}
			if tc.ok && got[0].String() != tc.want {
				t.Errorf("ParseAllowList(%q) = %s, want %s", tc.value, got[0], tc.want)
			}
			if !tc.ok && !strings.Contains(err.Error(), "CIDR") {
				t.Errorf("error %q does not say how to write a network", err)
			}
		})
	}
}

// TestGuardResolvesWithSystemResolver looks up "localhost" through the
// system resolver, which reads it from the hosts file without network.
func TestGuardResolvesWithSystemResolver(t *testing.T) {
	guard := &UpstreamGuard{}
	err := guard.Check(context.Background(), "http://localhost:8080")
	if err == nil {
		t.Fatal("localhost accepted without an allow-list")
	}
	if !strings.Contains(err.Error(), "resolves to") || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("error %q does not say the name resolves to a loopback address", err)
	}
	if !strings.Contains(err.Error(), "upstream_allow") {
		t.Errorf("error %q does not name the fix", err)
	}
}

func TestGuardAcceptsOrdinaryAddress(t *testing.T) {
	guard := &UpstreamGuard{}
	for _, upstream := range []string{"http://10.0.0.5:8080", "https://[2001:db8::5]:8443"} {
		if err := guard.Check(context.Background(), upstream); err != nil {
			t.Errorf("Check(%q) = %v, want nil", upstream, err)
		}
	}
}

func TestGuardRedactsPassword(t *testing.T) {
	guard := &UpstreamGuard{}
	err := guard.Check(context.Background(), "http://user:secret@127.0.0.1:80")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v is nil or shows the password", err)
	}
}

func TestGuardRefusesIPv4InsideIPv6(t *testing.T) {
	g := &UpstreamGuard{}
	cases := map[string]string{
		"nat64 metadata":      "http://[64:ff9b::a9fe:a9fe]:80",
		"compatible metadata": "http://[::169.254.169.254]:80",
		"6to4 metadata":       "http://[2002:a9fe:a9fe::]:80",
		"6to4 loopback":       "http://[2002:7f00:1::]:80",
		"teredo loopback":     "http://[2001:0:1:2::80ff:fffe]:80",
	}
	for name, upstream := range cases {
		if err := g.Check(context.Background(), upstream); err == nil {
			t.Errorf("%s: %s accepted", name, upstream)
		}
	}
	if err := g.Check(context.Background(), "http://[2002:0a01:0203::]:80"); err != nil {
		t.Errorf("6to4 of a private unicast address refused: %v", err)
	}
}
