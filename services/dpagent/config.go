// Package dpagent is the logic of jetmesh-dp, a kuma-dp compatible data plane agent: it reads
// the proxy's resource (rendering --dataplane-file templates), fetches the Envoy bootstrap
// from the control plane's POST /bootstrap, runs Envoy as a child process and drains it on
// shutdown. Everything is testable without Envoy.
package dpagent

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// Config is the agent's configuration. Settings carry kuma-dp's flag and KUMA_* variable
// names (pkg/config/app/kuma-dp in Kuma 2.14); see Settings.
type Config struct {
	CPAddress        string        // URL of the control plane's DP server
	CACert           string        // PEM CA for the control plane; wins over CACertFile
	CACertFile       string        // file with the PEM CA for the control plane
	SkipVerify       bool          // do not verify the control plane's certificate
	RetryBackoff     time.Duration // wait between bootstrap attempts
	RetryMaxDuration time.Duration // give up fetching the bootstrap after this long

	Name      string // indirect lifecycle: the Dataplane's name
	Mesh      string // indirect lifecycle: the Dataplane's mesh
	ProxyType string // dataplane, ingress or egress
	DrainTime time.Duration
	// ReadinessPort serves /ready on loopback (0 turns the reporter off).
	ReadinessPort uint32

	BinaryPath             string
	WorkDir                string // bootstrap.yaml goes here; empty uses a temporary directory
	Concurrency            uint32
	TokenPath              string
	Token                  string
	Resource               string            // inline resource template
	ResourcePath           string            // resource template file, "-" for stdin
	ResourceVars           map[string]string // values for the template
	LogLevel               string            // the agent's: off, info or debug
	EnvoyLogLevel          string            // empty inherits LogLevel
	EnvoyComponentLogLevel string
	// AdminPort is used to reach Envoy's admin only when the bootstrap has no admin address
	// (the control plane chooses the admin port: the resource's networking.admin.port or its
	// default, 9901).
	AdminPort uint32

	MetricsCertPath             string
	MetricsKeyPath              string
	BindOutbounds               bool
	XDSTransportProtocolVariant string // GRPC or DELTA_GRPC
	UnifiedResourceNaming       bool
	StrictInboundPorts          bool
	ReusePort                   bool
	IPv6Enabled                 bool
	SystemCaPath                string // empty: the first OS bundle found
	EnvoyDNSPort                uint32
	MaxMemoryBytes              uint64

	// DNSEnabled runs the embedded DNS proxy for Dataplanes with transparent proxying.
	DNSEnabled bool
	// DNSProxyPort is the embedded DNS proxy's port (kuma-dp: KUMA_DNS_PROXY_PORT, default 0
	// there because kuma-dp falls back to CoreDNS; jetmesh-dp has no CoreDNS, so 15053,
	// where the transparent proxy redirects DNS by default). 0 runs no DNS proxy.
	DNSProxyPort uint32
	// DNSUpstreams are comma-separated resolvers (host:port) for names outside the mesh;
	// empty uses /etc/resolv.conf.
	DNSUpstreams string
	// DNSMeshDomain is the domain whose unknown names get NXDOMAIN; "-" forwards them.
	DNSMeshDomain string
	// DNSReadyTimeout is how long /ready waits for the first DNS table before giving up
	// on it (kuma-dp: 15s), so a misconfigured control plane does not block deploys.
	DNSReadyTimeout time.Duration
	// DynamicConfigRefresh is how often the control plane's dynamic configuration (the DNS
	// table) is polled through Envoy.
	DynamicConfigRefresh time.Duration

	// StopTimeout is how long Envoy gets to exit after SIGTERM before SIGKILL (kuma-dp: 5s).
	StopTimeout time.Duration
}

// DefaultConfig returns kuma-dp 2.14's defaults.
func DefaultConfig() Config {
	return Config{
		CPAddress:          "https://localhost:5678",
		RetryBackoff:       3 * time.Second,
		RetryMaxDuration:   5 * time.Minute,
		ProxyType:          bootstrap.ProxyTypeDataplane,
		DrainTime:          30 * time.Second,
		ReadinessPort:      9902,
		BinaryPath:         "envoy",
		ResourceVars:       map[string]string{},
		LogLevel:           "info",
		AdminPort:          bootstrap.DefaultAdminPort,
		StrictInboundPorts: true,
		ReusePort:          true,
		IPv6Enabled:        true,
		EnvoyDNSPort:       15054,
		DNSEnabled:         true,
		DNSProxyPort:       15053,
		DNSMeshDomain:      "mesh",
		DNSReadyTimeout:    15 * time.Second,

		DynamicConfigRefresh: time.Second,
		StopTimeout:          5 * time.Second,
	}
}

var envoyLogLevels = []string{"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}

// Validate reports every problem, one line each.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if u, err := url.Parse(c.CPAddress); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("--cp-address %q: want http(s)://host:port, e.g. https://localhost:5678", c.CPAddress)
	}
	switch c.ProxyType {
	case bootstrap.ProxyTypeDataplane, bootstrap.ProxyTypeIngress, bootstrap.ProxyTypeEgress:
	default:
		bad("--proxy-type %q: use dataplane, ingress or egress", c.ProxyType)
	}
	if c.DrainTime <= 0 {
		bad("--drain-time must be positive")
	}
	if c.RetryBackoff <= 0 || c.RetryMaxDuration <= 0 {
		bad("KUMA_CONTROL_PLANE_RETRY_BACKOFF and KUMA_CONTROL_PLANE_RETRY_MAX_DURATION must be positive")
	}
	if c.BinaryPath == "" {
		bad("--binary-path must not be empty")
	}
	if c.ReadinessPort > 65535 || c.AdminPort == 0 || c.AdminPort > 65535 {
		bad("ports must be in [1, 65535] (KUMA_READINESS_PORT may be 0 to turn readiness off)")
	}
	if c.Resource != "" && c.ResourcePath != "" {
		bad("--dataplane and --dataplane-file are mutually exclusive")
	}
	if (c.Resource != "" || c.ResourcePath != "") && (c.Name != "" || c.Mesh != "") {
		bad("--name and --mesh cannot be specified when a dataplane definition is provided, mesh and name will be read from the dataplane definition")
	}
	switch c.XDSTransportProtocolVariant {
	case "", "GRPC", "DELTA_GRPC":
	default:
		bad("KUMA_DATAPLANE_RUNTIME_ENVOY_XDS_TRANSPORT_PROTOCOL_VARIANT %q: use GRPC or DELTA_GRPC", c.XDSTransportProtocolVariant)
	}
	switch c.LogLevel {
	case "off", "info", "debug":
	default:
		bad("--log-level %q: use off, info or debug", c.LogLevel)
	}
	if c.EnvoyLogLevel != "" && !contains(envoyLogLevels, c.EnvoyLogLevel) {
		bad("--envoy-log-level %q: use one of %s", c.EnvoyLogLevel, strings.Join(envoyLogLevels, ", "))
	}
	if c.StopTimeout <= 0 {
		bad("the stop timeout must be positive")
	}
	if c.DNSProxyPort > 65535 || c.EnvoyDNSPort > 65535 {
		bad("--dns-proxy-port and --dns-envoy-port must be in [0, 65535]")
	}
	for _, u := range c.dnsUpstreams() {
		if _, port, err := net.SplitHostPort(u); err != nil || port == "" {
			bad("JETMESH_DNS_UPSTREAMS %q: want host:port, e.g. 10.0.0.2:53", u)
		}
	}
	if c.DynamicConfigRefresh <= 0 {
		bad("KUMA_DATAPLANE_RUNTIME_DYNAMIC_CONFIGURATION_REFRESH_INTERVAL must be positive")
	}
	return errors.Join(errs...)
}

// validateIdentity checks name and mesh once the resource, if any, has supplied them.
func (c *Config) validateIdentity() error {
	if c.Name == "" {
		return errors.New("the proxy needs a name: pass --dataplane-file (or --dataplane) with a resource, or --name (KUMA_DATAPLANE_NAME)")
	}
	if c.Mesh == "" && c.ProxyType == bootstrap.ProxyTypeDataplane {
		return errors.New("a dataplane needs a mesh: pass --mesh (KUMA_DATAPLANE_MESH) or set mesh in the resource")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Setting is one configuration knob: its kuma-dp flag (empty when kuma-dp has only the
// variable), its environment variable and where it lands in Config.
type Setting struct {
	Flag  string
	Short string
	Env   string
	Usage string
	value func(c *Config) flag.Value
}

// Settings lists every flag and variable, in help order.
func Settings() []Setting {
	return []Setting{
		{Flag: "cp-address", Env: "KUMA_CONTROL_PLANE_URL", Usage: "URL of the control plane's DP server (default https://localhost:5678)", value: func(c *Config) flag.Value { return (*stringValue)(&c.CPAddress) }},
		{Flag: "ca-cert-file", Env: "KUMA_CONTROL_PLANE_CA_CERT_FILE", Usage: "CA certificate (PEM) that signed the control plane's certificate", value: func(c *Config) flag.Value { return (*stringValue)(&c.CACertFile) }},
		{Env: "KUMA_CONTROL_PLANE_CA_CERT", Usage: "the CA certificate itself (PEM); wins over the file", value: func(c *Config) flag.Value { return (*stringValue)(&c.CACert) }},
		{Flag: "skip-verify", Env: "KUMA_CONTROL_PLANE_TLS_SKIP_VERIFY", Usage: "do not verify the control plane's certificate (insecure; for development)", value: func(c *Config) flag.Value { return (*boolValue)(&c.SkipVerify) }},
		{Env: "KUMA_CONTROL_PLANE_RETRY_BACKOFF", Usage: "wait between bootstrap attempts (default 3s)", value: func(c *Config) flag.Value { return (*durationValue)(&c.RetryBackoff) }},
		{Env: "KUMA_CONTROL_PLANE_RETRY_MAX_DURATION", Usage: "give up fetching the bootstrap after (default 5m)", value: func(c *Config) flag.Value { return (*durationValue)(&c.RetryMaxDuration) }},
		{Flag: "dataplane-file", Short: "d", Env: "KUMA_DATAPLANE_RUNTIME_RESOURCE_PATH", Usage: "Dataplane/ZoneIngress/ZoneEgress template (YAML or JSON) to apply; - reads stdin", value: func(c *Config) flag.Value { return (*stringValue)(&c.ResourcePath) }},
		{Flag: "dataplane", Env: "KUMA_DATAPLANE_RUNTIME_RESOURCE", Usage: "the template inline", value: func(c *Config) flag.Value { return (*stringValue)(&c.Resource) }},
		{Flag: "dataplane-var", Short: "v", Usage: "template variable name=value (repeatable; a=1,b=2 sets two)", value: func(c *Config) flag.Value { return (*varsValue)(&c.ResourceVars) }},
		{Flag: "dataplane-token-file", Env: "KUMA_DATAPLANE_RUNTIME_TOKEN_PATH", Usage: "file with the data plane token ('kumactl generate dataplane-token')", value: func(c *Config) flag.Value { return (*stringValue)(&c.TokenPath) }},
		{Flag: "dataplane-token", Env: "KUMA_DATAPLANE_RUNTIME_TOKEN", Usage: "the data plane token itself; wins over the file", value: func(c *Config) flag.Value { return (*stringValue)(&c.Token) }},
		{Flag: "name", Env: "KUMA_DATAPLANE_NAME", Usage: "indirect lifecycle: name of an existing Dataplane", value: func(c *Config) flag.Value { return (*stringValue)(&c.Name) }},
		{Flag: "mesh", Env: "KUMA_DATAPLANE_MESH", Usage: "indirect lifecycle: its mesh", value: func(c *Config) flag.Value { return (*stringValue)(&c.Mesh) }},
		{Flag: "proxy-type", Env: "KUMA_DATAPLANE_PROXY_TYPE", Usage: "dataplane, ingress or egress (default dataplane)", value: func(c *Config) flag.Value { return (*stringValue)(&c.ProxyType) }},
		{Flag: "drain-time", Env: "KUMA_DATAPLANE_DRAIN_TIME", Usage: "how long Envoy drains connections on shutdown (default 30s)", value: func(c *Config) flag.Value { return (*durationValue)(&c.DrainTime) }},
		{Env: "KUMA_READINESS_PORT", Usage: "loopback port of the /ready reporter (default 9902; 0 turns it off)", value: func(c *Config) flag.Value { return (*uint32Value)(&c.ReadinessPort) }},
		{Flag: "binary-path", Env: "KUMA_DATAPLANE_RUNTIME_BINARY_PATH", Usage: "Envoy executable (default envoy, looked up on PATH)", value: func(c *Config) flag.Value { return (*stringValue)(&c.BinaryPath) }},
		{Flag: "config-dir", Env: "KUMA_DATAPLANE_RUNTIME_CONFIG_DIR", Usage: "deprecated alias of --work-dir", value: func(c *Config) flag.Value { return (*stringValue)(&c.WorkDir) }},
		{Flag: "work-dir", Env: "KUMA_DATAPLANE_RUNTIME_WORK_DIR", Usage: "where bootstrap.yaml is written (default: a temporary directory)", value: func(c *Config) flag.Value { return (*stringValue)(&c.WorkDir) }},
		{Flag: "concurrency", Env: "KUMA_DATAPLANE_RUNTIME_CONCURRENCY", Usage: "Envoy worker threads (default: Envoy's --cpuset-threads)", value: func(c *Config) flag.Value { return (*uint32Value)(&c.Concurrency) }},
		{Flag: "admin-port", Env: "JETMESH_DP_ADMIN_PORT", Usage: "Envoy admin port to drain through when the bootstrap names none (default 9901)", value: func(c *Config) flag.Value { return (*uint32Value)(&c.AdminPort) }},
		{Flag: "log-level", Usage: "agent log level: off, info or debug (default info)", value: func(c *Config) flag.Value { return (*stringValue)(&c.LogLevel) }},
		{Flag: "envoy-log-level", Env: "KUMA_DATAPLANE_RUNTIME_ENVOY_LOG_LEVEL", Usage: "Envoy --log-level (default: --log-level)", value: func(c *Config) flag.Value { return (*stringValue)(&c.EnvoyLogLevel) }},
		{Flag: "envoy-component-log-level", Env: "KUMA_DATAPLANE_RUNTIME_ENVOY_COMPONENT_LOG_LEVEL", Usage: "Envoy --component-log-level", value: func(c *Config) flag.Value { return (*stringValue)(&c.EnvoyComponentLogLevel) }},
		{Flag: "metrics-cert-path", Env: "KUMA_DATAPLANE_RUNTIME_METRICS_CERT_PATH", Usage: "certificate of the metrics listener", value: func(c *Config) flag.Value { return (*stringValue)(&c.MetricsCertPath) }},
		{Flag: "metrics-key-path", Env: "KUMA_DATAPLANE_RUNTIME_METRICS_KEY_PATH", Usage: "key of the metrics listener", value: func(c *Config) flag.Value { return (*stringValue)(&c.MetricsKeyPath) }},
		{Flag: "bind-outbounds", Env: "KUMA_DATAPLANE_RUNTIME_BIND_OUTBOUNDS", Usage: "bind outbounds to their real addresses", value: func(c *Config) flag.Value { return (*boolValue)(&c.BindOutbounds) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_ENVOY_XDS_TRANSPORT_PROTOCOL_VARIANT", Usage: "GRPC (state of the world, default) or DELTA_GRPC", value: func(c *Config) flag.Value { return (*stringValue)(&c.XDSTransportProtocolVariant) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_UNIFIED_RESOURCE_NAMING_ENABLED", Usage: "announce unified resource naming (default false)", value: func(c *Config) flag.Value { return (*boolValue)(&c.UnifiedResourceNaming) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_STRICT_INBOUND_PORTS_ENABLED", Usage: "announce strict inbound ports (default true)", value: func(c *Config) flag.Value { return (*boolValue)(&c.StrictInboundPorts) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_REUSE_PORT_ENABLED", Usage: "announce SO_REUSEPORT listeners (default true)", value: func(c *Config) flag.Value { return (*boolValue)(&c.ReusePort) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_IPV6_ENABLED", Usage: "allow IPv6 when the host has it (default true)", value: func(c *Config) flag.Value { return (*boolValue)(&c.IPv6Enabled) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_DYNAMIC_SYSTEM_CA_PATH", Usage: "OS CA bundle (default: the first one found)", value: func(c *Config) flag.Value { return (*stringValue)(&c.SystemCaPath) }},
		{Flag: "dns-enabled", Env: "KUMA_DNS_ENABLED", Usage: "run the embedded DNS proxy when the Dataplane uses transparent proxying (default true)", value: func(c *Config) flag.Value { return (*boolValue)(&c.DNSEnabled) }},
		{Flag: "dns-proxy-port", Env: "KUMA_DNS_PROXY_PORT", Usage: "port of the embedded DNS proxy, where the transparent proxy redirects DNS (default 15053; 0: no DNS proxy)", value: func(c *Config) flag.Value { return (*uint32Value)(&c.DNSProxyPort) }},
		{Flag: "dns-envoy-port", Env: "KUMA_DNS_ENVOY_DNS_PORT", Usage: "Envoy's DNS port announced to the control plane as dnsPort (default 15054)", value: func(c *Config) flag.Value { return (*uint32Value)(&c.EnvoyDNSPort) }},
		{Env: "JETMESH_DNS_UPSTREAMS", Usage: "resolvers (host:port, comma-separated) for names outside the mesh (default: the nameservers in /etc/resolv.conf)", value: func(c *Config) flag.Value { return (*stringValue)(&c.DNSUpstreams) }},
		{Env: "JETMESH_DNS_MESH_DOMAIN", Usage: "domain whose names not in the table get NXDOMAIN (default mesh; - forwards them upstream as kuma-dp does)", value: func(c *Config) flag.Value { return (*stringValue)(&c.DNSMeshDomain) }},
		{Env: "KUMA_DATAPLANE_RUNTIME_DYNAMIC_CONFIGURATION_REFRESH_INTERVAL", Usage: "how often the control plane's dynamic configuration (the DNS table) is polled through Envoy (default 1s)", value: func(c *Config) flag.Value { return (*durationValue)(&c.DynamicConfigRefresh) }},
		{Env: "KUMA_DATAPLANE_RESOURCES_MAX_MEMORY_BYTES", Usage: "memory limit announced to the control plane (default 0: unknown)", value: func(c *Config) flag.Value { return (*uint64Value)(&c.MaxMemoryBytes) }},
	}
}

// LoadEnv applies the environment variables that are set; lookup is usually os.LookupEnv.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	for _, s := range Settings() {
		if s.Env == "" {
			continue
		}
		if v, ok := lookup(s.Env); ok {
			if err := s.value(c).Set(v); err != nil {
				return fmt.Errorf("%s=%q: %w", s.Env, v, err)
			}
		}
	}
	return nil
}

// RegisterFlags defines the flags on fs, bound to c; parse after LoadEnv so flags win.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, s := range Settings() {
		if s.Flag == "" {
			continue
		}
		fs.Var(s.value(c), s.Flag, s.Usage)
		if s.Short != "" {
			fs.Var(s.value(c), s.Short, "shorthand for --"+s.Flag)
		}
	}
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 30s")
	}
	*v = durationValue(d)
	return nil
}

type uint32Value uint32

func (v *uint32Value) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *uint32Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return errors.New("want a non-negative number")
	}
	*v = uint32Value(n)
	return nil
}

type uint64Value uint64

func (v *uint64Value) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return errors.New("want a non-negative number")
	}
	*v = uint64Value(n)
	return nil
}
