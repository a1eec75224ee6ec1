package generate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// inbounds adds a listener and a local cluster per inbound. Every inbound gets a listener,
// ready or not: readiness only decides whether others send traffic to it (BuildEndpoints).
func (g *generator) inbounds() {
	n := g.p.Dataplane.Spec.Networking
	for i := range n.Inbound {
		in := &n.Inbound[i]
		iface := n.InboundInterface(in)
		if iface.DataplanePort == serviceLessPort {
			continue
		}
		protocol := inboundProtocol(in)
		local := LocalClusterName(iface.WorkloadPort)
		cluster := g.localCluster(local, iface, protocol)
		rbac, err := InboundRBAC(g.p.Mesh, g.p.Dataplane, in, g.p.Permissions)
		g.fail(err)
		listener := g.inboundListener(in, iface, protocol, local, rbac)
		g.inboundPolicies(rules.InboundOf(n, in), listener, cluster, protocol)
		g.inboundOpsPolicies(in, rules.InboundOf(n, in), listener, protocol)
		g.b.clusters.add(cluster)
		g.b.listeners.add(listener)
	}
}

// inboundProtocol is the inbound's protocol field, else its kuma.io/protocol tag, else tcp.
func inboundProtocol(in *core.Inbound) string {
	p := in.Protocol
	if p == "" {
		p = in.Tags[resources.TagProtocol]
	}
	if p = resources.ParseProtocol(p); p == "" {
		return protocolTCP
	}
	return p
}

// localCluster is the STATIC cluster forwarding to the workload, with Kuma's inbound
// timeouts and the protocol's upstream HTTP options.
func (g *generator) localCluster(name string, iface core.InboundInterface, protocol string) *clusterv3.Cluster {
	c := staticCluster(name, iface.WorkloadIP, iface.WorkloadPort)
	c.ConnectTimeout = durationpb.New(inboundConnectTimeout)
	c.TypedExtensionProtocolOptions = g.upstreamHTTPOptions(protocol, durationpb.New(inboundIdleTimeout))
	return c
}

func (g *generator) inboundListener(in *core.Inbound, iface core.InboundInterface, protocol, local string, rbac *RBAC) *listenerv3.Listener {
	name := InboundListenerName(iface.DataplaneIP, iface.DataplanePort)
	var filters []*listenerv3.Filter
	if isHTTP(protocol) {
		filters = []*listenerv3.Filter{g.inboundHCM(in, name, protocol, local, rbac)}
	} else {
		if rbac != nil {
			filters = append(filters, rbac.networkFilter(&g.packer, name))
		}
		filters = append(filters, g.tcpProxy(SanitizeMetric(local), local, durationpb.New(inboundIdleTimeout)))
	}
	return &listenerv3.Listener{
		Name:             name,
		Address:          socketAddress(iface.DataplaneIP, iface.DataplanePort),
		EnableReusePort:  wrapperspb.Bool(false),
		TrafficDirection: corev3.TrafficDirection_INBOUND,
		Metadata:         tagsMetadata(in.Tags),
		FilterChains: []*listenerv3.FilterChain{{
			Filters:         filters,
			TransportSocket: g.serverTransportSocket(),
		}},
	}
}

// inboundHCM terminates HTTP for the workload: RBAC first (when enforced), gRPC stats for
// grpc, the router last; Kuma's inbound timeouts; client certificate details forwarded so
// the workload can see the caller's identity once mTLS is on.
func (g *generator) inboundHCM(in *core.Inbound, listener, protocol, local string, rbac *RBAC) *listenerv3.Filter {
	routeName, vhost := InboundRouteName(in.Service()), in.Service()
	if in.Service() == "" {
		routeName, vhost = listener, listener
	}
	rc := routeConfiguration(routeName, vhost, catchAllRoute("", local))
	rc.RequestHeadersToRemove = []string{kumaTagsHeader}
	var filters []*hcmv3.HttpFilter
	if rbac != nil {
		filters = append(filters, rbac.httpFilter(&g.packer))
	}
	if protocol == protocolGRPC {
		filters = append(filters, g.grpcStatsFilter())
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:                  SanitizeMetric(local),
		HttpFilters:                 append(filters, g.routerFilter()),
		RouteSpecifier:              &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc},
		CommonHttpProtocolOptions:   &corev3.HttpProtocolOptions{IdleTimeout: durationpb.New(inboundIdleTimeout)},
		StreamIdleTimeout:           durationpb.New(inboundStreamIdleTimeout),
		ForwardClientCertDetails:    hcmv3.HttpConnectionManager_SANITIZE_SET,
		SetCurrentClientCertDetails: &hcmv3.HttpConnectionManager_SetCurrentClientCertDetails{Uri: true},
		InternalAddressConfig:       internalAddressConfig(),
	}
	return &listenerv3.Filter{
		Name:       wellknown.HTTPConnectionManager,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(hcm)},
	}
}

func (g *generator) tcpProxy(statPrefix, cluster string, idle *durationpb.Duration) *listenerv3.Filter {
	return &listenerv3.Filter{
		Name: wellknown.TCPProxy,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(&tcpproxyv3.TcpProxy{
			StatPrefix:       statPrefix,
			ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: cluster},
			IdleTimeout:      idle,
		})},
	}
}

func socketAddress(address string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       address,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
