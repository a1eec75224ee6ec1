// Package controlplane assembles a jetmesh control plane: its configuration (YAML file, Kuma's
// KUMA_* variables and jetmesh's JETMESH_* variables) and the fx wiring of its parts.
package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/api"
	"github.com/jetmesh/jetmesh/services/envvar"
	"github.com/jetmesh/jetmesh/services/vips"
)

// Config is the control plane's configuration. Field names follow kuma-cp's YAML where the
// setting means the same thing.
type Config struct {
	// Mode: "zone" (a standalone CP is a zone without a global) or "global".
	Mode string `json:"mode"`
	// Environment: "universal", or "kubernetes": kuma.io objects in the cluster become events
	// (runtime.kubernetes; Pods, injection and write-back are not there yet).
	Environment string `json:"environment"`
	// DataDir holds JetStream's files and the CP's own state.
	DataDir   string          `json:"dataDir"`
	Multizone MultizoneConfig `json:"multizone"`
	APIServer APIServerConfig `json:"apiServer"`
	Defaults  DefaultsConfig  `json:"defaults"`
	DPServer  DPServerConfig  `json:"dpServer"`
	XDS       XDSConfig       `json:"xds"`
	NATS      NATSConfig      `json:"nats"`
	Store     StoreConfig     `json:"store"`
	// Checkpoint says how often the in-memory read model is saved to <dataDir>/checkpoints.
	Checkpoint CheckpointConfig `json:"checkpoint"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout Duration `json:"shutdownTimeout"`
	// DNSServer: the virtual IPs and "<service>.<domain>" names of transparent proxying.
	DNSServer DNSServerConfig `json:"dnsServer"`
	Runtime   RuntimeConfig   `json:"runtime"`
}

// DNSServerConfig mirrors kuma-cp's dnsServer section.
type DNSServerConfig struct {
	// Domain is the top-level domain services answer under ("mesh": backend.mesh).
	Domain string `json:"domain"`
	// CIDR virtual IPs are allocated from.
	CIDR string `json:"CIDR"`
	// ServiceVipEnabled gives every kuma.io/service a virtual IP and a name.
	ServiceVipEnabled bool `json:"serviceVipEnabled"`
	// ServiceVipPort is the port each service answers on at its virtual IP.
	ServiceVipPort int `json:"serviceVipPort"`
}

// RuntimeConfig mirrors the parts of kuma-cp's runtime section jetmesh reads.
type RuntimeConfig struct {
	Kubernetes struct {
		// Kubeconfig reaches the cluster in Kubernetes mode; empty uses the in-cluster
		// service account, as kuma-cp does in a Pod.
		Kubeconfig string `json:"kubeconfig"`
	} `json:"kubernetes"`
	Universal struct {
		// VIPRefreshInterval: how often virtual IPs are recomputed (on a global or standalone CP).
		VIPRefreshInterval Duration `json:"vipRefreshInterval"`
	} `json:"universal"`
}

// vipSettings are the allocator's settings (Validate has checked them).
func (c Config) vipSettings() (vips.Settings, error) {
	cidr, err := netip.ParsePrefix(c.DNSServer.CIDR)
	if err != nil {
		return vips.Settings{}, fmt.Errorf("dnsServer.CIDR %q: must be a valid CIDR", c.DNSServer.CIDR)
	}
	if c.DNSServer.ServiceVipPort < 1 || c.DNSServer.ServiceVipPort > 65535 {
		return vips.Settings{}, fmt.Errorf("dnsServer.serviceVipPort %d: must be 1..65535", c.DNSServer.ServiceVipPort)
	}
	s := vips.Settings{Domain: c.DNSServer.Domain, CIDR: cidr, ServiceVIPEnabled: c.DNSServer.ServiceVipEnabled,
		Port: uint32(c.DNSServer.ServiceVipPort)}
	return s, s.Validate()
}

// MultizoneConfig mirrors kuma-cp's multizone section.
type MultizoneConfig struct {
	Global GlobalZoneSyncConfig `json:"global"`
	Zone   ZoneSyncConfig       `json:"zone"`
}

// GlobalZoneSyncConfig is the global CP's listener for zone links (kuma-cp's
// multizone.global.kds): a NATS leafnode listener with TLS in place of KDS's gRPC server.
type GlobalZoneSyncConfig struct {
	KDS struct {
		GRPCPort  int    `json:"grpcPort"`
		Interface string `json:"interface"`
		// TLS certificate for the listener; empty generates a self-signed one under dataDir.
		TLSCertFile string `json:"tlsCertFile"`
		TLSKeyFile  string `json:"tlsKeyFile"`
	} `json:"kds"`
	// Hosts the generated certificate is valid for, besides localhost and the hostname.
	Hosts []string `json:"hosts"`
}

// ZoneSyncConfig is a zone CP's identity and, when federated, its link to the global.
type ZoneSyncConfig struct {
	Name string `json:"name"`
	// GlobalAddress of the global's zone-link listener. Kuma's grpcs://host:5685 form is
	// accepted (the scheme is ignored: the link is always TLS), as are tls://host:port and
	// host:port. Empty: a standalone control plane.
	GlobalAddress string `json:"globalAddress"`
	KDS           struct {
		TLSSkipVerify bool   `json:"tlsSkipVerify"`
		RootCAFile    string `json:"rootCaFile"`
	} `json:"kds"`
	// IngressUpdateInterval: how often the zone recomputes its ingresses' availableServices.
	IngressUpdateInterval Duration `json:"ingressUpdateInterval"`
	// Token is the zone token (kumactl generate zone-token --zone NAME) the zone links with;
	// TokenFile reads it from a file instead.
	Token     string `json:"token"`
	TokenFile string `json:"tokenFile"`
}

// Federated reports whether this is a zone CP linked to a global.
func (c Config) Federated() bool {
	return c.Mode == resources.ModeZone && c.Multizone.Zone.GlobalAddress != ""
}

// APIServerConfig mirrors kuma-cp's apiServer section.
type APIServerConfig struct {
	HTTP struct {
		Port      int    `json:"port"`
		Interface string `json:"interface"`
	} `json:"http"`
	HTTPS struct {
		Enabled   bool   `json:"enabled"`
		Port      int    `json:"port"`
		Interface string `json:"interface"`
		// TLSCertFile and TLSKeyFile: the certificate to serve; empty uses the control
		// plane's own (<dataDir>/certs/cp.crt, the DP server's).
		TLSCertFile string `json:"tlsCertFile"`
		TLSKeyFile  string `json:"tlsKeyFile"`
	} `json:"https"`
	ReadOnly bool `json:"readOnly"`
	Authn    struct {
		// LocalhostIsAdmin: direct requests from this machine act as the admin without a
		// token; elsewhere a user token (kumactl generate user-token) says who is calling.
		LocalhostIsAdmin bool `json:"localhostIsAdmin"`
	} `json:"authn"`
}

// DPServerConfig mirrors kuma-cp's dpServer section: xDS and /bootstrap on one TLS port.
type DPServerConfig struct {
	Port int `json:"port"`
	// Interface to listen on; loopback until dataplane tokens are checked.
	Interface string `json:"interface"`
	// Hosts the generated CP certificate is valid for, besides localhost and the hostname.
	Hosts []string `json:"hosts"`
	// Authn: how proxies authenticate (kuma-cp's dpServer.authn).
	Authn struct {
		DPProxy struct {
			// Type: "dpToken" (Kuma's default on Universal: a proxy presents a dataplane
			// token) or "none" (local development; logged loudly at start).
			Type string `json:"type"`
		} `json:"dpProxy"`
		ZoneProxy struct {
			// Type: "none" or "zoneToken".
			Type string `json:"type"`
		} `json:"zoneProxy"`
	} `json:"authn"`
}

// XDSConfig mirrors kuma-cp's xdsServer settings that apply here.
type XDSConfig struct {
	// DataplaneDeregistrationDelay: direct-mode dataplanes are deleted this long after their
	// proxy disconnected, unless it reconnects.
	DataplaneDeregistrationDelay Duration `json:"dataplaneDeregistrationDelay"`
	// DataplaneStatusFlushInterval: how often ACK/NACK counters reach the insights.
	DataplaneStatusFlushInterval Duration `json:"dataplaneStatusFlushInterval"`
	// DataplaneCleanupAge: self-registered dataplanes offline this long are deleted (0: never).
	DataplaneCleanupAge Duration `json:"dataplaneCleanupAge"`
}

// DefaultsConfig mirrors kuma-cp's defaults section.
type DefaultsConfig struct {
	// SkipMesh: do not create the default mesh on first start.
	SkipMesh bool `json:"skipMeshCreation"`
	// MeshName of the default mesh.
	MeshName string `json:"meshName"`
	// SkipInitialPolicies becomes the default mesh's skipCreatingInitialPolicies: the types of
	// initial policy (or "*") it is created without. Kuma has no setting for this; new meshes
	// say it themselves, but the default mesh is created by the control plane.
	SkipInitialPolicies []string `json:"skipInitialPolicies"`
}

// NATSConfig chooses between the embedded NATS server and an external one.
type NATSConfig struct {
	// URL of an external NATS server; empty runs the embedded server.
	URL string `json:"url"`
	// CredsFile for the external server (NATS .creds).
	CredsFile string `json:"credsFile"`
	// Embedded server settings.
	Embedded EmbeddedNATSConfig `json:"embedded"`
}

// EmbeddedNATSConfig configures the in-process NATS server.
type EmbeddedNATSConfig struct {
	Host string `json:"host"`
	// Port of the embedded server; loopback only by default and never 4222, so a system NATS
	// on the same host is left alone.
	Port int `json:"port"`
	// SyncAlways fsyncs every JetStream write before acknowledging it: an API 200 survives a
	// crash of the process or the machine. Turning it off trades that for throughput.
	SyncAlways bool `json:"syncAlways"`
}

// StoreConfig configures the event log.
type StoreConfig struct {
	// Type is Kuma's KUMA_STORE_TYPE; "memory" (Kuma's default) and "jetstream" both mean
	// the JetStream event log, which is always the source of truth here.
	Type string `json:"type"`
	// Replicas of the stream on an external NATS cluster.
	Replicas int `json:"replicas"`
	// HistoryMaxAge drops revisions older than this, never the current one (0 keeps all).
	HistoryMaxAge Duration `json:"historyMaxAge"`
	// HistoryMaxEvents keeps at most this many events per resource, never dropping the current
	// revision (0 keeps all). Applies to the JetStream log; a PostgreSQL audit log keeps what it
	// received.
	HistoryMaxEvents int `json:"historyMaxEvents"`
	// Postgres is used when Type is "postgres": a read model and audit log fed from the log.
	Postgres postgres.Config `json:"postgres"`
}

// CheckpointConfig bounds how much of the log a restart replays, also after a crash: the read
// model is saved after this many events or this long after a change, whichever comes first
// (and on graceful shutdown).
type CheckpointConfig struct {
	// Events applied since the last checkpoint that trigger the next one.
	Events int `json:"events"`
	// Interval after which changes are checkpointed even when fewer than Events arrived.
	Interval Duration `json:"interval"`
	// Keep this many past checkpoints for point-in-time reads (?at=), which then replay from
	// the newest one at or before their point instead of from sequence 1 (0: none).
	Keep int `json:"keep"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	var c Config
	c.Mode = resources.ModeZone
	c.Environment = "universal"
	c.DataDir = defaultDataDir()
	c.Multizone.Zone.Name = "default"
	c.Multizone.Global.KDS.GRPCPort = 5685
	c.Multizone.Zone.IngressUpdateInterval = Duration(time.Second)
	c.Multizone.Global.KDS.Interface = "0.0.0.0"
	def := api.DefaultConfig()
	c.APIServer.HTTP.Port = def.Port
	c.APIServer.HTTP.Interface = def.Address
	c.APIServer.Authn.LocalhostIsAdmin = def.LocalhostIsAdmin
	c.APIServer.HTTPS.Enabled, c.APIServer.HTTPS.Port, c.APIServer.HTTPS.Interface = def.HTTPS.Enabled, def.HTTPS.Port, def.HTTPS.Address
	c.Defaults.MeshName = "default"
	c.DPServer.Port = 5678
	c.DPServer.Interface = "127.0.0.1"
	c.DPServer.Authn.DPProxy.Type = "dpToken"
	c.DPServer.Authn.ZoneProxy.Type = "none"
	c.XDS.DataplaneDeregistrationDelay = Duration(10 * time.Second)
	c.XDS.DataplaneStatusFlushInterval = Duration(10 * time.Second)
	c.XDS.DataplaneCleanupAge = Duration(72 * time.Hour)
	c.NATS.Embedded = EmbeddedNATSConfig{Host: "127.0.0.1", Port: 5690, SyncAlways: true}
	c.Store = StoreConfig{Type: "memory", Replicas: 1, Postgres: postgres.DefaultConfig()}
	c.Checkpoint = CheckpointConfig{Events: 5000, Interval: Duration(30 * time.Second), Keep: 10}
	c.ShutdownTimeout = Duration(30 * time.Second)
	dns := vips.DefaultSettings()
	c.DNSServer = DNSServerConfig{Domain: dns.Domain, CIDR: dns.CIDR.String(), ServiceVipEnabled: dns.ServiceVIPEnabled,
		ServiceVipPort: int(dns.Port)}
	c.Runtime.Universal.VIPRefreshInterval = Duration(500 * time.Millisecond)
	return c
}

func defaultDataDir() string { return expandHome("~/.jetmesh") }

// expandHome resolves a leading "~/" to the user's home directory.
func expandHome(p string) string {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".", rest)
	}
	return filepath.Join(home, rest)
}

// Validate checks the configuration and says which setting is wrong.
func (c Config) Validate() error {
	var errs []error
	switch c.Mode {
	case resources.ModeZone, resources.ModeGlobal:
	default:
		errs = append(errs, fmt.Errorf("mode %q: must be %q or %q", c.Mode, resources.ModeZone, resources.ModeGlobal))
	}
	errs = append(errs, c.validateMultizone()...)
	if c.Environment != "universal" && c.Environment != "kubernetes" {
		errs = append(errs, fmt.Errorf("environment %q: must be \"universal\" or \"kubernetes\"", c.Environment))
	}
	if c.DataDir == "" {
		errs = append(errs, fmt.Errorf("dataDir must not be empty"))
	}
	if c.Multizone.Zone.Name == "" {
		errs = append(errs, fmt.Errorf("multizone.zone.name must not be empty"))
	}
	switch c.Store.Type {
	case "memory", "jetstream":
	case "postgres":
		if err := c.Store.Postgres.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("store.postgres: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("store.type %q: must be memory or jetstream", c.Store.Type))
	}
	if c.Store.HistoryMaxEvents < 0 {
		errs = append(errs, fmt.Errorf("store.historyMaxEvents %d: must not be negative (0 keeps all)", c.Store.HistoryMaxEvents))
	}
	if c.Store.Replicas < 1 || c.Store.Replicas > 5 {
		errs = append(errs, fmt.Errorf("store.replicas %d: must be 1..5", c.Store.Replicas))
	}
	if c.NATS.URL == "" {
		if p := c.NATS.Embedded.Port; p == 4222 {
			errs = append(errs, fmt.Errorf("nats.embedded.port 4222 is the system NATS port; choose another"))
		} else if p < -1 || p == 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("nats.embedded.port %d out of range (1-65535, or -1 for a random port)", p))
		}
	}
	if !c.Defaults.SkipMesh && c.Defaults.MeshName == "" {
		errs = append(errs, fmt.Errorf("defaults.meshName must not be empty"))
	}
	if t := c.DPServer.Authn.DPProxy.Type; t != "none" && t != "dpToken" {
		errs = append(errs, fmt.Errorf("dpServer.authn.dpProxy.type %q: must be none or dpToken", t))
	}
	if t := c.DPServer.Authn.ZoneProxy.Type; t != "none" && t != "zoneToken" {
		errs = append(errs, fmt.Errorf("dpServer.authn.zoneProxy.type %q: must be none or zoneToken", t))
	}
	if c.DPServer.Port < 0 || c.DPServer.Port > 65535 {
		errs = append(errs, fmt.Errorf("dpServer.port %d out of range", c.DPServer.Port))
	}
	if c.XDS.DataplaneDeregistrationDelay < 0 || c.XDS.DataplaneStatusFlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("xds.dataplaneDeregistrationDelay must not be negative and xds.dataplaneStatusFlushInterval must be positive"))
	}
	if c.Checkpoint.Events < 1 || c.Checkpoint.Interval <= 0 || c.Checkpoint.Keep < 0 {
		errs = append(errs, fmt.Errorf("checkpoint.events must be at least 1, checkpoint.interval positive and checkpoint.keep not negative"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdownTimeout must be positive"))
	}
	if err := c.apiConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.vipSettings(); err != nil {
		errs = append(errs, err)
	}
	if c.Runtime.Universal.VIPRefreshInterval <= 0 {
		errs = append(errs, fmt.Errorf("runtime.universal.vipRefreshInterval must be positive"))
	}
	return errors.Join(errs...)
}

func (c Config) apiConfig() api.Config {
	a := api.DefaultConfig()
	a.Address = c.APIServer.HTTP.Interface
	a.Port = c.APIServer.HTTP.Port
	a.ReadOnly = c.APIServer.ReadOnly
	a.LocalhostIsAdmin = c.APIServer.Authn.LocalhostIsAdmin
	a.HTTPS = api.HTTPSConfig{Enabled: c.APIServer.HTTPS.Enabled, Address: c.APIServer.HTTPS.Interface, Port: c.APIServer.HTTPS.Port}
	return a
}

// LoadFile merges a YAML file into c; unknown keys are an error naming the file.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	c.DataDir = expandHome(c.DataDir)
	return nil
}

// envVars are the environment variables the CP reads: Kuma's names where they mean the same
// thing, JETMESH_* for jetmesh's own settings.
var envVars = []envvar.Var[Config]{
	envvar.String("KUMA_MODE", func(c *Config) *string { return &c.Mode }),
	envvar.String("KUMA_ENVIRONMENT", func(c *Config) *string { return &c.Environment }),
	envvar.String("KUMA_MULTIZONE_ZONE_NAME", func(c *Config) *string { return &c.Multizone.Zone.Name }),
	envvar.String("KUMA_MULTIZONE_ZONE_GLOBAL_ADDRESS", func(c *Config) *string { return &c.Multizone.Zone.GlobalAddress }),
	envvar.Bool("KUMA_MULTIZONE_ZONE_KDS_TLS_SKIP_VERIFY", func(c *Config) *bool { return &c.Multizone.Zone.KDS.TLSSkipVerify }),
	pathVar("KUMA_MULTIZONE_ZONE_KDS_ROOT_CA_FILE", func(c *Config) *string { return &c.Multizone.Zone.KDS.RootCAFile }),
	envvar.String("JETMESH_MULTIZONE_ZONE_TOKEN", func(c *Config) *string { return &c.Multizone.Zone.Token }),
	durationVar("KUMA_MULTIZONE_ZONE_INGRESS_UPDATE_INTERVAL", func(c *Config) *Duration { return &c.Multizone.Zone.IngressUpdateInterval }),
	pathVar("JETMESH_MULTIZONE_ZONE_TOKEN_FILE", func(c *Config) *string { return &c.Multizone.Zone.TokenFile }),
	envvar.Int("KUMA_MULTIZONE_GLOBAL_KDS_GRPC_PORT", func(c *Config) *int { return &c.Multizone.Global.KDS.GRPCPort }),
	envvar.String("JETMESH_MULTIZONE_GLOBAL_KDS_INTERFACE", func(c *Config) *string { return &c.Multizone.Global.KDS.Interface }),
	pathVar("KUMA_MULTIZONE_GLOBAL_KDS_TLS_CERT_FILE", func(c *Config) *string { return &c.Multizone.Global.KDS.TLSCertFile }),
	pathVar("KUMA_MULTIZONE_GLOBAL_KDS_TLS_KEY_FILE", func(c *Config) *string { return &c.Multizone.Global.KDS.TLSKeyFile }),
	envvar.Int("KUMA_API_SERVER_HTTP_PORT", func(c *Config) *int { return &c.APIServer.HTTP.Port }),
	envvar.String("KUMA_API_SERVER_HTTP_INTERFACE", func(c *Config) *string { return &c.APIServer.HTTP.Interface }),
	envvar.Bool("KUMA_API_SERVER_READ_ONLY", func(c *Config) *bool { return &c.APIServer.ReadOnly }),
	envvar.Bool("KUMA_API_SERVER_HTTPS_ENABLED", func(c *Config) *bool { return &c.APIServer.HTTPS.Enabled }),
	envvar.Int("KUMA_API_SERVER_HTTPS_PORT", func(c *Config) *int { return &c.APIServer.HTTPS.Port }),
	envvar.String("KUMA_API_SERVER_HTTPS_INTERFACE", func(c *Config) *string { return &c.APIServer.HTTPS.Interface }),
	pathVar("KUMA_API_SERVER_HTTPS_TLS_CERT_FILE", func(c *Config) *string { return &c.APIServer.HTTPS.TLSCertFile }),
	pathVar("KUMA_API_SERVER_HTTPS_TLS_KEY_FILE", func(c *Config) *string { return &c.APIServer.HTTPS.TLSKeyFile }),
	envvar.Bool("KUMA_API_SERVER_AUTHN_LOCALHOST_IS_ADMIN", func(c *Config) *bool { return &c.APIServer.Authn.LocalhostIsAdmin }),
	envvar.Int("KUMA_DP_SERVER_PORT", func(c *Config) *int { return &c.DPServer.Port }),
	envvar.String("JETMESH_DP_SERVER_INTERFACE", func(c *Config) *string { return &c.DPServer.Interface }),
	envvar.String("KUMA_DP_SERVER_AUTHN_DP_PROXY_TYPE", func(c *Config) *string { return &c.DPServer.Authn.DPProxy.Type }),
	envvar.String("KUMA_DP_SERVER_AUTHN_ZONE_PROXY_TYPE", func(c *Config) *string { return &c.DPServer.Authn.ZoneProxy.Type }),
	durationVar("KUMA_XDS_DATAPLANE_DEREGISTRATION_DELAY", func(c *Config) *Duration { return &c.XDS.DataplaneDeregistrationDelay }),
	durationVar("KUMA_XDS_SERVER_DATAPLANE_STATUS_FLUSH_INTERVAL", func(c *Config) *Duration { return &c.XDS.DataplaneStatusFlushInterval }),
	durationVar("KUMA_RUNTIME_UNIVERSAL_DATAPLANE_CLEANUP_AGE", func(c *Config) *Duration { return &c.XDS.DataplaneCleanupAge }),
	envvar.String("KUMA_DNS_SERVER_DOMAIN", func(c *Config) *string { return &c.DNSServer.Domain }),
	envvar.String("KUMA_DNS_SERVER_CIDR", func(c *Config) *string { return &c.DNSServer.CIDR }),
	envvar.Bool("KUMA_DNS_SERVER_SERVICE_VIP_ENABLED", func(c *Config) *bool { return &c.DNSServer.ServiceVipEnabled }),
	envvar.Int("KUMA_DNS_SERVER_SERVICE_VIP_PORT", func(c *Config) *int { return &c.DNSServer.ServiceVipPort }),
	pathVar("KUBECONFIG", func(c *Config) *string { return &c.Runtime.Kubernetes.Kubeconfig }),
	durationVar("KUMA_RUNTIME_UNIVERSAL_VIP_REFRESH_INTERVAL", func(c *Config) *Duration { return &c.Runtime.Universal.VIPRefreshInterval }),
	envvar.Bool("KUMA_DEFAULTS_SKIP_MESH_CREATION", func(c *Config) *bool { return &c.Defaults.SkipMesh }),
	envvar.List("JETMESH_DEFAULTS_SKIP_INITIAL_POLICIES", func(c *Config) *[]string { return &c.Defaults.SkipInitialPolicies }),
	envvar.String("KUMA_STORE_TYPE", func(c *Config) *string { return &c.Store.Type }),
	pathVar("KUMA_GENERAL_WORK_DIR", func(c *Config) *string { return &c.DataDir }),
	pathVar("JETMESH_DATA_DIR", func(c *Config) *string { return &c.DataDir }),
	envvar.String("JETMESH_NATS_URL", func(c *Config) *string { return &c.NATS.URL }),
	envvar.String("JETMESH_NATS_CREDS_FILE", func(c *Config) *string { return &c.NATS.CredsFile }),
	envvar.String("JETMESH_NATS_EMBEDDED_HOST", func(c *Config) *string { return &c.NATS.Embedded.Host }),
	envvar.Int("JETMESH_NATS_EMBEDDED_PORT", func(c *Config) *int { return &c.NATS.Embedded.Port }),
	envvar.Bool("JETMESH_NATS_SYNC_ALWAYS", func(c *Config) *bool { return &c.NATS.Embedded.SyncAlways }),
	envvar.Int("JETMESH_STORE_REPLICAS", func(c *Config) *int { return &c.Store.Replicas }),
	durationVar("JETMESH_STORE_HISTORY_MAX_AGE", func(c *Config) *Duration { return &c.Store.HistoryMaxAge }),
	envvar.Int("JETMESH_STORE_HISTORY_MAX_EVENTS", func(c *Config) *int { return &c.Store.HistoryMaxEvents }),
	envvar.Int("JETMESH_CHECKPOINT_EVENTS", func(c *Config) *int { return &c.Checkpoint.Events }),
	durationVar("JETMESH_CHECKPOINT_INTERVAL", func(c *Config) *Duration { return &c.Checkpoint.Interval }),
	envvar.Int("JETMESH_CHECKPOINT_KEEP", func(c *Config) *int { return &c.Checkpoint.Keep }),
	durationVar("JETMESH_SHUTDOWN_TIMEOUT", func(c *Config) *Duration { return &c.ShutdownTimeout }),
}

// EnvNames returns the names of the environment variables the CP reads, for --help.
func EnvNames() []string { return append(envvar.Names(envVars), postgres.EnvNames()...) }

// LoadEnv applies environment variables (they override the file, as in Kuma).
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	if err := envvar.Load(c, envVars, lookup); err != nil {
		return err
	}
	return c.Store.Postgres.LoadEnv(lookup)
}

// pathVar binds a path, resolving a leading "~/".
func pathVar(name string, field func(*Config) *string) envvar.Var[Config] {
	return envvar.Var[Config]{Name: name, Set: func(c *Config, v string) error { *field(c) = expandHome(v); return nil }}
}

func durationVar(name string, field func(*Config) *Duration) envvar.Var[Config] {
	return envvar.Var[Config]{Name: name, Set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 72h, 30s)")
		}
		*field(c) = Duration(d)
		return nil
	}}
}

// Duration is a time.Duration written as "30s" in YAML and JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
