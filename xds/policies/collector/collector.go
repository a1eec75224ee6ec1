// Package collector builds the clusters that carry a proxy's telemetry to collectors outside
// the mesh (OpenTelemetry, Zipkin, Datadog): MeshAccessLog and MeshTrace share it, as Kuma's
// plugins share their "provided endpoint" clusters.
package collector

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// ConnectTimeout is Kuma's default cluster timeout, which its collector clusters use.
const ConnectTimeout = 5 * time.Second

// Endpoint is a collector's address.
type Endpoint struct {
	Host string
	Port uint32
	// HTTP2 makes the cluster speak HTTP/2 (gRPC collectors).
	HTTP2 bool
}

// ParseHostPort reads "host:port" as Kuma's ParseOtelEndpoint does: a missing or invalid
// port means defaultPort, a bare IPv6 address is a host.
func ParseHostPort(s string, defaultPort uint32) Endpoint {
	if strings.Count(s, ":") > 1 && !strings.Contains(s, "[") {
		return Endpoint{Host: s, Port: defaultPort}
	}
	u, err := url.Parse("otel://" + s)
	if err != nil || u.Hostname() == "" {
		return Endpoint{Host: s, Port: defaultPort}
	}
	port := defaultPort
	if p, err := strconv.ParseUint(u.Port(), 10, 16); err == nil && p > 0 {
		port = uint32(p)
	}
	return Endpoint{Host: u.Hostname(), Port: port}
}

// Cluster is the cluster of one collector: STATIC for an IP address, STRICT_DNS for a name,
// with HTTP/2 for gRPC collectors.
func Cluster(name string, e Endpoint) (*clusterv3.Cluster, error) {
	c := &clusterv3.Cluster{
		Name:                 name,
		ConnectTimeout:       durationpb.New(ConnectTimeout),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       e.Host,
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: e.Port},
					}}},
				}},
			}}}},
		},
	}
	if net.ParseIP(e.Host) != nil {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	}
	if e.HTTP2 {
		opts, err := patch.Pack(&upstreamhttpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
				ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
						Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
					},
				},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("collector cluster %s: %w", name, err)
		}
		c.TypedExtensionProtocolOptions = map[string]*anypb.Any{patch.HTTPProtocolOptionsKey: opts}
	}
	return c, nil
}
