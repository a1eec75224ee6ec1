package generate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
)

// tagMesh is the tag Kuma strips from outbound listener metadata (cross-mesh gateways).
const tagMesh = "kuma.io/mesh"

// outbound is one legacy (tag-based) outbound, resolved.
type outbound struct {
	tags     map[string]string
	service  string
	cluster  string // ClusterName(tags)
	protocol string
	address  string
	port     uint32
}

// resolveOutbounds lists the outbounds Generate serves: tag-based ones with a kuma.io/service,
// then, with transparent proxying, the virtual IPs' (tproxy.go). Outbounds with a backendRef
// (MeshService and friends) are skipped until those resources exist here.
func resolveOutbounds(p *Proxy) []outbound {
	var out []outbound
	for _, o := range p.Dataplane.Spec.Networking.Outbound {
		service := o.Tags[resources.TagService]
		if o.BackendRef != nil || service == "" {
			continue
		}
		out = append(out, outbound{
			tags:     o.Tags,
			service:  service,
			cluster:  ClusterName(o.Tags),
			protocol: serviceProtocol(p.Endpoints[service], o.Tags),
			address:  outboundAddress(&o),
			port:     o.Port,
		})
	}
	return append(out, virtualOutbounds(p, out)...)
}

// serviceProtocol is the protocol of a service as Kuma infers it: the common protocol of all
// its endpoints' kuma.io/protocol tags. With no endpoints we fall back to the outbound's own
// kuma.io/protocol tag (our addition, so a client configured before its backend starts does not
// flip from tcp to http), then tcp.
func serviceProtocol(endpoints []Endpoint, outboundTags map[string]string) string {
	protocol := ""
	for i, e := range endpoints {
		p := resources.ParseProtocol(e.Tags[resources.TagProtocol])
		if i == 0 {
			protocol = p
		} else {
			protocol = commonProtocol(protocol, p)
		}
	}
	if len(endpoints) == 0 {
		protocol = resources.ParseProtocol(outboundTags[resources.TagProtocol])
	}
	if protocol == "" {
		return protocolTCP
	}
	return protocol
}

// outbounds adds a listener per outbound and a cluster plus load assignment per distinct
// destination (outbounds to the same service and subset share them, and so do routes).
func (g *generator) outbounds() {
	for _, o := range resolveOutbounds(g.p) {
		listener, backends := g.outboundListener(o)
		g.outboundPolicies(o, listener)
		g.outboundOpsPolicies(o, listener)
		g.b.listeners.add(listener)
		g.backendClusters(o, backends)
	}
}

// backendClusters adds the EDS cluster and load assignment of the outbound's own destination
// and of every other backend its routes send to.
func (g *generator) backendClusters(o outbound, backends []meshhttproute.Backend) {
	all := append([]meshhttproute.Backend{{Tags: o.tags}}, backends...)
	for _, b := range all {
		name := ClusterName(b.Tags)
		if g.b.clusters.has(name) {
			continue
		}
		svc := b.Service()
		dest := outbound{tags: b.Tags, service: svc, cluster: name, protocol: serviceProtocol(g.p.Endpoints[svc], b.Tags)}
		cluster := g.edsCluster(name, b.Tags)
		g.outboundClusterPolicies(dest, cluster)
		g.b.clusters.add(cluster)
		cla := loadAssignment(name, g.p.Endpoints[svc], b.Tags, g.p.Zone, g.p.Mesh.localityAware())
		g.loadAssignmentUpstream(dest, cla)
		g.b.endpoints.add(cla)
	}
}

// outboundListener is the listener of an outbound: an HttpConnectionManager with the
// MeshHTTPRoute routes for HTTP services, else a TCP proxy (to the MeshTCPRoute backends,
// if any). It returns the backends the routes use besides the outbound's own cluster.
func (g *generator) outboundListener(o outbound) (*listenerv3.Listener, []meshhttproute.Backend) {
	var filter *listenerv3.Filter
	var backends []meshhttproute.Backend
	httpConf, tcpRule, useTCPRoute := g.routesFor(o)
	if isHTTP(o.protocol) && !useTCPRoute {
		routes := g.httpRoutes(o, httpConf)
		backends = routes.Backends
		filter = g.outboundHCM(o, routes.Routes)
	} else {
		filter, backends = g.outboundTCPProxy(o, tcpRule)
	}
	metaTags := make(map[string]string, len(o.tags))
	for k, v := range o.tags {
		if k != tagMesh {
			metaTags[k] = v
		}
	}
	return &listenerv3.Listener{
		Name:             OutboundListenerName(o.address, o.port),
		Address:          socketAddress(o.address, o.port),
		TrafficDirection: corev3.TrafficDirection_OUTBOUND,
		Metadata:         tagsMetadata(metaTags),
		FilterChains:     []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{filter}}},
	}, backends
}

// outboundHCM is the HTTP side of an outbound: the routes to its backends.
func (g *generator) outboundHCM(o outbound, routes []*routev3.Route) *listenerv3.Filter {
	var filters []*hcmv3.HttpFilter
	if o.protocol == protocolGRPC {
		filters = append(filters, g.grpcStatsFilter())
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:  SanitizeMetric(o.service),
		HttpFilters: append(filters, g.routerFilter()),
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: routeConfiguration(
			OutboundRouteName(o.service), o.service, routes...)},
		InternalAddressConfig: internalAddressConfig(),
		NormalizePath:         wrapperspb.Bool(true),
	}
	return &listenerv3.Filter{
		Name:       wellknown.HTTPConnectionManager,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(hcm)},
	}
}

// edsCluster is a mesh service's cluster; endpoints come over ADS. Kuma 2.14 sets HTTP/2 on
// every mesh-internal cluster whatever the protocol: the peer sidecar's HttpConnectionManager
// auto-detects the codec, and tcp_proxy ignores HTTP options.
func (g *generator) edsCluster(name string, tags map[string]string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		AltStatName:          altStatName(name),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			ResourceApiVersion:    corev3.ApiVersion_V3,
		}},
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			httpProtocolOptionsKey: g.pack(&upstreamhttpv3.HttpProtocolOptions{UpstreamProtocolOptions: http2Config()}),
		},
		TransportSocket: g.clientTransportSocket(tags),
	}
}

// outboundAddress is where an outbound listens (Kuma's ToOutboundInterface).
func outboundAddress(o *core.Outbound) string {
	if o.Address != "" {
		return o.Address
	}
	return defaultOutboundIP
}
