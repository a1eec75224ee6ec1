package generate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"

	"github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
	"github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
	"github.com/jetmesh/jetmesh/xds/policies/meshfaultinjection"
	"github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
	"github.com/jetmesh/jetmesh/xds/policies/meshproxypatch"
	"github.com/jetmesh/jetmesh/xds/policies/meshratelimit"

	"github.com/jetmesh/jetmesh/xds/policies/meshretry"
	"github.com/jetmesh/jetmesh/xds/policies/meshtcproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshtimeout"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrace"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Policies are the targetRef policies of the proxy's mesh, one list per type, each policy in
// the form the rules framework reads. They are all of the mesh's: Generate matches them
// against the dataplane (the projection does not need to know the matching rules).
type Policies struct {
	Timeouts []rules.Policy[meshtimeout.Conf]
	Retries  []rules.Policy[meshretry.Conf]
	// HTTPRoutes and TCPRoutes decide where outbound traffic goes.
	HTTPRoutes []rules.Policy[meshhttproute.Conf]
	TCPRoutes  []rules.Policy[meshtcproute.Rule]
	// CircuitBreakers and the types after it are applied in policies_upstream.go.
	CircuitBreakers []rules.Policy[meshcircuitbreaker.Conf]
	HealthChecks    []rules.Policy[meshhealthcheck.Conf]
	LoadBalancing   []rules.Policy[meshloadbalancingstrategy.Conf]
	Faults          []rules.Policy[meshfaultinjection.Conf]
	// RateLimits limit what inbounds receive.
	RateLimits []rules.Policy[meshratelimit.Conf]
	// AccessLogs log what inbounds receive and outbounds send.
	AccessLogs []rules.Policy[meshaccesslog.Conf]
	// Traces turn on tracing in HTTP listeners.
	Traces []rules.Policy[meshtrace.Conf]
	// ProxyPatches modify the generated resources, last.
	ProxyPatches []rules.Policy[meshproxypatch.Conf]
}

// matched is what the policies mean for this proxy. A nil result means no policy of the type
// selects the proxy: then its configurer does not run and the generator's own defaults (Kuma's
// defaults without that policy) stay.
type matched struct {
	timeouts *rules.Result[meshtimeout.Conf]
	retries  *rules.Result[meshretry.Conf]
	http     *rules.Result[meshhttproute.Conf]
	tcp      *rules.Result[meshtcproute.Rule]
	upstream upstreamPolicies
	rateLim  *rules.Result[meshratelimit.Conf]
}

func (g *generator) matchPolicies() {
	dp := g.p.Dataplane
	if res, err := rules.Compute(dp, g.p.Policies.Timeouts, meshtimeout.Options); err != nil {
		g.fail(err)
	} else if len(res.Policies) > 0 {
		g.m.timeouts = res
	}
	if res, err := rules.Compute(dp, g.p.Policies.Retries, rules.Options{}); err != nil {
		g.fail(err)
	} else if len(res.Policies) > 0 {
		g.m.retries = res
	}
	if res, err := rules.Compute(dp, g.p.Policies.HTTPRoutes, rules.Options{}); err != nil {
		g.fail(err)
	} else if len(res.Policies) > 0 {
		g.m.http = res
	}
	if res, err := rules.Compute(dp, g.p.Policies.TCPRoutes, rules.Options{}); err != nil {
		g.fail(err)
	} else if len(res.Policies) > 0 {
		g.m.tcp = res
	}
	g.matchUpstream()
	if res, err := rules.Compute(dp, g.p.Policies.RateLimits, meshratelimit.Options); err != nil {
		g.fail(err)
	} else if len(res.Policies) > 0 {
		g.m.rateLim = res
	}
	g.matchOpsPolicies()
}

// routesFor looks up the route policies of an outbound. As in Kuma, an HTTP service with a
// MeshTCPRoute and no MeshHTTPRoute is routed as TCP (useTCPRoute). Unlike Kuma, which
// turns a TCP service with a MeshHTTPRoute into an HTTP listener, a non-HTTP outbound
// ignores MeshHTTPRoutes: its traffic cannot be parsed as HTTP.
func (g *generator) routesFor(o outbound) (httpConf *meshhttproute.Conf, tcpRule *meshtcproute.Rule, useTCPRoute bool) {
	if g.m.http != nil {
		if r, ok := g.m.http.ToRule(o.service); ok {
			httpConf = &r.Conf
		}
	}
	if g.m.tcp != nil {
		if r, ok := g.m.tcp.ToRule(o.service); ok {
			tcpRule = &r.Conf
		}
	}
	return httpConf, tcpRule, tcpRule != nil && httpConf == nil
}

// httpRoutes are the routes of an HTTP outbound: its MeshHTTPRoute rules (if any) and the
// catch-all route to the outbound's own cluster.
func (g *generator) httpRoutes(o outbound, conf *meshhttproute.Conf) meshhttproute.Routes {
	routes, err := meshhttproute.BuildRoutes(conf, meshhttproute.Backend{Tags: o.tags}, ClusterName)
	g.fail(err)
	return routes
}

// outboundTCPProxy is the TCP side of an outbound, to the MeshTCPRoute backends if a rule
// applies, else to the outbound's cluster.
func (g *generator) outboundTCPProxy(o outbound, rule *meshtcproute.Rule) (*listenerv3.Filter, []meshhttproute.Backend) {
	t := &tcpproxyv3.TcpProxy{StatPrefix: SanitizeMetric(o.service),
		ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: o.cluster}}
	var backends []meshhttproute.Backend
	if rule != nil {
		var err error
		backends, err = meshtcproute.ConfigureTCPProxy(t, *rule, ClusterName)
		g.fail(err)
	}
	return &listenerv3.Filter{
		Name:       wellknown.TCPProxy,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(t)},
	}, backends
}

func (g *generator) fail(err error) {
	if err != nil && g.err == nil {
		g.err = err
	}
}

// inboundPolicies configures an inbound's listener and local cluster. Like Kuma, the inbound's
// common MeshTimeout conf (rules without a match, merged) applies when the inbound has such
// rules or no rules at all.
func (g *generator) inboundPolicies(key rules.Inbound, l *listenerv3.Listener, local *clusterv3.Cluster, protocol string) {
	if t := g.m.timeouts; t != nil {
		conf, _, hasCatchAll, err := t.CatchAll(key)
		g.fail(err)
		if hasCatchAll || len(t.InboundRules[key]) == 0 {
			g.fail(meshtimeout.ConfigureListener(l, conf))
			g.fail(meshtimeout.ConfigureCluster(local, conf, protocol))
		}
	}
	g.inboundUpstream(key, l, local)
	// Rate limits: the same catch-all rule. Rules matching a client's SPIFFE ID are not
	// applied: they need the peer's certificate, and inbound mTLS is not generated yet.
	if t := g.m.rateLim; t != nil {
		conf, _, hasCatchAll, err := t.CatchAll(key)
		g.fail(err)
		if hasCatchAll || len(t.InboundRules[key]) == 0 {
			g.fail(meshratelimit.ConfigureInbound(l, conf))
		}
	}
}

// outboundPolicies configures an outbound's listener with the to rules of its service.
func (g *generator) outboundPolicies(o outbound, l *listenerv3.Listener) {
	if t := g.m.timeouts; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			g.fail(meshtimeout.ConfigureListener(l, r.Conf))
		}
	}
	if t := g.m.retries; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			g.fail(meshretry.ConfigureListener(l, r.Conf, o.protocol))
		}
	}
	g.listenerUpstream(o, l)
}

// outboundClusterPolicies configures an outbound's cluster. Kuma configures clusters even
// when no to rule covers the service: they get the timeout defaults.
func (g *generator) outboundClusterPolicies(o outbound, c *clusterv3.Cluster) {
	if t := g.m.timeouts; t != nil {
		r, _ := t.ToRule(o.service)
		g.fail(meshtimeout.ConfigureCluster(c, r.Conf, o.protocol))
	}
	g.clusterUpstream(o, c)
}

// grpcClientPolicies configures the API listener of a grpc-go client.
func (g *generator) grpcClientPolicies(o outbound, l *listenerv3.Listener) {
	if t := g.m.timeouts; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			g.fail(meshtimeout.ConfigureGRPCClientListener(l, r.Conf))
		}
	}
	if t := g.m.retries; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			g.fail(meshretry.ConfigureGRPCClientListener(l, r.Conf))
		}
	}
	g.listenerUpstream(o, l)
}
