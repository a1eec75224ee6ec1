// Package tproxy installs and removes the iptables rules of Kuma 2.x's transparent proxy: outbound
// TCP to the data plane's outbound listener (15001), inbound TCP to its inbound listener (15006)
// and, optionally, DNS to its DNS resolver (15053). Rule generation (Rules) is pure and
// golden-tested; Applier runs iptables-save/iptables-restore (and the ip6tables pair) to apply it.
package tproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kuma's defaults, kept so a Dataplane's networking.transparentProxying written for kuma-dp works.
const (
	DefaultRedirectOutboundPort = 15001
	DefaultRedirectInboundPort  = 15006
	DefaultRedirectDNSPort      = 15053
	// DefaultKumaDPUID is the UID kuma-dp runs as in Kuma's images and docs.
	DefaultKumaDPUID = 5678
	dnsPort          = 53
)

// Chain names as Kuma 2.x creates them, so operators' runbooks and kumactl's output match ours.
const (
	ChainMeshInbound          = "KUMA_MESH_INBOUND"
	ChainMeshInboundRedirect  = "KUMA_MESH_INBOUND_REDIRECT"
	ChainMeshOutbound         = "KUMA_MESH_OUTBOUND"
	ChainMeshOutboundRedirect = "KUMA_MESH_OUTBOUND_REDIRECT"
)

// ourChains are every chain an install creates, in creation order.
var ourChains = []string{ChainMeshInbound, ChainMeshOutbound, ChainMeshInboundRedirect, ChainMeshOutboundRedirect}

// commentPrefix marks every rule we add to a built-in chain, so uninstall and re-install find
// exactly ours and nothing an operator or Docker put there.
const commentPrefix = "jetmesh/tproxy"

// Protocol is the L4 protocol of a UID exclusion; "" means both TCP and UDP.
type Protocol string

// The protocols an exclusion can name.
const (
	ProtocolAny Protocol = ""
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// UIDExclusion leaves outbound traffic of some UIDs to some ports alone, as kumactl's
// --exclude-outbound-ports-for-uids and the traffic.kuma.io/exclude-outbound-{tcp,udp}-ports-for-uids
// annotations do.
type UIDExclusion struct {
	Protocol Protocol
	// Ports are iptables multiport items ("53", "3000:5000"); empty means every port.
	Ports []string
	// UIDs is an owner match value: "1234" or a range "106-108".
	UIDs string
}

// Config is one transparent-proxy installation. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	RedirectOutboundPort uint16
	RedirectInboundPort  uint16
	// RedirectInbound false leaves inbound traffic alone (gateways have no inbound listener).
	RedirectInbound bool
	// KumaDPUID owns the proxy's own traffic, which is never redirected (it would loop).
	KumaDPUID uint32

	ExcludeInboundPorts  []uint16
	ExcludeOutboundPorts []uint16
	// ExcludeInboundIPs and ExcludeOutboundIPs are sources (inbound) and destinations (outbound)
	// never redirected; each family's rules take the prefixes of that family.
	ExcludeInboundIPs  []netip.Prefix
	ExcludeOutboundIPs []netip.Prefix
	ExcludeForUIDs     []UIDExclusion

	// RedirectDNS sends DNS (UDP and TCP port 53) to DNSServers to RedirectDNSPort; with
	// RedirectAllDNS, DNS to any address.
	RedirectDNS     bool
	RedirectAllDNS  bool
	RedirectDNSPort uint16
	DNSServers      []netip.Addr

	// IPv6 also installs the rules with ip6tables.
	IPv6 bool
}

// DefaultConfig is kumactl install transparent-proxy's defaults.
func DefaultConfig() Config {
	return Config{
		RedirectOutboundPort: DefaultRedirectOutboundPort,
		RedirectInboundPort:  DefaultRedirectInboundPort,
		RedirectInbound:      true,
		KumaDPUID:            DefaultKumaDPUID,
		RedirectDNSPort:      DefaultRedirectDNSPort,
		IPv6:                 true,
	}
}

// Validate reports the first thing that makes c impossible to install.
func (c Config) Validate() error {
	var errs []error
	for name, p := range map[string]uint16{"redirect-outbound-port": c.RedirectOutboundPort,
		"redirect-inbound-port": c.RedirectInboundPort, "redirect-dns-port": c.RedirectDNSPort} {
		if p == 0 {
			errs = append(errs, fmt.Errorf("%s must not be 0", name))
		}
	}
	if c.RedirectInbound && c.RedirectInboundPort == c.RedirectOutboundPort {
		errs = append(errs, fmt.Errorf("inbound and outbound redirect ports are both %d", c.RedirectInboundPort))
	}
	if c.RedirectDNS && !c.RedirectAllDNS && len(c.DNSServers) == 0 {
		errs = append(errs, errors.New("redirect-dns: no DNS servers (none in resolv.conf?); use redirect-all-dns-traffic"))
	}
	for _, e := range c.ExcludeForUIDs {
		if e.UIDs == "" {
			errs = append(errs, errors.New("exclude-outbound-ports-for-uids: an exclusion without UIDs"))
		}
	}
	return errors.Join(errs...)
}

// ParsePorts parses a comma-separated list of ports ("80,443").
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, f := range splitList(s) {
		p, err := strconv.ParseUint(f, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("port %q: want 1-65535", f)
		}
		out = append(out, uint16(p))
	}
	return out, nil
}

// ParsePrefixes parses comma-separated addresses or CIDRs ("10.0.0.1,fd00::/8"); a bare address
// is a /32 or /128.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", f, err)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ParseUIDExclusion parses kumactl's [protocol:]ports:uids form: "53,3000-5000:106-108",
// "tcp:443:1234", "udp:*:1234", or just "1234" for every port. The annotations'
// "443:1234" form with a fixed protocol is ParseUIDExclusion with proto set.
func ParseUIDExclusion(s string, proto Protocol) (UIDExclusion, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	var ex UIDExclusion
	var ports string
	switch len(parts) {
	case 1:
		ports, ex.UIDs = "*", parts[0]
	case 2:
		ports, ex.UIDs = parts[0], parts[1]
	case 3:
		if proto != ProtocolAny {
			return ex, fmt.Errorf("%q: the protocol is already %s", s, proto)
		}
		switch p := Protocol(strings.ToLower(parts[0])); p {
		case ProtocolTCP, ProtocolUDP:
			proto = p
		case "*":
		default:
			return ex, fmt.Errorf("%q: protocol %q: want tcp, udp or *", s, parts[0])
		}
		ports, ex.UIDs = parts[1], parts[2]
	default:
		return ex, fmt.Errorf("%q: want [protocol:]ports:uids", s)
	}
	ex.Protocol = proto
	uids, err := parseRange(ex.UIDs, 1<<32-1)
	if err != nil {
		return ex, fmt.Errorf("%q: uids: %w", s, err)
	}
	ex.UIDs = uids
	if ports != "*" && ports != "" {
		for _, p := range strings.Split(ports, ",") {
			r, err := parseRange(p, 65535)
			if err != nil {
				return ex, fmt.Errorf("%q: ports: %w", s, err)
			}
			// multiport writes ranges with a colon.
			ex.Ports = append(ex.Ports, strings.Replace(r, "-", ":", 1))
		}
	}
	return ex, nil
}

// parseRange checks "N" or "N-M" (N<=M<=max) and returns it normalised.
func parseRange(s string, maxV uint64) (string, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.ParseUint(lo, 10, 32)
	if err != nil || a > maxV {
		return "", fmt.Errorf("%q: want a number or a range N-M", s)
	}
	if !isRange {
		return strconv.FormatUint(a, 10), nil
	}
	b, err := strconv.ParseUint(hi, 10, 32)
	if err != nil || b > maxV || b < a {
		return "", fmt.Errorf("%q: want a number or a range N-M", s)
	}
	return fmt.Sprintf("%d-%d", a, b), nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseResolvConf returns the nameserver addresses of a resolv.conf, the servers --redirect-dns
// redirects (as Kuma does, only those, so other DNS traffic is left alone).
func ParseResolvConf(content string) []netip.Addr {
	var out []netip.Addr
	for _, l := range strings.Split(content, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		// A zone ("fe80::1%eth0") cannot be matched by iptables; such a server is skipped.
		if a, err := netip.ParseAddr(f[1]); err == nil && a.Zone() == "" {
			out = append(out, a.Unmap())
		}
	}
	return out
}
