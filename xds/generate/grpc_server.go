package generate

import (
	"net"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// GRPCServerListenerTemplate is the server_listener_resource_name_template an xDS-enabled
// grpc-go server (xds.NewGRPCServer) needs in its bootstrap to ask for the listeners
// GRPCClient generates for the dataplane's inbounds.
const GRPCServerListenerTemplate = "grpc/server?xds.resource.listening_address=%s"

// GRPCServerListenerName is the listener an xDS-enabled grpc-go server listening on
// address:port asks for (the template with "<address>:<port>").
func GRPCServerListenerName(address string, port uint32) string {
	return "grpc/server?xds.resource.listening_address=" + net.JoinHostPort(address, strconv.FormatUint(uint64(port), 10))
}

// grpcServerListeners gives an xDS-enabled grpc-go server what a sidecar's inbound listener
// does for Envoy, in the form grpc-go accepts: the mesh's mTLS (certificate provider
// instances, client certificate required) and MeshTrafficPermission's RBAC as an HTTP
// filter, with a non-forwarding route (the server handles the RPC itself). Only `from`
// permissions are expressible: grpc-go has no RBAC matcher trees, so an inbound governed by
// `rules` denies every RPC rather than allow more than the policy says.
func (g *generator) grpcServerListeners() {
	if !g.mtlsOn() {
		return // without mTLS grpc-go servers need nothing from the mesh
	}
	n := g.p.Dataplane.Spec.Networking
	for i := range n.Inbound {
		in := &n.Inbound[i]
		iface := n.InboundInterface(in)
		if iface.DataplanePort == serviceLessPort {
			continue
		}
		rbac, err := InboundRBAC(g.p.Mesh, g.p.Dataplane, in, g.p.Permissions)
		g.fail(err)
		var filters []*hcmv3.HttpFilter
		if rbac != nil {
			if rbac.Matcher != nil {
				rbac = denyAllRBAC()
			}
			filters = append(filters, rbac.httpFilter(&g.packer))
		}
		name := GRPCServerListenerName(iface.DataplaneIP, iface.DataplanePort)
		rc := routeConfiguration(InboundRouteName(in.Service()), in.Service(), &routev3.Route{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_NonForwardingAction{NonForwardingAction: &routev3.NonForwardingAction{}},
		})
		hcm := &hcmv3.HttpConnectionManager{
			StatPrefix:     SanitizeMetric(name),
			HttpFilters:    append(filters, g.routerFilter()),
			RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: rc},
		}
		g.b.listeners.add(&listenerv3.Listener{
			Name:             name,
			Address:          socketAddress(iface.DataplaneIP, iface.DataplanePort),
			TrafficDirection: corev3.TrafficDirection_INBOUND,
			FilterChains: []*listenerv3.FilterChain{{
				Filters: []*listenerv3.Filter{{Name: wellknown.HTTPConnectionManager,
					ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(hcm)}}},
				TransportSocket: g.tlsSocket(&tlsv3.DownstreamTlsContext{
					CommonTlsContext:         grpcCommonTLS(nil),
					RequireClientCertificate: wrapperspb.Bool(true),
				}),
			}},
		})
	}
}

// denyAllRBAC is an ALLOW policy set without policies: nothing is allowed.
func denyAllRBAC() *RBAC {
	return &RBAC{Rules: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{}}}
}
