package generate

import (
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"google.golang.org/protobuf/proto"

	"github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
	"github.com/jetmesh/jetmesh/xds/policies/meshproxypatch"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrace"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// The operational policies (MeshAccessLog, MeshTrace, MeshProxyPatch): what they add to the
// listeners and clusters the traffic policies configured. Their matching is in
// matchOpsPolicies, their extra clusters (collectors) come from opsClusters.

// opsMatched is what the operational policies mean for this proxy; nil: no policy of the
// type selects it.
type opsMatched struct {
	accessLogs *rules.Result[meshaccesslog.Conf]
	// logs builds access logs and remembers the collectors they send to.
	logs *meshaccesslog.Builder
	// trace is the merged MeshTrace conf of the proxy (one for all its listeners).
	trace *meshtrace.Conf
	// patches are the MeshProxyPatch modifications of the proxy, least specific policy's first.
	patches []meshproxypatch.Modification
}

func (g *generator) matchOpsPolicies() {
	dp := g.p.Dataplane
	if res, err := rules.Compute(dp, g.p.Policies.AccessLogs, meshaccesslog.Options); err != nil {
		g.fail(err)
	} else if len(res.Policies) > 0 {
		g.ops.accessLogs = res
		g.ops.logs = meshaccesslog.NewBuilder(meshaccesslog.SocketPath(g.p.Admin.WorkDir, dp.Meta.Name, g.p.Mesh.Name))
	}
	if res, err := rules.Compute(dp, g.p.Policies.Traces, rules.Options{}); err != nil {
		g.fail(err)
	} else if r, ok := rules.ComputeRule(res.To, nil); ok {
		g.ops.trace = &r.Conf
	}
	if res, err := rules.Compute(dp, g.p.Policies.ProxyPatches, rules.Options{}); err != nil {
		g.fail(err)
	} else if r, ok := rules.ComputeRule(res.To, nil); ok && r.Conf.AppendModifications != nil {
		g.ops.patches = *r.Conf.AppendModifications
	}
}

// proxyPatch applies the MeshProxyPatch modifications to the finished resources, last, as
// Kuma does, and validates the result: a modification that produces a config Envoy would
// reject fails generation (the proxy keeps its previous config) instead of reaching it.
func (g *generator) proxyPatch(res *Resources) error {
	if len(g.ops.patches) == 0 {
		return nil
	}
	r := &meshproxypatch.Resources{Listeners: res.Listeners, Clusters: res.Clusters, Origin: origin}
	if err := meshproxypatch.Apply(r, g.ops.patches); err != nil {
		return err
	}
	res.Listeners, res.Clusters = r.Listeners, r.Clusters
	if err := Validate(res); err != nil {
		return fmt.Errorf("meshproxypatch produced invalid config: %w", err)
	}
	return nil
}

// origin is the origin of a generated resource, in Kuma's names, which MeshProxyPatch
// matches select by.
func origin(m proto.Message) string {
	switch r := m.(type) {
	case *listenerv3.Listener:
		switch r.GetTrafficDirection() {
		case corev3.TrafficDirection_INBOUND:
			return "inbound"
		case corev3.TrafficDirection_OUTBOUND:
			return "outbound"
		}
	case *clusterv3.Cluster:
		name := r.GetName()
		switch {
		case strings.HasPrefix(name, "localhost:"):
			return "inbound"
		case r.GetType() == clusterv3.Cluster_EDS:
			return "outbound"
		case strings.HasPrefix(name, "meshaccesslog:"):
			return "meshaccesslog"
		case strings.HasPrefix(name, "meshtrace:"):
			return "mesh-trace"
		}
	}
	return "admin"
}

// traceAt describes a listener for MeshTrace: the proxy's service (Kuma's IdentifyingName),
// the direction and, for outbounds, the destination.
func (g *generator) traceAt(direction corev3.TrafficDirection, destination string) meshtrace.Listener {
	at := meshtrace.Listener{Direction: direction, Destination: destination, Mesh: g.p.Mesh.Name,
		Zone: g.p.Dataplane.Meta.Labels[resources.TagZone]}
	if in := g.p.Dataplane.Spec.Networking.Inbound; len(in) > 0 {
		at.Service = in[0].Service()
	}
	return at
}

// logValues are the values of Kuma's access log operators on an inbound (in != nil) or on
// the outbound to service.
func (g *generator) logValues(in *core.Inbound, service string) meshaccesslog.Values {
	n := g.p.Dataplane.Spec.Networking
	v := meshaccesslog.Values{SourceIP: n.Address, Mesh: g.p.Mesh.Name,
		Zone: g.p.Dataplane.Meta.Labels[resources.TagZone]}
	if in != nil {
		v.SourceService, v.DestinationService, v.Direction = "unknown", in.Service(), "INBOUND"
		return v
	}
	if len(n.Inbound) > 0 {
		v.SourceService = n.Inbound[0].Service()
	}
	v.DestinationService, v.Direction = service, "OUTBOUND"
	return v
}

// inboundOpsPolicies adds an inbound's access logs: one per backend of every inbound rule
// (Kuma does not merge access log rules).
func (g *generator) inboundOpsPolicies(in *core.Inbound, key rules.Inbound, l *listenerv3.Listener, protocol string) {
	if t := g.ops.accessLogs; t != nil {
		logs, err := g.ops.logs.InboundLogs(t.InboundRules[key], meshaccesslog.DefaultFormat(protocol), g.logValues(in, ""))
		g.fail(err)
		g.fail(meshaccesslog.Attach(l, logs))
	}
	if g.ops.trace != nil {
		g.fail(meshtrace.ConfigureListener(l, *g.ops.trace, g.traceAt(corev3.TrafficDirection_INBOUND, "")))
	}
}

// outboundOpsPolicies adds the access logs of the to rule of the outbound's service.
func (g *generator) outboundOpsPolicies(o outbound, l *listenerv3.Listener) {
	if t := g.ops.accessLogs; t != nil {
		if r, ok := t.ToRule(o.service); ok && r.Conf.Backends != nil {
			logs, err := g.ops.logs.AccessLogs(*r.Conf.Backends, meshaccesslog.DefaultFormat(o.protocol), g.logValues(nil, o.service), "")
			g.fail(err)
			g.fail(meshaccesslog.Attach(l, logs))
		}
	}
	if g.ops.trace != nil {
		g.fail(meshtrace.ConfigureListener(l, *g.ops.trace, g.traceAt(corev3.TrafficDirection_OUTBOUND, o.service)))
	}
}

// opsClusters adds the clusters of the collectors the operational policies send to.
func (g *generator) opsClusters() {
	if g.ops.logs != nil {
		cs, err := g.ops.logs.Clusters()
		g.fail(err)
		for _, c := range cs {
			g.addCluster(c)
		}
	}
	if g.ops.trace != nil {
		c, err := meshtrace.Cluster(*g.ops.trace)
		g.fail(err)
		if c != nil {
			g.addCluster(c)
		}
	}
}

func (g *generator) addCluster(c *clusterv3.Cluster) { g.b.clusters.add(c) }
