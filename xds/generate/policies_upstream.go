package generate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
	"github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
	"github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// This file applies the policies that shape how calls reach upstream hosts
// (MeshCircuitBreaker, MeshHealthCheck, MeshLoadBalancingStrategy, ...). They hook into policies.go's matchPolicies, inboundPolicies,
// outboundPolicies, outboundClusterPolicies and grpcClientPolicies with one call each.

// upstreamPolicies are the matched results of this file's policy types; nil means no policy
// of the type selects the proxy.
type upstreamPolicies struct {
	circuitBreakers *rules.Result[meshcircuitbreaker.Conf]
	healthChecks    *rules.Result[meshhealthcheck.Conf]
	loadBalancing   *rules.Result[meshloadbalancingstrategy.Conf]
}

// matchUpstream computes the rules of this file's policy types for the proxy.
func (g *generator) matchUpstream() {
	g.m.upstream.circuitBreakers = compute(g, g.p.Policies.CircuitBreakers, meshcircuitbreaker.Options)
	g.m.upstream.healthChecks = compute(g, g.p.Policies.HealthChecks, rules.Options{})
	g.m.upstream.loadBalancing = compute(g, g.p.Policies.LoadBalancing, rules.Options{})
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

// inboundUpstream configures an inbound's local cluster with the inbound's catch-all conf
// (Kuma's MatchesAllIncomingTraffic: the cluster serves every client).
func (g *generator) inboundUpstream(key rules.Inbound, _ *listenerv3.Listener, local *clusterv3.Cluster) {
	if t := g.m.upstream.circuitBreakers; t != nil {
		conf, _, _, err := t.CatchAll(key)
		g.fail(err)
		g.fail(meshcircuitbreaker.ConfigureCluster(local, conf))
	}
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
			_, err := meshloadbalancingstrategy.ConfigureCluster(c, r.Conf, g.grpcClient)
			g.fail(err)
		}
	}
}

// loadAssignmentUpstream reorders the priorities of an outbound's load assignment by zone.
func (g *generator) loadAssignmentUpstream(o outbound, cla *endpointv3.ClusterLoadAssignment) {
	if t := g.m.upstream.loadBalancing; t != nil {
		if r, ok := t.ToRule(o.service); ok {
			meshloadbalancingstrategy.ConfigureLoadAssignment(cla, r.Conf, g.p.Zone)
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
}

// proberTags is the x-kuma-tags value of this proxy (its inbounds' tags).
func (g *generator) proberTags() string {
	var all []map[string]string
	for _, in := range g.p.Dataplane.Spec.Networking.Inbound {
		all = append(all, in.Tags)
	}
	return meshhealthcheck.SerializeTags(all)
}
