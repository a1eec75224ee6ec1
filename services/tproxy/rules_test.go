package tproxy

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", os.Getenv("UPDATE_GOLDEN") == "1", "rewrite testdata/*.golden")

func mustUIDExclusion(t *testing.T, s string, p Protocol) UIDExclusion {
	t.Helper()
	ex, err := ParseUIDExclusion(s, p)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// goldenCases are the configurations of the golden files; TestNetnsGoldenConfigsApply also
// installs each of them for real.
func goldenCases(t *testing.T) map[string]func(c *Config) {
	return map[string]func(c *Config){
		"defaults": func(c *Config) {},
		"ports": func(c *Config) {
			c.RedirectOutboundPort, c.RedirectInboundPort = 16001, 16006
			c.ExcludeInboundPorts = []uint16{22, 9901}
			c.ExcludeOutboundPorts = []uint16{5432, 8080}
			c.KumaDPUID = 1001
		},
		"uids": func(c *Config) {
			c.ExcludeForUIDs = []UIDExclusion{
				mustUIDExclusion(t, "53,3000-5000:106-108", ProtocolAny),
				mustUIDExclusion(t, "443:1234", ProtocolTCP),
				mustUIDExclusion(t, "53:1234", ProtocolUDP),
				mustUIDExclusion(t, "4321", ProtocolAny),
			}
		},
		"ips": func(c *Config) {
			c.ExcludeInboundIPs = mustPrefixes(t, "10.0.0.1,192.168.0.0/24,fd00::/8")
			c.ExcludeOutboundIPs = mustPrefixes(t, "172.16.0.0/12,fe80::1")
		},
		"dns-servers": func(c *Config) {
			c.RedirectDNS = true
			c.DNSServers = []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00::a")}
		},
		"dns-all": func(c *Config) {
			c.RedirectDNS, c.RedirectAllDNS, c.RedirectDNSPort = true, true, 25053
		},
		"no-inbound": func(c *Config) { c.RedirectInbound = false },
	}
}

func TestRulesGolden(t *testing.T) {
	for name, mod := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			mod(&c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			got := "### IPv4 ###\n" + Script(c, IPv4) + "\n### IPv6 ###\n" + Script(c, IPv6)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs (-golden +got), rerun with -update if intended:\n%s", path, diff)
			}
		})
	}
}

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseUIDExclusion(t *testing.T) {
	for _, tc := range []struct {
		in    string
		proto Protocol
		want  UIDExclusion
		err   string
	}{
		{in: "53,3000-5000:106-108", want: UIDExclusion{Ports: []string{"53", "3000:5000"}, UIDs: "106-108"}},
		{in: "tcp:443:1234", want: UIDExclusion{Protocol: ProtocolTCP, Ports: []string{"443"}, UIDs: "1234"}},
		{in: "udp:*:0", want: UIDExclusion{Protocol: ProtocolUDP, UIDs: "0"}},
		{in: "*:*:7", want: UIDExclusion{UIDs: "7"}},
		{in: "443:1234", proto: ProtocolTCP, want: UIDExclusion{Protocol: ProtocolTCP, Ports: []string{"443"}, UIDs: "1234"}},
		{in: "1234", want: UIDExclusion{UIDs: "1234"}},
		{in: "tcp:443:1234", proto: ProtocolUDP, err: "already udp"},
		{in: "sctp:1:2", err: "protocol"},
		{in: "70000:1", err: "ports"},
		{in: "5-3:1", err: "ports"},
		{in: "80:x", err: "uids"},
		{in: "1:2:3:4", err: "want [protocol:]ports:uids"},
	} {
		got, err := ParseUIDExclusion(tc.in, tc.proto)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseUIDExclusion(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseUIDExclusion(%q): %v", tc.in, err)
		default:
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseUIDExclusion(%q) (-want +got):\n%s", tc.in, diff)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.RedirectDNS = true
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "no DNS servers") {
		t.Errorf("DNS without servers: %v", err)
	}
	c = DefaultConfig()
	c.RedirectInboundPort = c.RedirectOutboundPort
	if err := c.Validate(); err == nil {
		t.Error("equal inbound and outbound ports validated")
	}
	if _, err := ParsePorts("80,0"); err == nil {
		t.Error("port 0 parsed")
	}
	if p, err := ParsePrefixes("10.1.2.3, fd00::1/64"); err != nil || p[0].String() != "10.1.2.3/32" || p[1].String() != "fd00::/64" {
		t.Errorf("ParsePrefixes = %v, %v", p, err)
	}
}

// TestRemovalFindsOnlyOurs checks what uninstall deletes against an iptables-save with foreign
// rules around ours, including a kumactl-style jump without our comment.
func TestRemovalFindsOnlyOurs(t *testing.T) {
	saved := `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER_OUTPUT - [0:0]
:KUMA_MESH_INBOUND - [0:0]
:KUMA_MESH_OUTBOUND - [0:0]
-A PREROUTING -p tcp -j KUMA_MESH_INBOUND
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A OUTPUT -p tcp -m owner --uid-owner 7 -m comment --comment "kuma/mesh/transparent/proxy: skip" -j RETURN
-A OUTPUT -p udp -m udp --dport 53 -m comment --comment "jetmesh/tproxy: redirect DNS" -j REDIRECT --to-ports 15053
-A KUMA_MESH_OUTBOUND -j RETURN
COMMIT
`
	want := []string{
		"-D PREROUTING -p tcp -j KUMA_MESH_INBOUND\n",
		"-D OUTPUT -p tcp -m owner --uid-owner 7 -m comment --comment \"kuma/mesh/transparent/proxy: skip\" -j RETURN\n",
		"-D OUTPUT -p udp -m udp --dport 53 -m comment --comment \"jetmesh/tproxy: redirect DNS\" -j REDIRECT --to-ports 15053\n",
		"-F KUMA_MESH_INBOUND\n", "-F KUMA_MESH_OUTBOUND\n", "-X KUMA_MESH_INBOUND\n", "-X KUMA_MESH_OUTBOUND\n",
	}
	if diff := cmp.Diff(want, removal(saved, true)); diff != "" {
		t.Errorf("removal (-want +got):\n%s", diff)
	}
}

func TestParseResolvConf(t *testing.T) {
	got := ParseResolvConf("# comment\nsearch svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:5\n")
	want := []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00::a")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("ParseResolvConf (-want +got):\n%s", diff)
	}
}
