package generate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	grpcstatsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_stats/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources"
)

// Protocols, as resources.ParseProtocol returns them.
const (
	protocolTCP   = "tcp"
	protocolHTTP  = "http"
	protocolHTTP2 = "http2"
	protocolGRPC  = "grpc"
)

// httpProtocolOptionsKey is where clusters carry their upstream HTTP settings.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// Kuma's DefaultInboundTimeout: twice the outbound defaults, so the caller's side times out
// first.
const (
	inboundConnectTimeout    = 10 * time.Second
	inboundIdleTimeout       = 2 * time.Hour
	inboundStreamIdleTimeout = time.Hour
)

// isHTTP reports whether Envoy should terminate the protocol with an HttpConnectionManager.
// Kafka, TLS and MySQL are proxied as TCP (Kuma adds a Kafka filter; we do not yet).
func isHTTP(protocol string) bool {
	return protocol == protocolHTTP || protocol == protocolHTTP2 || protocol == protocolGRPC
}

// commonProtocol is Kuma's GetCommonProtocol: the most specific protocol both sides speak
// (grpc and http2 → http2, http and tcp → tcp), "" when either is unknown.
func commonProtocol(a, b string) string {
	if a == b {
		return a
	}
	if a == "" || b == "" {
		return ""
	}
	for _, pa := range protocolStack(a) {
		for _, pb := range protocolStack(b) {
			if pa == pb {
				return pa
			}
		}
	}
	return ""
}

// protocolStack lists what a protocol can be proxied as, most specific first.
func protocolStack(p string) []string {
	switch p {
	case protocolGRPC:
		return []string{protocolGRPC, protocolHTTP2, protocolTCP}
	case protocolHTTP2:
		return []string{protocolHTTP2, protocolTCP}
	case protocolHTTP:
		return []string{protocolHTTP, protocolTCP}
	case "kafka":
		return []string{"kafka", protocolTCP}
	case "tls", protocolTCP:
		return []string{protocolTCP}
	default:
		return nil
	}
}

// packer turns messages into Any with deterministic encoding (maps inside typed configs must
// not make versions flap). It keeps the first error, like bufio.Scanner, so builders stay
// readable; the error can only come from invalid UTF-8 in a string.
type packer struct{ err error }

func (p *packer) pack(m proto.Message) *anypb.Any {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		if p.err == nil {
			p.err = err
		}
		return nil
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}
}

func (p *packer) routerFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name:       wellknown.Router,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: p.pack(&routerv3.Router{})},
	}
}

func (p *packer) grpcStatsFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name: wellknown.HTTPGRPCStats,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: p.pack(&grpcstatsv3.FilterConfig{
			EmitFilterState: true,
		})},
	}
}

// internalAddressConfig marks loopback peers as internal (Kuma's default when the control
// plane has no configured internal addresses). We always list ::1 too: harmless on IPv4-only
// hosts and correct on IPv6 ones, where Kuma would add it.
func internalAddressConfig() *hcmv3.HttpConnectionManager_InternalAddressConfig {
	return &hcmv3.HttpConnectionManager_InternalAddressConfig{
		CidrRanges: []*corev3.CidrRange{
			{AddressPrefix: "127.0.0.1", PrefixLen: wrapperspb.UInt32(32)},
			{AddressPrefix: "::1", PrefixLen: wrapperspb.UInt32(128)},
		},
	}
}

// catchAllRoute routes everything to cluster. The timeout is 0 (disabled) as in Kuma without
// a MeshTimeout; grpc-go ignores it.
func catchAllRoute(name, cluster string) *routev3.Route {
	return &routev3.Route{
		Name:  name,
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster},
			Timeout:          durationpb.New(0),
		}},
	}
}

// routeConfiguration is one virtual host matching every authority, with the routes in order.
func routeConfiguration(name, virtualHost string, routes ...*routev3.Route) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{
		Name: name,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    virtualHost,
			Domains: []string{"*"},
			Routes:  routes,
		}},
		ValidateClusters: wrapperspb.Bool(false),
	}
}

// upstreamHTTPOptions is the cluster's HttpProtocolOptions for protocol: HTTP/1.1 for http,
// HTTP/2 for http2 and grpc, none otherwise; idle, when set, is the upstream idle timeout.
func (p *packer) upstreamHTTPOptions(protocol string, idle *durationpb.Duration) map[string]*anypb.Any {
	opts := &upstreamhttpv3.HttpProtocolOptions{}
	switch protocol {
	case protocolHTTP:
		opts.UpstreamProtocolOptions = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
					HttpProtocolOptions: &corev3.Http1ProtocolOptions{},
				},
			},
		}
	case protocolHTTP2, protocolGRPC:
		opts.UpstreamProtocolOptions = http2Config()
	default:
		return nil
	}
	if idle != nil {
		opts.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{IdleTimeout: idle}
	}
	return map[string]*anypb.Any{httpProtocolOptionsKey: p.pack(opts)}
}

func http2Config() *upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_ {
	return &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
		ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
				Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
			},
		},
	}
}

// tagsMetadata is the listener metadata Kuma attaches: the inbound's or outbound's tags under
// io.kuma.tags (its policies and inspection APIs read them back).
func tagsMetadata(tags map[string]string) *corev3.Metadata {
	if len(tags) == 0 {
		return nil
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{tagsMetadataKey: tagStruct(tags)}}
}

// endpointMetadata is Kuma's EndpointMetadata: the endpoint's tags except kuma.io/service
// (the cluster name already says it) for subset load balancing and transport socket matches.
func endpointMetadata(tags map[string]string) *corev3.Metadata {
	rest := make(map[string]string, len(tags))
	for k, v := range tags {
		if k != resources.TagService {
			rest[k] = v
		}
	}
	if len(rest) == 0 {
		return nil
	}
	// Two separate structs: resources must not alias each other's parts.
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		lbMetadataKey:      tagStruct(rest),
		tsMatchMetadataKey: tagStruct(rest),
	}}
}

func tagStruct(tags map[string]string) *structpb.Struct {
	fields := make(map[string]*structpb.Value, len(tags))
	for k, v := range tags {
		fields[k] = structpb.NewStringValue(v)
	}
	return &structpb.Struct{Fields: fields}
}
