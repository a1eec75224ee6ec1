package generate

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// GRPCClient returns the configuration grpc-go's xDS client needs to act as the proxy's
// outbound side: for every outbound, the API listener GRPCClientListener(name, name) where
// name is the outbound's cluster name (its kuma.io/service, or "<service>-<hash>" for a
// subset), and the same EDS clusters and load assignments Generate emits. A grpc-go client
// dials "xds:///<name>". Inbounds and admin resources are left out: grpc-go serves no
// Envoy-style listeners.
func GRPCClient(p *Proxy) (*Resources, error) {
	if err := checkProxy(p); err != nil {
		return nil, err
	}
	g := &generator{p: p, grpcClient: true}
	g.matchPolicies()
	for _, o := range resolveOutbounds(p) {
		if g.b.listeners.has(o.cluster) {
			continue
		}
		httpConf, _, _ := g.routesFor(o)
		routes := g.httpRoutes(o, httpConf)
		listener := g.grpcListener(o.cluster, routes.Routes)
		g.grpcClientPolicies(o, listener)
		g.b.listeners.add(listener)
		g.backendClusters(o, routes.Backends)
	}
	g.grpcServerListeners()
	// grpc-go never asks for SDS; the secrets ride along for agents that write them to the
	// files of grpc-go's file_watcher certificate providers.
	g.secrets()
	if g.err != nil {
		return nil, fmt.Errorf("generate gRPC client %s/%s: %w", p.Mesh.Name, p.Dataplane.Meta.Name, g.err)
	}
	return g.b.build(), nil
}

// GRPCClientListener is the Listener grpc-go fetches when a client dials "xds:///<name>": an
// api_listener holding an HttpConnectionManager whose inline route configuration sends every
// request to cluster, with the router as the only (so last) HTTP filter. grpc-go rejects
// HTTP filters it does not implement, so none of the sidecar's (grpc_stats) are here.
func GRPCClientListener(name, cluster string) (*listenerv3.Listener, error) {
	var g generator
	l := g.grpcClientListener(name, cluster)
	return l, g.err
}

func (g *generator) grpcClientListener(name, cluster string) *listenerv3.Listener {
	return g.grpcListener(name, []*routev3.Route{catchAllRoute(defaultRouteName, cluster)})
}

// grpcListener is an API listener with the given routes (MeshHTTPRoute's, which grpc-go
// matches by path and headers and splits by weight).
func (g *generator) grpcListener(name string, routes []*routev3.Route) *listenerv3.Listener {
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:  SanitizeMetric(name),
		HttpFilters: []*hcmv3.HttpFilter{g.routerFilter()},
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: routeConfiguration(
			OutboundRouteName(name), name, routes...)},
	}
	return &listenerv3.Listener{
		Name:        name,
		ApiListener: &listenerv3.ApiListener{ApiListener: g.pack(hcm)},
	}
}
