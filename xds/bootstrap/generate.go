package bootstrap

import (
	"errors"
	"fmt"
	"net"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	regexenginesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/regex_engines/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Generate builds the Envoy bootstrap for p the way kuma-cp 2.14 does. It is pure: no I/O,
// no DNS lookups, no clock. Callers usually check the result with ValidateAll and render it
// with Marshal.
func Generate(p Params) (*bootstrapv3.Bootstrap, error) {
	p = withDefaults(p)
	if p.Name == "" {
		return nil, errors.New("bootstrap: proxy name must not be empty")
	}
	if p.XDSHost == "" || p.XDSPort == 0 {
		return nil, fmt.Errorf("bootstrap: control plane address %q port %d is incomplete", p.XDSHost, p.XDSPort)
	}
	metadata, err := nodeMetadata(p)
	if err != nil {
		return nil, err
	}
	clusters, err := staticClusters(p)
	if err != nil {
		return nil, err
	}
	regexEngine, err := marshalAny(&regexenginesv3.GoogleRE2{})
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{
		Node:             &corev3.Node{Id: ProxyID(p.Mesh, p.Name), Cluster: p.Service, Metadata: metadata},
		LayeredRuntime:   layeredRuntime(p.Gateway),
		StatsConfig:      statsConfig(),
		DynamicResources: dynamicResources(p),
		StaticResources:  &bootstrapv3.Bootstrap_StaticResources{Clusters: clusters, Secrets: secrets(p)},
		DefaultRegexEngine: &corev3.TypedExtensionConfig{
			Name:        "envoy.regex_engines.google_re2",
			TypedConfig: regexEngine,
		},
	}
	if b.Admin, err = admin(p); err != nil {
		return nil, err
	}
	if p.HDS {
		b.HdsConfig = adsAPIConfigSource(corev3.ApiConfigSource_GRPC, p.Token)
	}
	if p.Gateway {
		if b.OverloadManager, err = overloadManager(p); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func withDefaults(p Params) Params {
	if p.ProxyType == "" {
		p.ProxyType = ProxyTypeDataplane
	}
	if p.XDSConnectTimeout == 0 {
		p.XDSConnectTimeout = DefaultXDSConnectTimeout
	}
	if p.AdminAddress == "" {
		p.AdminAddress = DefaultAdminAddress
	}
	if p.AdminPort == 0 {
		p.AdminPort = DefaultAdminPort
	}
	if p.AdminAccessLogPath == "" {
		p.AdminAccessLogPath = DefaultAdminAccessLogPath
	}
	if p.GatewayMaxConnections == 0 {
		p.GatewayMaxConnections = DefaultGatewayMaxConnections
	}
	return p
}

// layeredRuntime raises RE2's program size limit as Kuma does; builtin gateways also get
// their listener runtime over RTDS.
func layeredRuntime(gateway bool) *bootstrapv3.LayeredRuntime {
	static := &structpb.Struct{Fields: map[string]*structpb.Value{
		"re2.max_program_size.error_level": structpb.NewNumberValue(4294967295),
		"re2.max_program_size.warn_level":  structpb.NewNumberValue(1000),
	}}
	layers := []*bootstrapv3.RuntimeLayer{{
		Name:           "kuma",
		LayerSpecifier: &bootstrapv3.RuntimeLayer_StaticLayer{StaticLayer: static},
	}}
	if gateway {
		layers = append(layers, &bootstrapv3.RuntimeLayer{
			Name: "gateway.listeners",
			LayerSpecifier: &bootstrapv3.RuntimeLayer_RtdsLayer_{RtdsLayer: &bootstrapv3.RuntimeLayer_RtdsLayer{
				Name:       "gateway.listeners",
				RtdsConfig: adsConfigSource(false),
			}},
		})
	}
	return &bootstrapv3.LayeredRuntime{Layers: layers}
}

// statsConfig holds Kuma's stats tags.
func statsConfig() *metricsv3.StatsConfig {
	tags := []struct{ name, regex string }{
		{"name", `^grpc\.((.+)\.)`},
		{"status", `^grpc.*streams_closed(_([0-9]+))`},
		{"kafka_name", `^kafka(\.(\S*[0-9]))\.`},
		{"kafka_type", `^kafka\..*\.(.*?(?=_duration|$))`},
		{"worker", `(worker_([0-9]+)\.)`},
		{"listener", `((.+?)\.)rbac\.`},
	}
	out := &metricsv3.StatsConfig{}
	for _, t := range tags {
		out.StatsTags = append(out.StatsTags, &metricsv3.TagSpecifier{
			TagName:  t.name,
			TagValue: &metricsv3.TagSpecifier_Regex{Regex: t.regex},
		})
	}
	return out
}

// dynamicResources sends LDS and CDS over ADS; Delta xDS when the agent announced it.
func dynamicResources(p Params) *bootstrapv3.Bootstrap_DynamicResources {
	apiType := corev3.ApiConfigSource_GRPC
	if hasFeature(p.Features, FeatureDeltaGRPC) {
		apiType = corev3.ApiConfigSource_DELTA_GRPC
	}
	return &bootstrapv3.Bootstrap_DynamicResources{
		LdsConfig: adsConfigSource(true),
		CdsConfig: adsConfigSource(true),
		AdsConfig: adsAPIConfigSource(apiType, p.Token),
	}
}

func adsConfigSource(noInitialFetchTimeout bool) *corev3.ConfigSource {
	cs := &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
	if noInitialFetchTimeout {
		cs.InitialFetchTimeout = durationpb.New(0)
	}
	return cs
}

// adsAPIConfigSource is a gRPC API source on the ADS cluster carrying the token as the
// "authorization" initial metadata (no "Bearer" prefix).
func adsAPIConfigSource(apiType corev3.ApiConfigSource_ApiType, token string) *corev3.ApiConfigSource {
	svc := &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
		EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: ADSClusterName},
	}}
	if token != "" {
		svc.InitialMetadata = []*corev3.HeaderValue{{Key: "authorization", Value: token}}
	}
	return &corev3.ApiConfigSource{
		ApiType:                   apiType,
		TransportApiVersion:       corev3.ApiVersion_V3,
		SetNodeOnFirstMessageOnly: true,
		GrpcServices:              []*corev3.GrpcService{svc},
	}
}

// staticClusters are the access log sink (a unix socket served by the agent) and the
// control plane's xDS server, both HTTP/2.
func staticClusters(p Params) ([]*clusterv3.Cluster, error) {
	sink := staticCluster(AccessLogSinkClusterName, p.XDSConnectTimeout, &corev3.Address{
		Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: AccessLogSocketPath(p.Workdir, p.Name, p.Mesh)}},
	})
	sink.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}

	ads := staticCluster(ADSClusterName, p.XDSConnectTimeout, &corev3.Address{
		Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       p.XDSHost,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: p.XDSPort},
		}},
	})
	ads.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
	if net.ParseIP(p.XDSHost) != nil {
		ads.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	}
	if !p.Plaintext {
		socket, err := upstreamTLS(p)
		if err != nil {
			return nil, err
		}
		ads.TransportSocket = socket
	}
	for _, c := range []*clusterv3.Cluster{sink, ads} {
		if err := useHTTP2(c); err != nil {
			return nil, err
		}
	}
	return []*clusterv3.Cluster{sink, ads}, nil
}

func staticCluster(name string, connectTimeout time.Duration, addr *corev3.Address) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:           name,
		ConnectTimeout: durationpb.New(connectTimeout),
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
		UpstreamConnectionOptions: &clusterv3.UpstreamConnectionOptions{
			TcpKeepalive: &corev3.TcpKeepalive{
				KeepaliveProbes:   wrapperspb.UInt32(3),
				KeepaliveTime:     wrapperspb.UInt32(10),
				KeepaliveInterval: wrapperspb.UInt32(10),
			},
		},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}},
				}},
			}},
		},
	}
}

func useHTTP2(c *clusterv3.Cluster) error {
	opts, err := marshalAny(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		return err
	}
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts,
	}
	return nil
}

// upstreamTLS is TLS 1.2+ to the control plane with SNI = the CP host, verified against the
// cp_validation_ctx secret when a CA is known.
func upstreamTLS(p Params) (*corev3.TransportSocket, error) {
	common := &tlsv3.CommonTlsContext{
		TlsParams: &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2},
	}
	if len(p.CACert) > 0 {
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: CPValidationContextName},
		}
	}
	cfg, err := marshalAny(&tlsv3.UpstreamTlsContext{Sni: p.XDSHost, CommonTlsContext: common})
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: cfg},
	}, nil
}

// secrets holds the CA and the names the control plane's certificate must carry.
func secrets(p Params) []*tlsv3.Secret {
	if p.Plaintext || len(p.CACert) == 0 {
		return nil
	}
	var sans []*tlsv3.SubjectAltNameMatcher
	for _, t := range []tlsv3.SubjectAltNameMatcher_SanType{tlsv3.SubjectAltNameMatcher_DNS, tlsv3.SubjectAltNameMatcher_IP_ADDRESS} {
		sans = append(sans, &tlsv3.SubjectAltNameMatcher{
			SanType: t,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: p.XDSHost}},
		})
	}
	return []*tlsv3.Secret{{
		Name: CPValidationContextName,
		Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			MatchTypedSubjectAltNames: sans,
			TrustedCa:                 &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: p.CACert}},
		}},
	}}
}

func hasFeature(features []string, f string) bool {
	for _, x := range features {
		if x == f {
			return true
		}
	}
	return false
}

// marshalAny packs m deterministically so equal bootstraps render to equal bytes.
func marshalAny(m proto.Message) (*anypb.Any, error) {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		return nil, fmt.Errorf("bootstrap: marshal %T: %w", m, err)
	}
	return a, nil
}
