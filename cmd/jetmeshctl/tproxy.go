package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jetmesh/jetmesh/services/tproxy"
)

const installHelp = `Usage: jetmeshctl install transparent-proxy [flags]

Installs the iptables (and ip6tables) redirection of transparent proxying on this machine,
in the network namespace jetmeshctl runs in, as kumactl install transparent-proxy and
kuma-init do. Run it as root, next to the application, before jetmesh-dp starts:

  - outbound TCP of every user but the proxy's goes to the outbound port (15001),
  - inbound TCP goes to the inbound port (15006),
  - with --redirect-dns (queries to the resolv.conf servers) or --redirect-all-dns-traffic,
    DNS goes to the DNS proxy of jetmesh-dp (15053),
  - loopback, the proxy's own traffic (--kuma-dp-user) and the excluded ports, addresses
    and UIDs go where they were going.

Running it again replaces the earlier installation; 'jetmeshctl uninstall
transparent-proxy' removes it and leaves every other rule alone. --dry-run prints the rules
(iptables-restore input) and changes nothing.
`

const uninstallHelp = `Usage: jetmeshctl uninstall transparent-proxy [flags]

Removes the redirection 'jetmeshctl install transparent-proxy' installed (its KUMA_MESH_*
chains and the rules that lead to them), for IPv4 and IPv6, leaving every other rule.
`

// cmdInstall is "install transparent-proxy".
func cmdInstall(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	cfg := tproxy.DefaultConfig()
	fs := newFlagSet("install transparent-proxy", installHelp, &g, stdout)
	var dryRun bool
	var family, user, uid, inPorts, outPorts, inIPs, outIPs string
	var uidExclusions multiFlag
	outPort, inPort, dnsPort := uint(cfg.OutboundPort), uint(cfg.InboundPort), uint(cfg.DNSPort)
	fs.BoolVar(&dryRun, "dry-run", false, "print the rules instead of installing them")
	fs.StringVar(&family, "ip-family-mode", "dualstack", "dualstack or ipv4: the families to redirect")
	fs.UintVar(&outPort, "redirect-outbound-port", outPort, `outbound port of the proxy ("networking.transparentProxying.redirectPortOutbound")`)
	fs.BoolVar(&cfg.RedirectInbound, "redirect-inbound", true, "redirect inbound traffic (off for gateway proxies)")
	fs.UintVar(&inPort, "redirect-inbound-port", inPort, `inbound port of the proxy ("networking.transparentProxying.redirectPortInbound")`)
	fs.StringVar(&inPorts, "exclude-inbound-ports", "", "comma-separated inbound ports not redirected")
	fs.StringVar(&outPorts, "exclude-outbound-ports", "", "comma-separated outbound ports not redirected")
	fs.StringVar(&inIPs, "exclude-inbound-ips", "", "comma-separated sources (addresses or CIDRs) whose inbound traffic is not redirected")
	fs.StringVar(&outIPs, "exclude-outbound-ips", "", "comma-separated destinations (addresses or CIDRs) not redirected")
	fs.Var(&uidExclusions, "exclude-outbound-ports-for-uids", `"[tcp|udp|*:][ports:]uids" whose outbound traffic is not redirected, e.g. "tcp:22,80:1000-2000"; repeatable`)
	fs.StringVar(&user, "kuma-dp-user", "", "user name or UID the proxy runs as; its traffic is not redirected (default: UID 5678, else user kuma-dp)")
	fs.StringVar(&uid, "kuma-dp-uid", "", "UID the proxy runs as (same as --kuma-dp-user)")
	fs.BoolVar(&cfg.RedirectDNS, "redirect-dns", false, "redirect DNS queries to the resolv.conf servers to the DNS proxy")
	fs.BoolVar(&cfg.RedirectAllDNS, "redirect-all-dns-traffic", false, "redirect every DNS query to the DNS proxy")
	fs.UintVar(&dnsPort, "redirect-dns-port", dnsPort, "port of the DNS proxy")
	var skipSplit bool
	fs.BoolVar(&skipSplit, "skip-dns-conntrack-zone-split", false, "keep the proxy's and the application's DNS in one conntrack zone")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if pos[0] != "transparent-proxy" {
		return usagef("install takes transparent-proxy, got %q", pos[0])
	}
	cfg.ConntrackZoneSplit = !skipSplit
	for name, p := range map[string]struct {
		v   uint
		dst *uint16
	}{"redirect-outbound-port": {outPort, &cfg.OutboundPort}, "redirect-inbound-port": {inPort, &cfg.InboundPort},
		"redirect-dns-port": {dnsPort, &cfg.DNSPort}} {
		if p.v == 0 || p.v > 65535 {
			return usagef("--%s %d: want 1..65535", name, p.v)
		}
		*p.dst = uint16(p.v)
	}
	switch family {
	case "dualstack":
	case "ipv4":
		cfg.IPv6 = false
	default:
		return usagef("--ip-family-mode %q: want dualstack or ipv4", family)
	}
	if cfg.ExcludeInboundPorts, err = tproxy.ParsePorts(inPorts); err != nil {
		return usagef("--exclude-inbound-ports: %v", err)
	}
	if cfg.ExcludeOutboundPorts, err = tproxy.ParsePorts(outPorts); err != nil {
		return usagef("--exclude-outbound-ports: %v", err)
	}
	if cfg.ExcludeInboundIPs, err = tproxy.ParsePrefixes(inIPs); err != nil {
		return usagef("--exclude-inbound-ips: %v", err)
	}
	if cfg.ExcludeOutboundIPs, err = tproxy.ParsePrefixes(outIPs); err != nil {
		return usagef("--exclude-outbound-ips: %v", err)
	}
	for _, x := range uidExclusions {
		e, err := tproxy.ParseUIDExclusion(x)
		if err != nil {
			return usagef("--exclude-outbound-ports-for-uids: %v", err)
		}
		cfg.ExcludeOutboundForUIDs = append(cfg.ExcludeOutboundForUIDs, e)
	}
	if uid != "" {
		user = uid
	}
	if cfg.UID, err = tproxy.ResolveUID(user); err != nil {
		return usagef("--kuma-dp-user: %v", err)
	}
	if cfg.RedirectDNS && !cfg.RedirectAllDNS {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return fmt.Errorf("--redirect-dns: %w", err)
		}
		if cfg.DNSServers = tproxy.ResolvConfServers(string(b)); len(cfg.DNSServers) == 0 {
			return fmt.Errorf("--redirect-dns: /etc/resolv.conf names no nameserver; use --redirect-all-dns-traffic")
		}
	}
	if dryRun {
		_, err := io.WriteString(stdout, tproxy.DryRun(cfg))
		return err
	}
	if err := tproxy.Install(ctx, tproxy.Exec, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "transparent proxy installed: outbound -> %d, inbound -> %s, DNS -> %s, proxy UID %s\n",
		cfg.OutboundPort, onOff(cfg.RedirectInbound, fmt.Sprint(cfg.InboundPort)),
		onOff(cfg.RedirectDNS || cfg.RedirectAllDNS, fmt.Sprint(cfg.DNSPort)), cfg.UID)
	return nil
}

// cmdUninstall is "uninstall transparent-proxy".
func cmdUninstall(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("uninstall transparent-proxy", uninstallHelp, &g, stdout)
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if pos[0] != "transparent-proxy" {
		return usagef("uninstall takes transparent-proxy, got %q", pos[0])
	}
	if err := tproxy.UninstallAll(ctx, tproxy.Exec); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "transparent proxy uninstalled")
	return nil
}

func onOff(on bool, v string) string {
	if on {
		return v
	}
	return "off"
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ";") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
