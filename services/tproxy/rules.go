package tproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Chain names (Kuma's).
const (
	ChainInbound          = "KUMA_MESH_INBOUND"
	ChainInboundRedirect  = "KUMA_MESH_INBOUND_REDIRECT"
	ChainOutbound         = "KUMA_MESH_OUTBOUND"
	ChainOutboundRedirect = "KUMA_MESH_OUTBOUND_REDIRECT"
	chainPrefix           = "KUMA_MESH_"
)

// Comment marks every rule installed into a built-in chain, so Uninstall removes exactly
// those and leaves everyone else's rules alone.
const Comment = "jetmesh/transparent-proxy"

// conntrack zones of Kuma's DNS split: 1 for the proxy's upstream queries, 2 for the
// application's.
const (
	zoneProxyDNS = "1"
	zoneAppDNS   = "2"
)

// Family is an IP family's rules: IPv4 (iptables) or IPv6 (ip6tables).
type Family struct {
	IPv6 bool
}

func (f Family) loopback() string {
	if f.IPv6 {
		return "::1/128"
	}
	return "127.0.0.1/32"
}

// passthrough is where the proxy's inbound passthrough cluster connects from (Kuma's
// 127.0.0.6 / ::6): such traffic must not come back to the proxy.
func (f Family) passthrough() string {
	if f.IPv6 {
		return "::6/128"
	}
	return "127.0.0.6/32"
}

func (f Family) matches(p netip.Prefix) bool { return p.Addr().Is6() == f.IPv6 }

// Rules returns the iptables-restore input that installs cfg for one family: the KUMA_MESH_*
// chains and the jumps into them from PREROUTING and OUTPUT (nat), plus the conntrack zones
// of the DNS split (raw). It is meant for `iptables-restore --noflush` after Uninstall has
// removed an earlier installation, which makes installing idempotent.
func Rules(cfg Config, f Family) string {
	var raw, nat []string
	mark := `-m comment --comment "` + Comment + `"`
	dnsRedirect := cfg.RedirectDNS || cfg.RedirectAllDNS
	dnsDst := func() []string { // the destinations whose DNS is captured
		if cfg.RedirectAllDNS {
			return []string{""}
		}
		var out []string
		for _, s := range cfg.DNSServers {
			if s.Is6() == f.IPv6 {
				out = append(out, " -d "+netip.PrefixFrom(s, s.BitLen()).String())
			}
		}
		return out
	}()
	if dnsRedirect && len(dnsDst) == 0 {
		dnsRedirect = false // no resolver of this family to capture
	}
	dnsPort := strconv.Itoa(int(cfg.DNSPort))

	if dnsRedirect && cfg.ConntrackZoneSplit {
		for _, d := range dnsDst {
			raw = append(raw,
				fmt.Sprintf("-A OUTPUT -p udp%s --dport 53 -m owner --uid-owner %s %s -j CT --zone %s", d, cfg.UID, mark, zoneProxyDNS),
				fmt.Sprintf("-A OUTPUT -p udp --sport %s -m owner --uid-owner %s %s -j CT --zone %s", dnsPort, cfg.UID, mark, zoneAppDNS),
				fmt.Sprintf("-A OUTPUT -p udp%s --dport 53 %s -j CT --zone %s", d, mark, zoneAppDNS),
				fmt.Sprintf("-A PREROUTING -p udp%s --sport 53 %s -j CT --zone %s", strings.Replace(d, "-d", "-s", 1), mark, zoneProxyDNS))
		}
	}

	nat = append(nat, ":"+ChainInbound+" - [0:0]", ":"+ChainInboundRedirect+" - [0:0]",
		":"+ChainOutbound+" - [0:0]", ":"+ChainOutboundRedirect+" - [0:0]")
	if cfg.RedirectInbound {
		nat = append(nat, fmt.Sprintf("-A PREROUTING -p tcp %s -j %s", mark, ChainInbound))
	}
	// Built-in OUTPUT: the UID exclusions and the application's DNS come first.
	var outputFirst []string
	for _, x := range cfg.ExcludeOutboundForUIDs {
		for _, proto := range protocols(x.Protocol) {
			outputFirst = append(outputFirst, fmt.Sprintf("-p %s -m multiport --dports %s -m owner --uid-owner %s %s -j RETURN",
				proto, x.Ports, x.UIDs, mark))
		}
	}
	if dnsRedirect {
		for _, d := range dnsDst {
			outputFirst = append(outputFirst,
				fmt.Sprintf("-p udp%s --dport 53 -m owner --uid-owner %s %s -j RETURN", d, cfg.UID, mark),
				fmt.Sprintf("-p udp%s --dport 53 %s -j REDIRECT --to-ports %s", d, mark, dnsPort))
		}
	}
	for i, r := range outputFirst {
		nat = append(nat, fmt.Sprintf("-I OUTPUT %d %s", i+1, r))
	}
	nat = append(nat, fmt.Sprintf("-A OUTPUT -p tcp %s -j %s", mark, ChainOutbound))

	// Inbound: excluded ports and sources return; the rest goes to the inbound port.
	for _, p := range cfg.ExcludeInboundPorts {
		nat = append(nat, fmt.Sprintf("-A %s -p tcp --dport %d -j RETURN", ChainInbound, p))
	}
	for _, p := range cfg.ExcludeInboundIPs {
		if f.matches(p) {
			nat = append(nat, fmt.Sprintf("-A %s -s %s -j RETURN", ChainInbound, p))
		}
	}
	nat = append(nat, fmt.Sprintf("-A %s -p tcp -j %s", ChainInbound, ChainInboundRedirect))

	// Outbound, in Kuma's order: the inbound passthrough's own connections; the proxy
	// talking to its own inbound through loopback goes to the inbound port; other loopback
	// traffic and the proxy's own traffic return; then exclusions; then the outbound port.
	nat = append(nat,
		fmt.Sprintf("-A %s -s %s -o lo -j RETURN", ChainOutbound, f.passthrough()),
		fmt.Sprintf("-A %s -p tcp -o lo ! -d %s -m owner --uid-owner %s -j %s", ChainOutbound, f.loopback(), cfg.UID, ChainInboundRedirect),
		fmt.Sprintf("-A %s -p tcp -o lo -m owner ! --uid-owner %s -j RETURN", ChainOutbound, cfg.UID),
		fmt.Sprintf("-A %s -m owner --uid-owner %s -j RETURN", ChainOutbound, cfg.UID))
	if dnsRedirect {
		for _, d := range dnsDst {
			nat = append(nat, fmt.Sprintf("-A %s -p tcp%s --dport 53 -j REDIRECT --to-ports %s", ChainOutbound, d, dnsPort))
		}
	}
	for _, p := range cfg.ExcludeOutboundPorts {
		nat = append(nat, fmt.Sprintf("-A %s -p tcp --dport %d -j RETURN", ChainOutbound, p))
	}
	for _, p := range cfg.ExcludeOutboundIPs {
		if f.matches(p) {
			nat = append(nat, fmt.Sprintf("-A %s -d %s -j RETURN", ChainOutbound, p))
		}
	}
	nat = append(nat,
		fmt.Sprintf("-A %s -d %s -j RETURN", ChainOutbound, f.loopback()),
		fmt.Sprintf("-A %s -j %s", ChainOutbound, ChainOutboundRedirect),
		fmt.Sprintf("-A %s -p tcp -j REDIRECT --to-ports %d", ChainInboundRedirect, cfg.InboundPort),
		fmt.Sprintf("-A %s -p tcp -j REDIRECT --to-ports %d", ChainOutboundRedirect, cfg.OutboundPort))

	var b strings.Builder
	if len(raw) > 0 {
		b.WriteString("*raw\n")
		for _, r := range raw {
			b.WriteString(r + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	b.WriteString("*nat\n")
	for _, r := range nat {
		b.WriteString(r + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

func protocols(p string) []string {
	if p == "" {
		return []string{"tcp", "udp"}
	}
	return []string{p}
}

// Strip returns an iptables-save document without this package's rules: the KUMA_MESH_*
// chains and every rule that jumps into them or carries Comment. Restoring it (without
// --noflush) removes an installation and nothing else.
func Strip(saved string) string {
	var out []string
	for _, line := range strings.Split(saved, "\n") {
		switch {
		case strings.HasPrefix(line, ":"+chainPrefix),
			strings.HasPrefix(line, "-A "+chainPrefix),
			strings.Contains(line, Comment),
			strings.Contains(line, "-j "+chainPrefix):
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// Installed reports whether an iptables-save document holds an installation.
func Installed(saved string) bool {
	return strings.Contains(saved, ":"+ChainOutbound+" ") || strings.Contains(saved, Comment)
}
