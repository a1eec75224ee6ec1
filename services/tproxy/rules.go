package tproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Family is an IP family: iptables (IPv4) or ip6tables (IPv6).
type Family int

// The two families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// localhost is what only the local host reaches; the proxy's inbound passthrough cluster binds
// its upstream connections to passthroughSource (Kuma's 127.0.0.6 and ::6) so that traffic to
// the application on the loopback is told apart from the application's own.
func (f Family) localhost() string {
	if f == IPv6 {
		return "::1/128"
	}
	return "127.0.0.1/32"
}

func (f Family) passthroughSource() string {
	if f == IPv6 {
		return "::6/128"
	}
	return "127.0.0.6/32"
}

func (f Family) has(a netip.Addr) bool { return a.Unmap().Is6() == (f == IPv6) }

// Rules is the nat table rules of c for one family, in iptables-restore syntax without the
// table header and COMMIT: chain declarations, then rules. Rules in the built-in chains carry a
// comment starting with commentPrefix; Uninstall removes exactly those and our chains.
//
// Outbound (OUTPUT): UID and address exclusions and DNS come first, inserted at the top so no
// earlier rule redirects what is excluded; the jump to KUMA_MESH_OUTBOUND is appended, as Kuma
// does. Inbound (PREROUTING): TCP jumps to KUMA_MESH_INBOUND.
func Rules(c Config, f Family) []string {
	var out []string
	for _, ch := range ourChains {
		out = append(out, ":"+ch+" - [0:0]")
	}
	out = append(out, outputRules(c, f)...)
	out = append(out, rule("-A PREROUTING -p tcp", "redirect inbound TCP", "-j "+ChainMeshInbound))
	out = append(out, meshInbound(c, f)...)
	out = append(out, meshOutbound(c, f)...)
	out = append(out,
		"-A "+ChainMeshInboundRedirect+" -p tcp -j REDIRECT --to-ports "+port(c.RedirectInboundPort),
		"-A "+ChainMeshOutboundRedirect+" -p tcp -j REDIRECT --to-ports "+port(c.RedirectOutboundPort),
	)
	return out
}

// rule is a built-in chain's rule with our comment, which is how we find it again.
func rule(match, why, target string) string {
	return fmt.Sprintf("%s -m comment --comment %q %s", match, commentPrefix+": "+why, target)
}

func outputRules(c Config, f Family) []string {
	var inserted []string
	for _, ex := range c.ExcludeForUIDs {
		protos := []Protocol{ex.Protocol}
		if ex.Protocol == ProtocolAny && len(ex.Ports) > 0 {
			protos = []Protocol{ProtocolTCP, ProtocolUDP} // a port match needs a protocol
		}
		for _, p := range protos {
			var m []string
			if p != ProtocolAny {
				m = append(m, "-p "+string(p))
			}
			if len(ex.Ports) > 0 {
				m = append(m, "-m multiport --dports "+strings.Join(ex.Ports, ","))
			}
			m = append(m, "-m owner --uid-owner "+ex.UIDs)
			inserted = append(inserted, rule(strings.Join(m, " "), "exclude uids "+ex.UIDs, "-j RETURN"))
		}
	}
	for _, p := range c.ExcludeOutboundIPs {
		if f.has(p.Addr()) {
			inserted = append(inserted, rule("-d "+p.String(), "exclude outbound address", "-j RETURN"))
		}
	}
	if dsts := dnsDestinations(c, f); c.RedirectDNS && len(dsts) > 0 {
		// The proxy's own queries go to the real servers (it is the resolver's upstream).
		inserted = append(inserted, rule("-p udp --dport 53 -m owner --uid-owner "+uid(c.KumaDPUID),
			"DNS of the proxy itself", "-j RETURN"))
		for _, dst := range dsts {
			inserted = append(inserted, rule(dst+"-p udp --dport 53", "redirect DNS",
				"-j REDIRECT --to-ports "+port(c.RedirectDNSPort)))
		}
	}
	out := make([]string, 0, len(inserted)+1)
	for i, r := range inserted {
		out = append(out, fmt.Sprintf("-I OUTPUT %d %s", i+1, r))
	}
	return append(out, rule("-A OUTPUT -p tcp", "redirect outbound TCP", "-j "+ChainMeshOutbound))
}

// dnsDestinations are the "-d ADDR " matches of DNS redirection: none (every address) with
// RedirectAllDNS, else one per configured server of this family. A family without servers gets
// no DNS redirect rule.
func dnsDestinations(c Config, f Family) []string {
	if c.RedirectAllDNS {
		return []string{""}
	}
	var out []string
	for _, a := range c.DNSServers {
		if f.has(a) {
			a = a.Unmap()
			out = append(out, "-d "+netip.PrefixFrom(a, a.BitLen()).String()+" ")
		}
	}
	return out
}

func meshInbound(c Config, f Family) []string {
	ch := "-A " + ChainMeshInbound + " "
	if !c.RedirectInbound {
		return []string{ch + "-p tcp -j RETURN"}
	}
	var out []string
	for _, p := range c.ExcludeInboundIPs {
		if f.has(p.Addr()) {
			out = append(out, ch+"-s "+p.String()+" -j RETURN")
		}
	}
	for _, p := range c.ExcludeInboundPorts {
		out = append(out, ch+"-p tcp --dport "+port(p)+" -j RETURN")
	}
	return append(out, ch+"-p tcp -j "+ChainMeshInboundRedirect)
}

func meshOutbound(c Config, f Family) []string {
	ch := "-A " + ChainMeshOutbound + " "
	dp := uid(c.KumaDPUID)
	var out []string
	for _, p := range c.ExcludeOutboundPorts {
		out = append(out, ch+"-p tcp --dport "+port(p)+" -j RETURN")
	}
	out = append(out,
		// The inbound passthrough's connections to the application (from 127.0.0.6) are done.
		ch+"-s "+f.passthroughSource()+" -o lo -j RETURN",
		// The proxy calling a local non-loopback address (its own service through the mesh)
		// enters as inbound would.
		ch+"-p tcp -o lo ! -d "+f.localhost()+" -m owner --uid-owner "+dp+" -j "+ChainMeshInboundRedirect,
		// Applications talking to their own host over the loopback stay direct.
		ch+"-p tcp -o lo -m owner ! --uid-owner "+dp+" -j RETURN",
		// Everything else the proxy sends is the upstream side of a redirected connection.
		ch+"-m owner --uid-owner "+dp+" -j RETURN",
	)
	if c.RedirectDNS {
		for _, dst := range dnsDestinations(c, f) {
			out = append(out, ch+dst+"-p tcp --dport 53 -j REDIRECT --to-ports "+port(c.RedirectDNSPort))
		}
	}
	return append(out,
		ch+"-d "+f.localhost()+" -j RETURN",
		ch+"-j "+ChainMeshOutboundRedirect,
	)
}

func port(p uint16) string { return strconv.Itoa(int(p)) }
func uid(u uint32) string  { return strconv.FormatUint(uint64(u), 10) }

// Script is c's rules for one family as a complete iptables-restore input for a clean nat table
// (what --dry-run prints).
func Script(c Config, f Family) string {
	var b strings.Builder
	b.WriteString("*nat\n")
	for _, l := range Rules(c, f) {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
