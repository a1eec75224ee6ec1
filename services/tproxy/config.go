// Package tproxy installs and removes the iptables redirection of transparent proxying, as
// Kuma 2.14's `kumactl install transparent-proxy` (and kuma-init) does: the application's
// outbound TCP goes to the proxy's outbound port (15001), inbound TCP to its inbound port
// (15006), DNS to the DNS proxy (15053), except the proxy's own traffic, excluded ports,
// addresses and UIDs. Rules (rules.go) are a pure function of the configuration; Apply runs
// iptables-restore with them (apply.go).
package tproxy

import (
	"fmt"
	"net/netip"
	"os/user"
	"strconv"
	"strings"
)

// Kuma's defaults.
const (
	DefaultOutboundPort = 15001
	DefaultInboundPort  = 15006
	DefaultDNSPort      = 15053
	// DefaultUID is the user kuma-dp (jetmesh-dp) runs as.
	DefaultUID = "5678"
	// defaultUsername is looked up when the default UID does not exist.
	defaultUsername = "kuma-dp"
)

// Config is what to redirect and what to leave alone.
type Config struct {
	// OutboundPort and InboundPort are the proxy's redirect ports (the Dataplane's
	// transparentProxying.redirectPortOutbound / redirectPortInbound).
	OutboundPort, InboundPort uint16
	// RedirectInbound is false for gateway proxies, which receive traffic on their own ports.
	RedirectInbound bool
	// RedirectDNS sends DNS queries for the resolv.conf servers (DNSServers) to DNSPort;
	// RedirectAllDNS sends every DNS query there.
	RedirectDNS, RedirectAllDNS bool
	DNSPort                     uint16
	// DNSServers are the resolvers whose queries RedirectDNS captures (from resolv.conf).
	DNSServers []netip.Addr
	// ConntrackZoneSplit keeps the proxy's upstream DNS and the application's DNS in separate
	// conntrack zones, so replies are not mixed up (Kuma's default with DNS redirection).
	ConntrackZoneSplit bool
	// UID is the user the proxy runs as: its traffic is never redirected.
	UID string
	// IPv6 installs the same rules with ip6tables (Kuma's dual-stack default).
	IPv6 bool
	// Exclusions.
	ExcludeInboundPorts, ExcludeOutboundPorts []uint16
	ExcludeInboundIPs, ExcludeOutboundIPs     []netip.Prefix
	ExcludeOutboundForUIDs                    []UIDExclusion
}

// UIDExclusion lets some users' traffic to some ports bypass the proxy
// (traffic.kuma.io/exclude-outbound-ports-for-uids: "[tcp|udp|*:][ports:]uids").
type UIDExclusion struct {
	Protocol string // tcp, udp, or "" for both
	Ports    string // "1:65535" for all; "22,80" or "1000:2000" (iptables multiport form)
	UIDs     string // "1000" or "1000-2000" (owner match form)
}

// DefaultConfig is Kuma's default: redirect outbound and inbound, dual stack, no DNS.
func DefaultConfig() Config {
	return Config{OutboundPort: DefaultOutboundPort, InboundPort: DefaultInboundPort, RedirectInbound: true,
		DNSPort: DefaultDNSPort, ConntrackZoneSplit: true, UID: DefaultUID, IPv6: true}
}

// ParsePorts reads a comma-separated port list ("22,8080").
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("port %q: want a number in 1..65535", p)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// ParsePrefixes reads a comma-separated list of addresses or CIDRs.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", p, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("CIDR %q: %w", p, err)
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}

// ParseUIDExclusion reads Kuma's "[protocol:][ports:]uids" form: "1000" (every port, both
// protocols), "tcp:22,80:1000-2000", "*:*:0". Port ranges use '-' and become multiport's ':'.
func ParseUIDExclusion(s string) (UIDExclusion, error) {
	parts := strings.Split(s, ":")
	var proto, ports, uids string
	switch len(parts) {
	case 1:
		uids = parts[0]
	case 2:
		ports, uids = parts[0], parts[1]
	case 3:
		proto, ports, uids = parts[0], parts[1], parts[2]
	default:
		return UIDExclusion{}, fmt.Errorf("%q: want [protocol:][ports:]uids", s)
	}
	switch proto {
	case "", "*":
		proto = ""
	case "tcp", "udp":
	default:
		return UIDExclusion{}, fmt.Errorf("%q: protocol %q: want tcp, udp or *", s, proto)
	}
	if ports == "" || ports == "*" {
		ports = "1:65535"
	} else {
		var list []string
		for _, p := range strings.Split(ports, ",") {
			if !validRange(p, 1, 65535) {
				return UIDExclusion{}, fmt.Errorf("%q: port %q: want a port or a range of ports in 1..65535", s, p)
			}
			list = append(list, strings.Replace(p, "-", ":", 1))
		}
		ports = strings.Join(list, ",")
	}
	if !validRange(uids, 0, 1<<32-1) {
		return UIDExclusion{}, fmt.Errorf("%q: uid %q: want a UID or a range of UIDs", s, uids)
	}
	return UIDExclusion{Protocol: proto, Ports: ports, UIDs: uids}, nil
}

// validRange reports whether s is a number or "lo-hi" with min <= lo <= hi <= max.
func validRange(s string, min, max uint64) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	l, err1 := strconv.ParseUint(lo, 10, 64)
	h, err2 := strconv.ParseUint(hi, 10, 64)
	return err1 == nil && err2 == nil && min <= l && l <= h && h <= max
}

// ResolveUID turns a user name or UID into a UID, as kumactl's --kuma-dp-user does; empty
// finds the default UID, else the user "kuma-dp", else uses the default UID.
func ResolveUID(userOrUID string) (string, error) {
	if userOrUID == "" {
		if _, err := user.LookupId(DefaultUID); err == nil {
			return DefaultUID, nil
		}
		if u, err := user.Lookup(defaultUsername); err == nil {
			return u.Uid, nil
		}
		return DefaultUID, nil
	}
	if _, err := strconv.ParseUint(userOrUID, 10, 32); err == nil {
		return userOrUID, nil
	}
	u, err := user.Lookup(userOrUID)
	if err != nil {
		return "", fmt.Errorf("kuma-dp user %q: %w", userOrUID, err)
	}
	return u.Uid, nil
}

// ResolvConfServers reads the nameservers of a resolv.conf document.
func ResolvConfServers(doc string) []netip.Addr {
	var out []netip.Addr
	for _, line := range strings.Split(doc, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}
