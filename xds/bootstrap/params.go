package bootstrap

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// Features a data plane agent can announce (Kuma 2.14's pkg/core/xds/types/features.go).
const (
	FeatureTCPAccessLogViaNamedPipe            = "feature-tcp-accesslog-via-named-pipe"
	FeatureTransparentProxyInDataplaneMetadata = "feature-transparent-proxy-in-dataplane-metadata"
	FeatureBindOutbounds                       = "feature-bind-outbounds"
	FeatureSpire                               = "feature-spire"
	FeatureStrictInboundPorts                  = "feature-strict-inbound-ports"
	FeatureReadinessUnixSocket                 = "feature-readiness-unix-socket"
	FeatureOtelViaKumaDp                       = "feature-otel-via-kuma-dp"
	FeatureReusePort                           = "feature-reuse-port"
	FeatureEmbeddedDNS                         = "feature-embedded-dns"
	FeatureDeltaGRPC                           = "feature-delta-grpc"
	FeatureUnifiedResourceNaming               = "feature-unified-resource-naming"
)

// Names of the static resources in the bootstrap (2.14's legacy naming).
const (
	ADSClusterName           = "ads_cluster"
	AccessLogSinkClusterName = "access_log_sink"
	CPValidationContextName  = "cp_validation_ctx"
)

// Defaults of kuma-cp's bootstrapServer.params and of kuma-dp.
const (
	DefaultAdminAddress       = "127.0.0.1"
	DefaultAdminPort          = 9901
	DefaultAdminAccessLogPath = "/dev/null"
	DefaultXDSConnectTimeout  = time.Second
	// DefaultGatewayMaxConnections caps a builtin gateway's downstream connections.
	DefaultGatewayMaxConnections = 50000
	// ServiceUnknown is node.cluster when a Dataplane has no kuma.io/service tag.
	ServiceUnknown = "unknown"
)

// Messages of the errors Kuma's /bootstrap handler returns verbatim in its response body.
const (
	// TokenRequiredMessage is the 422 body when authentication is on and no token was sent.
	TokenRequiredMessage = "Dataplane Token is required. Generate token using 'kumactl generate dataplane-token > /path/file' and provide it via --dataplane-token-file=/path/file argument to Kuma DP"
	// NotCAMessage is the 400 body when the CA the agent sent is not a CA certificate.
	NotCAMessage = "A data plane proxy is trying to verify the control plane using the certificate which is not a certificate authority (basic constraint 'CA' is set to 'false').\n" +
		"Provide CA that was used to sign a certificate used in the control plane by using 'kuma-dp run --ca-cert-file=file' or via KUMA_CONTROL_PLANE_CA_CERT_FILE"
)

var (
	// ErrTokenRequired: the control plane requires a data plane token and none was sent.
	ErrTokenRequired = errors.New(TokenRequiredMessage)
	// ErrNotCA: the CA certificate is a leaf certificate (basic constraint CA:false).
	ErrNotCA = errors.New(NotCAMessage)
	// ErrBadCertificate: the CA bytes are not a PEM X.509 certificate.
	ErrBadCertificate = errors.New("could not parse the CA certificate")
)

// Params is everything Generate needs. Build it with NewParams from a Request, or fill it by
// hand in tests. Zero values take Kuma's defaults where Kuma has one.
type Params struct {
	Mesh      string // empty for zone ingress and egress
	Name      string
	ProxyType string // ProxyType*; empty means dataplane
	// Service is node.cluster: the first kuma.io/service, "ingress" or "egress".
	Service string

	XDSHost           string // the host kuma-dp used to reach the CP, or the configured override
	XDSPort           uint32
	XDSConnectTimeout time.Duration // 0 means 1s
	// CACert is the PEM the proxy verifies the control plane with; nil skips verification.
	CACert []byte
	// Plaintext connects to the control plane without TLS (tests, or a CP without TLS).
	Plaintext bool

	AdminAddress       string // 0 value: 127.0.0.1
	AdminPort          uint32 // 0 value: 9901
	AdminSocketPath    string // non-empty: the admin listens on this unix socket instead
	AdminAccessLogPath string // 0 value: /dev/null

	Token             string // data plane token, sent as gRPC "authorization" metadata
	DataplaneResource string // the inline resource from the request
	Version           Version
	Features          []string
	Workdir           string
	DynamicMetadata   map[string]string
	DNSPort           uint32
	ReadinessPort     uint32
	// AppProbeProxyEnabled sets dataplane.appProbeProxy.enabled (see Request).
	AppProbeProxyEnabled bool
	MetricsCertPath      string
	MetricsKeyPath       string
	SystemCaPath         string
	IPv6Enabled          bool
	SpireSocketPath      string
	TransparentProxy     json.RawMessage
	OtelEnv              json.RawMessage

	// HDS adds hds_config (health discovery) on the ADS cluster; Kuma does it for dataplanes.
	HDS bool
	// Gateway marks a builtin gateway: an RTDS runtime layer and an overload manager.
	Gateway               bool
	GatewayMaxConnections uint32 // 0 means 50000
	MaxHeapSizeBytes      uint64 // a gateway's fixed-heap overload monitor when > 0
}

// ServerParams is the control plane's side of bootstrap generation: kuma-cp's
// bootstrapServer.params and the DP server's certificate.
type ServerParams struct {
	// XDSHost overrides the host the proxy connects back to
	// (KUMA_BOOTSTRAP_SERVER_PARAMS_XDS_HOST); empty uses the host of the /bootstrap request.
	XDSHost           string
	XDSPort           uint32 // the DP server port (5678)
	XDSConnectTimeout time.Duration
	AdminAddress      string
	// AdminPort is used when the proxy's resource has no networking.admin.port.
	AdminPort          uint32
	AdminAccessLogPath string
	// AdminUnixSocket puts the admin on <workdir>/kuma-envoy-admin.sock when the request has a
	// workdir (KUMA_BOOTSTRAP_SERVER_PARAMS_ENVOY_ADMIN_UNIX_SOCKET, true in kuma-cp 2.14).
	AdminUnixSocket bool
	// CACert is the PEM of the DP server certificate (or its CA); a request's caCert wins.
	CACert    []byte
	Plaintext bool
	// HDS enables health discovery for dataplanes (KUMA_DP_SERVER_HDS_ENABLED).
	HDS bool
}

// Proxy is what the control plane learned about the proxy from its resource (inline in the
// request or from the store).
type Proxy struct {
	// Service is node.cluster; ServiceName computes it for a Dataplane. Zone proxies use
	// "ingress" and "egress" (NewParams fills those in when empty).
	Service string
	// AdminPort is networking.admin.port of the resource, 0 when unset.
	AdminPort uint32
	// BuiltinGateway is true for a Dataplane with a BUILTIN gateway.
	BuiltinGateway bool
	// GatewayMaxConnections is the CP's proxy.gateway.globalDownstreamMaxConnections.
	GatewayMaxConnections uint32
}

// NewParams combines a bootstrap request, the host it was sent to (without port), the control
// plane's settings and what the control plane knows about the proxy, the way Kuma's generator
// does. It does not check the CA or the token: see CheckCA and ErrTokenRequired.
func NewParams(req Request, host string, s ServerParams, p Proxy) Params {
	proxyType := req.ProxyType
	if proxyType == "" {
		proxyType = ProxyTypeDataplane
	}
	out := Params{
		Mesh: req.Mesh, Name: req.Name, ProxyType: proxyType, Service: p.Service,
		XDSHost: host, XDSPort: s.XDSPort, XDSConnectTimeout: s.XDSConnectTimeout,
		CACert: s.CACert, Plaintext: s.Plaintext,
		AdminAddress: s.AdminAddress, AdminPort: p.AdminPort, AdminAccessLogPath: s.AdminAccessLogPath,
		Token: req.DataplaneToken, DataplaneResource: req.DataplaneResource, Version: req.Version,
		Features: slices.Clone(req.Features), Workdir: req.Workdir, DynamicMetadata: req.DynamicMetadata,
		DNSPort: req.DNSPort, ReadinessPort: req.ReadinessPort, AppProbeProxyEnabled: req.AppProbeProxyEnabled,
		MetricsCertPath: req.MetricsResources.CertPath, MetricsKeyPath: req.MetricsResources.KeyPath,
		SystemCaPath: req.SystemCaPath, IPv6Enabled: req.IPv6Enabled, SpireSocketPath: req.SpireResources.SocketPath,
		TransparentProxy: req.TransparentProxy, OtelEnv: req.OtelEnv,
		MaxHeapSizeBytes: req.Resources.MaxHeapSizeBytes,
	}
	if s.XDSHost != "" {
		out.XDSHost = s.XDSHost
	}
	if req.CaCert != "" {
		out.CACert = []byte(req.CaCert)
	}
	if out.AdminPort == 0 {
		out.AdminPort = s.AdminPort
	}
	if s.AdminUnixSocket && req.Workdir != "" {
		out.AdminSocketPath = AdminSocketPath(req.Workdir)
	}
	switch proxyType {
	case ProxyTypeIngress, ProxyTypeEgress:
		if out.Service == "" {
			out.Service = proxyType
		}
	default:
		out.HDS = s.HDS
		out.Gateway = p.BuiltinGateway
		out.GatewayMaxConnections = p.GatewayMaxConnections
	}
	return out
}

// ServiceName is node.cluster for a Dataplane: the alphabetically first kuma.io/service value
// of its inbounds and gateway tags, or "unknown".
func ServiceName(dp *core.Dataplane) string {
	if dp == nil || dp.Networking == nil {
		return ServiceUnknown
	}
	var services []string
	for _, in := range dp.Networking.Inbound {
		if s, ok := in.Tags[resources.TagService]; ok {
			services = append(services, s)
		}
	}
	if gw := dp.Networking.Gateway; gw != nil {
		if s, ok := gw.Tags[resources.TagService]; ok {
			services = append(services, s)
		}
	}
	if len(services) == 0 {
		return ServiceUnknown
	}
	return slices.Min(services)
}

// CheckCA reports ErrBadCertificate when pemBytes holds no X.509 certificate and ErrNotCA
// when it is a leaf certificate, as Kuma does before trusting a caCert.
func CheckCA(pemBytes []byte) error {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return ErrBadCertificate
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return errors.Join(ErrBadCertificate, err)
	}
	// A CA without basic constraints is valid, so only an explicit CA:false is rejected.
	if cert.BasicConstraintsValid && !cert.IsCA {
		return ErrNotCA
	}
	return nil
}
