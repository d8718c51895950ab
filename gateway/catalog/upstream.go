package catalog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DefaultResolveTimeout bounds the DNS lookup of a registered upstream's
// host name when UpstreamGuard.Timeout is zero.
const DefaultResolveTimeout = 2 * time.Second

// metadataHosts are the host names of cloud instance metadata services,
// refused by name whatever they resolve to.
var metadataHosts = map[string]bool{
	"metadata.google.internal": true,
	"metadata.goog":            true,
}

// metadataAddrs are the addresses of cloud instance metadata services
// outside the link-local ranges, which are refused anyway: the AWS IPv6
// endpoint and Alibaba Cloud's endpoint. 169.254.169.254 is link-local.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("fd00:ec2::254"):   true,
	netip.MustParseAddr("100.100.100.200"): true,
	netip.MustParseAddr("169.254.169.254"): true,
}

// IPv6 prefixes that carry an IPv4 address a packet may end up at: NAT64
// (64:ff9b::7f00:1 reaches 127.0.0.1) and IPv4-compatible addresses in
// the last 32 bits, 6to4 in bits 16 to 48, Teredo's client inverted in
// the last 32 bits.
var (
	nat64Prefix      = netip.MustParsePrefix("64:ff9b::/96")
	compatiblePrefix = netip.MustParsePrefix("::/96")
	sixToFourPrefix  = netip.MustParsePrefix("2002::/16")
	teredoPrefix     = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 returns the IPv4 address an IPv6 address carries, if any.
func embeddedIPv4(addr netip.Addr) (netip.Addr, bool) {
	if !addr.Is6() {
		return netip.Addr{}, false
	}
	raw := addr.As16()
	switch {
	case nat64Prefix.Contains(addr), compatiblePrefix.Contains(addr):
		return netip.AddrFrom4([4]byte(raw[12:])), true
	case sixToFourPrefix.Contains(addr):
		return netip.AddrFrom4([4]byte(raw[2:6])), true
	case teredoPrefix.Contains(addr):
		return netip.AddrFrom4([4]byte{^raw[12], ^raw[13], ^raw[14], ^raw[15]}), true
	}
	return netip.Addr{}, false
}

// Resolver looks up the addresses of a host name. *net.Resolver implements
// it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// UpstreamGuard checks the upstream address of a resource registered
// through the registry API, so that a provider cannot point the gateway at
// the gateway's own host, its local network services or a cloud metadata
// service. It refuses loopback, link-local, unspecified, multicast and
// broadcast addresses and the metadata endpoints, both as literal
// addresses and as the addresses a host name resolves to, unless an
// operator lists the address's network in Allow. Catalogue files are not
// checked: the operator writes them.
//
// NOTE: the check runs when the resource is registered. reverse_proxy
// resolves the host again when it dials, so a DNS name whose records
// change later (DNS rebinding) is not caught. Register addresses, or names
// under the operator's control.
type UpstreamGuard struct {
	// Allow lists the networks a registered upstream may use although they
	// are otherwise refused, such as 127.0.0.0/8 for a demo on one host.
	Allow []netip.Prefix
	// Resolver looks up host names; nil uses net.DefaultResolver.
	Resolver Resolver
	// Timeout bounds one lookup; zero means DefaultResolveTimeout.
	Timeout time.Duration
}

// Check returns nil when upstream is a well-formed address (as the
// catalogue file requires) whose host is neither refused by name nor
// resolves to a refused address. The error states the problem and the fix,
// without naming a field.
func (g *UpstreamGuard) Check(ctx context.Context, upstream string) error {
	if problem := checkUpstream(upstream); problem != "" {
		return errors.New(problem)
	}
	u, err := url.Parse(upstream)
	if err != nil {
		return fmt.Errorf("invalid address: %w", err)
	}
	redacted := u.Redacted()
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")

	if metadataHosts[host] {
		return fmt.Errorf("%q names a cloud metadata service: register the "+
			"department's own interface instead", redacted)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return g.checkAddr(redacted, "is", addr)
	}
	if looksNumeric(host) {
		return fmt.Errorf("%q has the host %q, which is not a standard IP address: "+
			"write IPv4 addresses as four decimal numbers, such as %q",
			redacted, host, "10.0.0.5")
	}

	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return fmt.Errorf("%q: looking up host %q failed: %v: register an address "+
			"or a host name that resolves from the gateway", redacted, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%q: host %q has no addresses: register an address or a "+
			"host name that resolves from the gateway", redacted, host)
	}
	for _, addr := range addrs {
		if err := g.checkAddr(redacted, "resolves to", addr); err != nil {
			return err
		}
	}
	return nil
}

func (g *UpstreamGuard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultResolveTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var resolver Resolver = net.DefaultResolver
	if g.Resolver != nil {
		resolver = g.Resolver
	}
	return resolver.LookupNetIP(ctx, "ip", host)
}

// checkAddr refuses addr unless it is an ordinary unicast address or lies
// in an allowed network. verb joins the upstream and the address in the
// message: "is" for a literal, "resolves to" for a looked-up name.
func (g *UpstreamGuard) checkAddr(redacted, verb string, addr netip.Addr) error {
	addr = addr.Unmap().WithZone("")
	if g.allowed(addr) {
		return nil
	}
	kind := refusedKind(addr)
	if embedded, ok := embeddedIPv4(addr); kind == "" && ok && !g.allowed(embedded) {
		kind = refusedKind(embedded)
	}
	if kind == "" {
		return nil
	}
	return fmt.Errorf("%q %s %s, %s: register the department's own network address, "+
		"or ask the operator to add its network to upstream_allow", redacted, verb, addr, kind)
}

func (g *UpstreamGuard) allowed(addr netip.Addr) bool {
	for _, prefix := range g.Allow {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// refusedKind names the class of address that a registered upstream may
// not use, or returns "" for an ordinary unicast address.
func refusedKind(addr netip.Addr) string {
	switch {
	case metadataAddrs[addr]:
		return "a cloud metadata service address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address"
	case addr.IsMulticast():
		return "a multicast address"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	case addr.Is4() && addr.As4()[0] == 0:
		// 0.0.0.0/8 means "this network": Linux connects 0.x.x.x to the
		// local host.
		return "an address of the local network"
	}
	return ""
}

// looksNumeric reports whether host is made only of digits, dots and hex
// notation, such as "2130706433", "0x7f.1" or "0177.0.0.1": resolvers that
// accept those forms read them as addresses that ParseAddr rejects.
func looksNumeric(host string) bool {
	if host == "" {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		digits := label
		if rest, ok := strings.CutPrefix(label, "0x"); ok {
			digits = rest
			for i := 0; i < len(digits); i++ {
				if !isHexDigit(digits[i]) {
					return false
				}
			}
			continue
		}
		for i := 0; i < len(digits); i++ {
			if digits[i] < '0' || digits[i] > '9' {
				return false
			}
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}

// ParseAllowList parses CIDR networks, such as "127.0.0.0/8" or "fd00::/8",
// for UpstreamGuard.Allow. A bare address is taken as a network of that one
// address.
func ParseAllowList(values []string) ([]netip.Prefix, error) {
	prefixes := make([]netip.Prefix, 0, len(values))
	for _, value := range values {
		if addr, err := netip.ParseAddr(value); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
			continue
		}
		prefix, err := netip.ParsePrefix(value)
		if err != nil {
			return nil, fmt.Errorf("invalid network %q: write it in CIDR notation, "+
				"such as %q", value, "127.0.0.0/8")
		}
		prefixes = append(prefixes, prefix.Masked())
	}
	return prefixes, nil
}
