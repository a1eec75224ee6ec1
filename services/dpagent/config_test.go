package dpagent

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The defaults are kuma-dp 2.14's (pkg/config/app/kuma-dp/config.go).
func TestDefaultsMatchKumaDP(t *testing.T) {
	c := DefaultConfig()
	if c.CPAddress != "https://localhost:5678" || c.DrainTime != 30*time.Second || c.ProxyType != "dataplane" ||
		c.BinaryPath != "envoy" || c.ReadinessPort != 9902 || c.RetryBackoff != 3*time.Second ||
		c.RetryMaxDuration != 5*time.Minute || c.EnvoyDNSPort != 15054 || c.LogLevel != "info" ||
		!c.StrictInboundPorts || !c.ReusePort || !c.IPv6Enabled || c.StopTimeout != 5*time.Second || c.AdminPort != 9901 {
		t.Errorf("defaults drifted: %+v", c)
	}
	if !c.DNSEnabled || c.DynamicConfigRefresh != time.Second {
		t.Errorf("DNS defaults drifted: %+v", c)
	}
	// Deliberately not kuma-dp's 0 (which means "run CoreDNS"): jetmesh-dp has no CoreDNS,
	// so the embedded proxy takes the port the transparent proxy redirects DNS to.
	if c.DNSProxyPort != 15053 || c.DNSMeshDomain != "mesh" || c.DNSReadyTimeout != 15*time.Second {
		t.Errorf("jetmesh DNS defaults drifted: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestDNSSettings(t *testing.T) {
	env := map[string]string{
		"KUMA_DNS_ENABLED":        "false",
		"KUMA_DNS_PROXY_PORT":     "5353",
		"KUMA_DNS_ENVOY_DNS_PORT": "5354",
		"JETMESH_DNS_UPSTREAMS":   "10.0.0.2:53, [fd00::2]:53",
		"JETMESH_DNS_MESH_DOMAIN": "-",
		"KUMA_DATAPLANE_RUNTIME_DYNAMIC_CONFIGURATION_REFRESH_INTERVAL": "250ms",
	}
	c := DefaultConfig()
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.DNSEnabled || c.DNSProxyPort != 5353 || c.EnvoyDNSPort != 5354 || c.DNSMeshDomain != "-" ||
		c.DynamicConfigRefresh != 250*time.Millisecond || strings.Join(c.dnsUpstreams(), " ") != "10.0.0.2:53 [fd00::2]:53" {
		t.Errorf("config %+v", c)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--dns-enabled", "--dns-proxy-port", "15053", "--dns-envoy-port=15054"}); err != nil {
		t.Fatal(err)
	}
	if !c.DNSEnabled || c.DNSProxyPort != 15053 || c.EnvoyDNSPort != 15054 {
		t.Errorf("flags did not win: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"--dns-proxy-port":      func(c *Config) { c.DNSProxyPort = 70000 },
		"JETMESH_DNS_UPSTREAMS": func(c *Config) { c.DNSUpstreams = "10.0.0.2" },
		"REFRESH_INTERVAL":      func(c *Config) { c.DynamicConfigRefresh = 0 },
	} {
		bad := c
		mutate(&bad)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Where the DNS proxy listens, and whether at all, follows the proxy and its resource.
func TestDNSProxyAddresses(t *testing.T) {
	tp := &Resource{TransparentProxying: true, IPFamilyMode: "IPv4"}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		res    *Resource
		want   string
	}{
		{"transparent IPv4", func(*Config) {}, tp, "[127.0.0.1:15053]"},
		{"indirect lifecycle", func(c *Config) { c.IPv6Enabled = false }, nil, "[127.0.0.1:15053]"},
		{"no transparent proxying", func(*Config) {}, &Resource{}, "[]"},
		{"DNS off", func(c *Config) { c.DNSEnabled = false }, tp, "[]"},
		{"port 0", func(c *Config) { c.DNSProxyPort = 0 }, tp, "[]"},
		{"zone ingress", func(c *Config) { c.ProxyType = "ingress" }, nil, "[]"},
		{"zone egress", func(c *Config) { c.ProxyType = "egress" }, nil, "[]"},
	} {
		c := DefaultConfig()
		tc.mutate(&c)
		addrs, reason := c.dnsProxyAddresses(tc.res)
		if got := fmt.Sprint(addrs); got != tc.want || (addrs == nil) != (reason != "") {
			t.Errorf("%s: %s (%q), want %s", tc.name, got, reason, tc.want)
		}
		if has := slices.Contains(c.features(tc.res), "feature-embedded-dns"); has != (addrs != nil) {
			t.Errorf("%s: feature-embedded-dns announced %v, proxy runs %v", tc.name, has, addrs != nil)
		}
	}
	if hasLoopbackIPv6() {
		c := DefaultConfig()
		if addrs, _ := c.dnsProxyAddresses(&Resource{TransparentProxying: true, IPFamilyMode: "DualStack"}); fmt.Sprint(addrs) != "[127.0.0.1:15053 [::1]:15053]" {
			t.Errorf("dual stack: %v", addrs)
		}
	}
}

func TestTransparentProxyingFromTheResource(t *testing.T) {
	tpl := seedTemplate + "  transparentProxying:\n    redirectPortInbound: 15006\n    redirectPortOutbound: 15001\n    ipFamilyMode: IPv4\n"
	c := DefaultConfig()
	c.Resource, c.ResourceVars = tpl, map[string]string{"name": "a", "address": "10.0.0.1"}
	r, err := LoadResource(&c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.TransparentProxying || r.IPFamilyMode != "IPv4" {
		t.Errorf("resource %+v", r)
	}
	c.Resource = seedTemplate
	if r, err := LoadResource(&c, nil); err != nil || r.TransparentProxying {
		t.Errorf("seed without transparentProxying: %+v %v", r, err)
	}
}

func TestEnvThenFlags(t *testing.T) {
	env := map[string]string{
		"KUMA_CONTROL_PLANE_URL":               "https://cp.example:5678",
		"KUMA_CONTROL_PLANE_CA_CERT_FILE":      "/etc/ca.pem",
		"KUMA_DATAPLANE_RUNTIME_TOKEN_PATH":    "/var/token",
		"KUMA_DATAPLANE_RUNTIME_RESOURCE_PATH": "/etc/dp.yaml",
		"KUMA_DATAPLANE_DRAIN_TIME":            "10s",
		"KUMA_DATAPLANE_RUNTIME_CONFIG_DIR":    "/old",
		"KUMA_DATAPLANE_RUNTIME_WORK_DIR":      "/new",
		"KUMA_CONTROL_PLANE_TLS_SKIP_VERIFY":   "true",
		"KUMA_READINESS_PORT":                  "9999",
		"KUMA_DATAPLANE_PROXY_TYPE":            "ingress",
	}
	c := DefaultConfig()
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--drain-time=5s", "-v", "name=a", "--dataplane-var", "address=b", "--binary-path", "/opt/envoy", "--skip-verify=false"}); err != nil {
		t.Fatal(err)
	}
	if c.CPAddress != "https://cp.example:5678" || c.CACertFile != "/etc/ca.pem" || c.TokenPath != "/var/token" ||
		c.ResourcePath != "/etc/dp.yaml" || c.DrainTime != 5*time.Second || c.WorkDir != "/new" || c.SkipVerify ||
		c.ReadinessPort != 9999 || c.ProxyType != "ingress" || c.BinaryPath != "/opt/envoy" ||
		c.ResourceVars["name"] != "a" || c.ResourceVars["address"] != "b" {
		t.Errorf("config %+v", c)
	}
	if err := c.LoadEnv(func(k string) (string, bool) { return "soon", k == "KUMA_DATAPLANE_DRAIN_TIME" }); err == nil ||
		!strings.Contains(err.Error(), "KUMA_DATAPLANE_DRAIN_TIME") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"cp address", func(c *Config) { c.CPAddress = "localhost:5678" }, "--cp-address"},
		{"proxy type", func(c *Config) { c.ProxyType = "gateway" }, "--proxy-type"},
		{"drain time", func(c *Config) { c.DrainTime = 0 }, "--drain-time"},
		{"both resources", func(c *Config) { c.Resource, c.ResourcePath = "x", "y" }, "mutually exclusive"},
		{"name with file", func(c *Config) { c.ResourcePath, c.Name = "y", "n" }, "--name and --mesh cannot be specified"},
		{"log level", func(c *Config) { c.LogLevel = "warn" }, "--log-level"},
		{"envoy log level", func(c *Config) { c.EnvoyLogLevel = "loud" }, "--envoy-log-level"},
		{"xds variant", func(c *Config) { c.XDSTransportProtocolVariant = "REST" }, "TRANSPORT_PROTOCOL_VARIANT"},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig()
	if err := c.validateIdentity(); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("no name: %v", err)
	}
	c.Name = "n"
	if err := c.validateIdentity(); err == nil || !strings.Contains(err.Error(), "--mesh") {
		t.Errorf("no mesh: %v", err)
	}
	c.ProxyType = "ingress"
	if err := c.validateIdentity(); err != nil {
		t.Errorf("zone ingress needs no mesh: %v", err)
	}
}

func TestLoadResource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dp.yaml")
	if err := os.WriteFile(file, []byte(seedTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.ResourcePath, c.ResourceVars = file, map[string]string{"name": "dp-1", "address": "10.0.0.1"}
	r, err := LoadResource(&c, nil)
	if err != nil || r.Name != "dp-1" || r.Mesh != "default" || r.Type != "Dataplane" {
		t.Fatalf("%+v %v", r, err)
	}
	c.ResourceVars = nil
	if _, err := LoadResource(&c, nil); err == nil || !strings.Contains(err.Error(), `"name", "address"`) ||
		!strings.Contains(err.Error(), file) {
		t.Errorf("missing vars: %v", err)
	}
	c.ResourcePath = "-"
	c.ResourceVars = map[string]string{"name": "dp-2", "address": "10.0.0.2"}
	if r, err := LoadResource(&c, strings.NewReader(seedTemplate)); err != nil || r.Name != "dp-2" {
		t.Errorf("stdin: %+v %v", r, err)
	}
	c.ProxyType = "ingress"
	if _, err := LoadResource(&c, strings.NewReader(seedTemplate)); err == nil || !strings.Contains(err.Error(), `expected ZoneIngress`) {
		t.Errorf("type mismatch: %v", err)
	}
	c = DefaultConfig()
	c.Resource = "type: ZoneIngress\nname: zi-1\nnetworking:\n  port: 10001\n"
	c.ProxyType = "ingress"
	if r, err := LoadResource(&c, io.MultiReader()); err != nil || r.Name != "zi-1" || r.Mesh != "" {
		t.Errorf("inline ingress: %+v %v", r, err)
	}
	c = DefaultConfig()
	if r, err := LoadResource(&c, nil); r != nil || err != nil {
		t.Errorf("no resource: %+v %v", r, err)
	}
}

// testJWT has the shape of a data plane token (header {"alg":"RS256","kid":"1","typ":"JWT"}).
const testJWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEiLCJ0eXAiOiJKV1QifQ.eyJOYW1lIjoiZHAtMSJ9.c2ln"

func TestPrepareToken(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConfig()
	c.Name, c.Token = "dp-1", testJWT
	if err := c.prepareToken(dir); err != nil || c.TokenPath != filepath.Join(dir, "dp-1") {
		t.Fatalf("inline token: %v, path %q", err, c.TokenPath)
	}
	for content, want := range map[string]string{
		"\n" + testJWT + "\n": "",
		"   \n":               "the token is empty",
		"a.b":                 "not a JWT",
		"a\nb.c.d":            "line breaks",
		"notb64!.e30.sig":     "header is not base64url JSON",
	} {
		c := DefaultConfig()
		c.TokenPath = filepath.Join(dir, "token")
		if err := os.WriteFile(c.TokenPath, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		err := c.prepareToken(dir)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
	c = DefaultConfig()
	c.TokenPath = filepath.Join(dir, "missing")
	if err := c.prepareToken(dir); err == nil || !strings.Contains(err.Error(), "--dataplane-token-file") {
		t.Errorf("missing file: %v", err)
	}
}
