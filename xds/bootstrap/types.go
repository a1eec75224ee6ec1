// Package bootstrap is the wire contract between a data plane agent and the control plane's
// POST /bootstrap endpoint (Kuma 2.14's pkg/xds/bootstrap/types), plus the pure generator of
// the Envoy bootstrap the control plane answers with.
//
// The JSON field names are Kuma's, byte for byte, so a real kuma-dp can bootstrap against a
// jetmesh control plane and jetmesh-dp against a real kuma-cp.
package bootstrap

import "encoding/json"

// Proxy types (the request's proxyType and the dataplane.proxyType metadata value).
const (
	ProxyTypeDataplane = "dataplane"
	ProxyTypeIngress   = "ingress"
	ProxyTypeEgress    = "egress"
)

// Request is the body kuma-dp POSTs to /bootstrap (Kuma's types.BootstrapRequest).
type Request struct {
	Mesh      string `json:"mesh"`
	Name      string `json:"name"`
	ProxyType string `json:"proxyType"`
	// DataplaneToken is the JWT; the control plane copies it into the bootstrap's gRPC
	// initial metadata ("authorization").
	DataplaneToken     string `json:"dataplaneToken,omitempty"`
	DataplaneTokenPath string `json:"dataplaneTokenPath,omitempty"`
	// DataplaneResource is the inline Dataplane/ZoneIngress/ZoneEgress (JSON or YAML text) when
	// the agent was started with --dataplane-file; empty in the indirect lifecycle.
	DataplaneResource string  `json:"dataplaneResource,omitempty"`
	Version           Version `json:"version"`
	// CaCert is the PEM CA the agent verifies the control plane with (--ca-cert-file).
	CaCert          string            `json:"caCert"`
	DynamicMetadata map[string]string `json:"dynamicMetadata"`
	// OtelEnv is Kuma's OtelBootstrapInventory, passed through untouched.
	OtelEnv       json.RawMessage `json:"otelEnv,omitempty"`
	DNSPort       uint32          `json:"dnsPort,omitempty"`
	ReadinessPort uint32          `json:"readinessPort,omitempty"`
	// AppProbeProxyEnabled is true when the application probe proxy runs. The wire key is
	// "appProbeProxyDisabled" on purpose: Kuma has shipped it inverted since 2.9 and both sides
	// rely on it (kumahq/kuma#13885). Do not rename it or flip its meaning.
	AppProbeProxyEnabled bool             `json:"appProbeProxyDisabled,omitempty"`
	OperatingSystem      string           `json:"operatingSystem"`
	Features             []string         `json:"features"`
	Resources            ProxyResources   `json:"resources"`
	Workdir              string           `json:"workdir"`
	MetricsResources     MetricsResources `json:"metricsResources"`
	SystemCaPath         string           `json:"systemCaPath"`
	// TransparentProxy is Kuma's transparent-proxy DataplaneConfig, passed through untouched.
	TransparentProxy json.RawMessage `json:"dataplaneConfig,omitempty"`
	IPv6Enabled      bool            `json:"ipv6Enabled"`
	SpireResources   SpireResources  `json:"spireResources"`
}

// Version describes the agent and its Envoy.
type Version struct {
	KumaDp KumaDpVersion `json:"kumaDp"`
	Envoy  EnvoyVersion  `json:"envoy"`
}

// KumaDpVersion is the agent's build information.
type KumaDpVersion struct {
	Version   string `json:"version"`
	GitTag    string `json:"gitTag"`
	GitCommit string `json:"gitCommit"`
	BuildDate string `json:"buildDate"`
}

// EnvoyVersion is what `envoy --version` reported.
type EnvoyVersion struct {
	Version          string `json:"version"`
	Build            string `json:"build"`
	KumaDpCompatible bool   `json:"kumaDpCompatible"`
}

// ProxyResources is what the proxy may use; a gateway's overload manager reads the heap size.
type ProxyResources struct {
	MaxHeapSizeBytes uint64 `json:"maxHeapSizeBytes"`
}

// MetricsResources are the certificate and key of the metrics listener.
type MetricsResources struct {
	CertPath string `json:"certPath"`
	KeyPath  string `json:"keyPath"`
}

// SpireResources locates the SPIRE agent socket.
type SpireResources struct {
	SocketPath string `json:"socketPath"`
}

// Response is the /bootstrap answer when the request accepts application/json
// (Kuma's types.BootstrapResponse). Bootstrap is the Envoy bootstrap as YAML; encoding/json
// renders it base64, as Kuma does.
type Response struct {
	Bootstrap                []byte                   `json:"bootstrap"`
	KumaSidecarConfiguration KumaSidecarConfiguration `json:"kumaSidecarConfiguration"`
}

// KumaSidecarConfiguration is what the agent itself needs besides Envoy's bootstrap.
type KumaSidecarConfiguration struct {
	Networking NetworkingConfiguration `json:"networking"`
	Metrics    MetricsConfiguration    `json:"metrics"`
}

// NetworkingConfiguration carries the proxy's address and an optional CoreDNS template.
type NetworkingConfiguration struct {
	CorefileTemplate []byte `json:"corefileTemplate"`
	Address          string `json:"address"`
}

// MetricsConfiguration lists the application endpoints whose metrics the agent merges.
type MetricsConfiguration struct {
	Aggregate []Aggregate `json:"aggregate"`
}

// Aggregate is one application metrics endpoint.
type Aggregate struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Port    uint32 `json:"port"`
	Path    string `json:"path"`
}
