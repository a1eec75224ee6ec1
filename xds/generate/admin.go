package generate

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// adminConnectTimeout is Kuma's DefaultTimeout for system clusters.
const adminConnectTimeout = 5 * time.Second

// admin adds Kuma's admin resources. Envoy's admin API itself listens on 127.0.0.1:<port>
// (kuma-dp's bootstrap); the cluster "kuma:envoy:admin" points at it. The listener
// "kuma:envoy:admin" binds the same port on the dataplane's own address so that the outside
// can reach a safe part of it: only /ready, answered by kuma-dp's readiness reporter (or by
// Envoy's /ready when kuma-dp reports no readiness port). When the dataplane address is
// 127.0.0.1 the listener would collide with the admin API, so, like Kuma, we leave it out.
//
// Kuma also adds a TLS filter chain that exposes the whole admin API to the control plane
// (for `kumactl inspect`), authenticated with certificates the control plane issues.
// TODO(security): add it with those certificates.
func (g *generator) admin() {
	port := g.p.Admin.Port
	if port == 0 {
		return
	}
	g.b.clusters.add(staticCluster(AdminName, loopbackIP, port))
	readyCluster := AdminName
	if rp := g.p.Admin.ReadinessPort; rp != 0 {
		readyCluster = ReadinessName
		g.b.clusters.add(staticCluster(ReadinessName, loopbackIP, rp))
	}
	address := g.p.Dataplane.Spec.Networking.Address
	if address == "" || address == loopbackIP {
		return
	}
	rc := &routev3.RouteConfiguration{
		ValidateClusters: wrapperspb.Bool(false),
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    AdminName,
			Domains: []string{"*"},
			Routes: []*routev3.Route{{
				Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/ready"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{
					ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: readyCluster},
					PrefixRewrite:    "/ready",
				}},
			}},
		}},
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:            SanitizeMetric(AdminName),
		HttpFilters:           []*hcmv3.HttpFilter{g.routerFilter()},
		RouteSpecifier:        &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc},
		InternalAddressConfig: internalAddressConfig(),
	}
	g.b.listeners.add(&listenerv3.Listener{
		Name:             AdminName,
		Address:          socketAddress(address, port),
		EnableReusePort:  wrapperspb.Bool(false),
		TrafficDirection: corev3.TrafficDirection_INBOUND,
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       wellknown.HTTPConnectionManager,
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(hcm)},
		}}}},
	})
}

func staticCluster(name, address string, port uint32) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		AltStatName:          altStatName(name),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(adminConnectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress(address, port),
					}},
				}},
			}},
		},
	}
}
