package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/jetmesh/jetmesh/services/tproxy"
)

const installHelp = `Usage: jetmeshctl install transparent-proxy [flags]

Installs the iptables rules of Kuma's transparent proxy on this host (run as root, in the
network namespace of the workload): outbound TCP goes to the data plane proxy's outbound port
(15001), inbound TCP to its inbound port (15006) and, with --redirect-dns, DNS (UDP and TCP
port 53) to its DNS resolver (15053). Traffic of the proxy's own user (--kuma-dp-user) is never
redirected. Installing again replaces the earlier rules. IPv6 rules are installed with
ip6tables too unless --ip-family-mode ipv4. See docs/transparent-proxy.md.
`

const uninstallHelp = `Usage: jetmeshctl uninstall transparent-proxy [flags]

Removes the transparent proxy's chains (KUMA_MESH_*) and the rules that lead to them, for IPv4
and IPv6; other iptables rules stay.
`

// stringList is a flag that may be repeated; each value may also hold a comma-separated list.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdInstall(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("install", installHelp, &g, stdout)
	def := tproxy.DefaultConfig()
	outPort := fs.Uint("redirect-outbound-port", uint(def.RedirectOutboundPort), "outbound port redirected to the proxy (networking.transparentProxying.redirectPortOutbound)")
	inPort := fs.Uint("redirect-inbound-port", uint(def.RedirectInboundPort), "inbound port redirected to the proxy (networking.transparentProxying.redirectPortInbound)")
	inbound := fs.Bool("redirect-inbound", true, "redirect inbound traffic (false for gateways)")
	exclIn := fs.String("exclude-inbound-ports", "", "comma-separated inbound ports not redirected")
	exclOut := fs.String("exclude-outbound-ports", "", "comma-separated outbound ports not redirected")
	var exclInIPs, exclOutIPs, forUIDs, tcpForUIDs, udpForUIDs stringList
	fs.Var(&exclInIPs, "exclude-inbound-ips", "source addresses or CIDRs whose inbound traffic is not redirected (repeatable, comma-separated)")
	fs.Var(&exclOutIPs, "exclude-outbound-ips", "destination addresses or CIDRs not redirected (repeatable, comma-separated)")
	fs.Var(&forUIDs, "exclude-outbound-ports-for-uids", "[protocol:]ports:uids not redirected, e.g. 53,3000-5000:106-108 or tcp:443:1234 (repeatable)")
	fs.Var(&tcpForUIDs, "exclude-outbound-tcp-ports-for-uids", "ports:uids of TCP not redirected, as traffic.kuma.io/exclude-outbound-tcp-ports-for-uids (repeatable)")
	fs.Var(&udpForUIDs, "exclude-outbound-udp-ports-for-uids", "ports:uids of UDP not redirected, as traffic.kuma.io/exclude-outbound-udp-ports-for-uids (repeatable)")
	dpUser := fs.String("kuma-dp-user", "", `user name or UID the proxy runs as; its traffic is never redirected (default: user "kuma-dp" if it exists, else UID 5678)`)
	fs.StringVar(dpUser, "kuma-dp-uid", "", "the same as --kuma-dp-user (kept for older scripts)")
	dns := fs.Bool("redirect-dns", false, "redirect DNS to the nameservers of --resolv-conf to the proxy's resolver")
	allDNS := fs.Bool("redirect-all-dns-traffic", false, "redirect all DNS traffic, to any server, to the proxy's resolver")
	dnsPort := fs.Uint("redirect-dns-port", uint(def.RedirectDNSPort), "the port the proxy's DNS resolver listens on")
	resolvConf := fs.String("resolv-conf", "/etc/resolv.conf", "where --redirect-dns finds the nameservers")
	family := fs.String("ip-family-mode", "dualstack", "dualstack (iptables and ip6tables) or ipv4")
	backend := fs.String("iptables-backend", "auto", "auto (the system's iptables), nft or legacy")
	dryRun := fs.Bool("dry-run", false, "print the rules (iptables-restore input) instead of installing them")
	if err := parseTProxyArgs(fs, args); err != nil {
		return err
	}

	c := def
	c.RedirectInbound, c.RedirectDNS = *inbound, *dns || *allDNS
	c.RedirectAllDNS = *allDNS
	var err error
	for name, v := range map[string]struct {
		in  uint
		dst *uint16
	}{"redirect-outbound-port": {*outPort, &c.RedirectOutboundPort}, "redirect-inbound-port": {*inPort, &c.RedirectInboundPort},
		"redirect-dns-port": {*dnsPort, &c.RedirectDNSPort}} {
		if v.in == 0 || v.in > 65535 {
			return usagef("--%s %d: want 1-65535", name, v.in)
		}
		*v.dst = uint16(v.in)
	}
	if c.ExcludeInboundPorts, err = tproxy.ParsePorts(*exclIn); err != nil {
		return usagef("--exclude-inbound-ports: %v", err)
	}
	if c.ExcludeOutboundPorts, err = tproxy.ParsePorts(*exclOut); err != nil {
		return usagef("--exclude-outbound-ports: %v", err)
	}
	if c.ExcludeInboundIPs, err = tproxy.ParsePrefixes(strings.Join(exclInIPs, ",")); err != nil {
		return usagef("--exclude-inbound-ips: %v", err)
	}
	if c.ExcludeOutboundIPs, err = tproxy.ParsePrefixes(strings.Join(exclOutIPs, ",")); err != nil {
		return usagef("--exclude-outbound-ips: %v", err)
	}
	for _, set := range []struct {
		flag  string
		vals  stringList
		proto tproxy.Protocol
	}{{"exclude-outbound-ports-for-uids", forUIDs, tproxy.ProtocolAny},
		{"exclude-outbound-tcp-ports-for-uids", tcpForUIDs, tproxy.ProtocolTCP},
		{"exclude-outbound-udp-ports-for-uids", udpForUIDs, tproxy.ProtocolUDP}} {
		for _, v := range set.vals {
			ex, err := tproxy.ParseUIDExclusion(v, set.proto)
			if err != nil {
				return usagef("--%s: %v", set.flag, err)
			}
			c.ExcludeForUIDs = append(c.ExcludeForUIDs, ex)
		}
	}
	if c.KumaDPUID, err = kumaDPUID(*dpUser); err != nil {
		return usagef("--kuma-dp-user: %v", err)
	}
	switch *family {
	case "dualstack":
	case "ipv4":
		c.IPv6 = false
	default:
		return usagef("--ip-family-mode %q: want dualstack or ipv4", *family)
	}
	if c.RedirectDNS && !c.RedirectAllDNS {
		raw, err := os.ReadFile(*resolvConf)
		if err != nil {
			return fmt.Errorf("--redirect-dns: %w", err)
		}
		c.DNSServers = tproxy.ParseResolvConf(string(raw))
	}
	if err := c.Validate(); err != nil {
		return &usageError{msg: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	a, err := applier(*backend)
	if err != nil {
		return err
	}
	if *dryRun {
		for _, f := range a.Families(c) {
			fmt.Fprintf(stdout, "### %s ###\n%s\n", f, tproxy.Script(c, f))
		}
		return nil
	}
	if err := a.Install(ctx, c); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "transparent proxy installed (%s)\n", familyNames(a.Families(c)))
	return nil
}

func cmdUninstall(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("uninstall", uninstallHelp, &g, stdout)
	backend := fs.String("iptables-backend", "auto", "auto (the system's iptables), nft or legacy")
	if err := parseTProxyArgs(fs, args); err != nil {
		return err
	}
	a, err := applier(*backend)
	if err != nil {
		return err
	}
	if err := a.Uninstall(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "transparent proxy uninstalled")
	return nil
}

// parseTProxyArgs takes the one positional argument install and uninstall have.
func parseTProxyArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if pos[0] != "transparent-proxy" {
		return usagef("%s %q: only transparent-proxy", fs.Name(), pos[0])
	}
	return nil
}

func applier(backend string) (tproxy.Applier, error) {
	switch backend {
	case "auto":
		return tproxy.Applier{Binary: "iptables"}, nil
	case "nft", "legacy":
		return tproxy.Applier{Binary: "iptables-" + backend}, nil
	}
	return tproxy.Applier{}, usagef("--iptables-backend %q: want auto, nft or legacy", backend)
}

// kumaDPUID resolves --kuma-dp-user: a UID, a user name, or (empty) the user kuma-dp when it
// exists and Kuma's UID 5678 otherwise.
func kumaDPUID(v string) (uint32, error) {
	if v == "" {
		if u, err := user.Lookup("kuma-dp"); err == nil {
			v = u.Uid
		} else {
			return tproxy.DefaultKumaDPUID, nil
		}
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return uint32(n), nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, errors.New("user " + v + " has no numeric UID")
	}
	return uint32(n), nil
}

func familyNames(fs []tproxy.Family) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.String()
	}
	return strings.Join(names, ", ")
}
