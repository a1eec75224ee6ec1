package generate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
	"github.com/jetmesh/jetmesh/xds/policies/meshfaultinjection"
	"github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
	"github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// This file applies the policies that shape how calls reach upstream hosts
// (MeshCircuitBreaker, MeshHealthCheck, MeshLoadBalancingStrategy, MeshFaultInjection). They
// hook into policies.go's matchPolicies, inboundPolicies, outboundPolicies,
// outboundClusterPolicies and grpcClientPolicies, and outbound.go's backendClusters, with one
// call each, so that other policy types can be added there without touching these.

// upstreamPolicies are the matched results of this file's policy types; nil means no policy
// of the type selects the proxy.
type upstreamPolicies struct {
	circuitBreakers *rules.Result[meshcircuitbreaker.Conf]
	healthChecks    *rules.Result[meshhealthcheck.Conf]
	loadBalancing   *rules.Result[meshloadbalancingstrategy.Conf]
	faults          *rules.Result[meshfaultinjection.Conf]
}

// matchUpstream computes the rules of this file's policy types for the proxy.
func (g *generator) matchUpstream() {
	g.m.upstream.circuitBreakers = compute(g, g.p.Policies.CircuitBreakers, meshcircuitbreaker.Options)
	g.m.upstream.healthChecks = compute(g, g.p.Policies.HealthChecks, rules.Options{})
	g.m.upstream.loadBalancing = compute(g, g.p.Policies.LoadBalancing, rules.Options{})
	g.m.upstream.faults = compute(g, g.p.Policies.Faults, rules.Options{})
}

// compute matches one policy type against the proxy; nil when no policy selects it.
func compute[C any](g *generator, ps []rules.Policy[C], opts rules.Options) *rules.Result[C] {
	res, err := rules.Compute(g.p.Dataplane, ps, opts)
	if err != nil {
		g.fail(err)
		return nil
	}
	if len(res.Policies) == 0 {
		return nil
	}
	return res
}

// inboundUpstream configures an inbound: its local cluster with the catch-all circuit
// breaker conf (Kuma's MatchesAllIncomingTraffic: the cluster serves every client), its HTTP
// connection manager with the faults every client gets.
func (g *generator) inboundUpstream(key rules.Inbound, l *listenerv3.Listener, local *clusterv3.Cluster) {
	if t := g.m.upstream.circuitBreakers; t != nil {
		conf, _, _, err := t.CatchAll(key)
		g.fail(err)
		g.fail(meshcircuitbreaker.ConfigureCluster(local, conf))
	}
	if t := g.m.upstream.faults; t != nil {
		g.fail(meshfaultinjection.ConfigureListener(l, inboundFaults(t, key), false))
	}
}

// inboundFaults are the faults every client of an inbound gets, in Kuma's order: its rules
// without matches, or, when it has no rules, its from rules for the whole mesh. Rules that
// match a client's SPIFFE ID or SNI, and from items for some services, need the client's
// identity, which jetmesh does not have until mTLS exists: they inject nothing yet.
func inboundFaults(t *rules.Result[meshfaultinjection.Conf], key rules.Inbound) []meshfaultinjection.Faults {
	var out []meshfaultinjection.Faults
	if irs := t.InboundRules[key]; len(irs) > 0 {
		for _, ir := range irs {
			if ir.Match == nil {
				out = append(out, meshfaultinjection.Faults{Name: faultName(ir.Origin.Policy), Conf: ir.Conf})
			}
		}
		return out
	}
	for _, r := range t.From[key] {
		if len(r.Subset) == 0 {
			name := ""
			if n := len(r.Origins); n > 0 {
				name = faultName(r.Origins[n-1].Policy)
			}
			out = append(out, meshfaultinjection.Faults{Name: name, Conf: r.Conf})
		}
	}
	return out
}

// faultName names a policy's fault filters by its KRI, as Kuma does.
func faultName(meta resources.Meta) string {
	return (&resources.Resource{Desc: meshfaultinjection.Descriptor, Meta: meta}).KRI()
}

// grpcClientFaults injects, into a grpc-go client's API listener, the faults the destination's
// inbounds would inject: a proxyless server has no sidecar, so its client is the only place
// left to apply them (as proxyless gRPC meshes do). The destination is read from its first
// endpoint's tags; policies selecting Dataplanes by name or labels do not see it.
func (g *generator) grpcClientFaults(o outbound, l *listenerv3.Listener) {
	eps := g.p.Endpoints[o.service]
	if len(g.p.Policies.Faults) == 0 || len(eps) == 0 {
		return
	}
	e := eps[0]
	in := core.Inbound{Port: e.Port, Tags: e.Tags}
	dest := rules.Dataplane{Meta: resources.Meta{Mesh: g.p.Mesh.Name, Name: o.service},
		Spec: &core.Dataplane{Networking: &core.DataplaneNetworking{Address: e.Address, Inbound: []core.Inbound{in}}}}
	res, err := rules.Compute(dest, g.p.Policies.Faults, rules.Options{})
	if err != nil {
		g.fail(err)
		return
	}
	key := rules.InboundOf(dest.Spec.Networking, &dest.Spec.Networking.Inbound[0])
	g.fail(meshfaultinjection.ConfigureListener(l, inboundFaults(res, key), true))
}

// clusterUpstream configures an outbound cluster (sidecar and grpc-go client alike). Like
// Kuma, a selected proxy's clusters get track_remaining even without a to rule for them.
func (g *generator) clusterUpstream(o outbound, c *clusterv3.Cluster) {
	if t := g.m.upstream.circuitBreakers; t != nil {
		r, _ := t.ToRule(o.service)
		g.fail(meshcircuitbreaker.ConfigureCluster(c, r.Conf))
	}
	// Health checks only where a to rule covers the service, as in Kuma. grpc-go ignores
	// them (it does no active health checking); they are still sent, as to a sidecar.
	if t := g.m.upstream.healthChecks; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			g.fail(meshhealthcheck.ConfigureCluster(c, r.Conf, o.protocol, g.proberTags()))
		}
	}
	if t := g.m.upstream.loadBalancing; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			// grpc-go NACKs load balancers it lacks (Random, Maglev): those keep round robin.
			g.fail(meshloadbalancingstrategy.ConfigureCluster(c, r.Conf, g.grpcClient))
		}
	}
}

// loadAssignmentUpstream reorders the priorities of an outbound's load assignment by zone.
func (g *generator) loadAssignmentUpstream(o outbound, cla *endpointv3.ClusterLoadAssignment) {
	if t := g.m.upstream.loadBalancing; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			meshloadbalancingstrategy.ConfigureLoadAssignment(cla, r.Conf, g.p.Zone, g.inboundTags())
		}
	}
}

// listenerUpstream configures the routes of an outbound listener (sidecar or grpc-go API
// listener) with the hash policies of its service.
func (g *generator) listenerUpstream(o outbound, l *listenerv3.Listener) {
	if t := g.m.upstream.loadBalancing; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			g.fail(meshloadbalancingstrategy.ConfigureListener(l, r.Conf))
		}
	}
	if g.grpcClient {
		g.grpcClientFaults(o, l)
	}
}

// proberTags is the x-kuma-tags value of this proxy (its inbounds' tags).
func (g *generator) proberTags() string {
	return meshhealthcheck.SerializeTags(g.inboundTags())
}

// inboundTags are the tags of each of the proxy's inbounds.
func (g *generator) inboundTags() []map[string]string {
	var all []map[string]string
	for _, in := range g.p.Dataplane.Spec.Networking.Inbound {
		all = append(all, in.Tags)
	}
	return all
}
