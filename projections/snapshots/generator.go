package snapshots

import (
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/generate"
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
	"github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// Generate is the Generator of real proxies: Envoy config for sidecars, API listeners for
// grpc-go clients.
func Generate(in Input) (map[string][]types.Resource, map[string]string, error) {
	if in.Ingress != nil {
		return generateIngress(in.Ingress)
	}
	if in.Egress != nil {
		return generateEgress(in.Egress)
	}
	meshSpec, _ := in.Mesh.Spec.(*core.Mesh)
	dpSpec, ok := in.Dataplane.Spec.(*core.Dataplane)
	if !ok {
		return nil, nil, fmt.Errorf("dataplane %s: unexpected spec %T", in.Dataplane.Meta.Name, in.Dataplane.Spec)
	}
	proxy := &generate.Proxy{
		Mesh:      generate.Mesh{Name: in.Mesh.Meta.Name, Spec: meshSpec},
		Dataplane: generate.Dataplane{Meta: in.Dataplane.Meta, Spec: dpSpec},
		Zone:      in.Zone,
		Admin:     generate.Admin{Port: in.Client.AdminPort, WorkDir: in.Client.WorkDir},
		Endpoints: in.Endpoints,
		Identity:  in.Identity,

		VirtualOutbounds: in.VirtualOutbounds,
		BindOutbounds:    in.Client.BindOutbounds,
	}
	if in.Client.EmbeddedDNS || in.Client.DNSPort != 0 { // generated only with transparent proxying
		proxy.DNS = &generate.DNSOptions{Names: in.DNSNames, Embedded: in.Client.EmbeddedDNS,
			EnvoyPort: in.Client.DNSPort, ReusePort: in.Client.ReusePort}
	}
	for _, p := range in.Policies[meshtrafficpermission.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshtrafficpermission.Spec); ok {
			proxy.Permissions = append(proxy.Permissions, generate.Permission{Meta: p.Meta, Spec: spec})
		}
	}
	for _, p := range in.Policies[meshhttproute.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshhttproute.Spec); ok {
			proxy.Policies.HTTPRoutes = append(proxy.Policies.HTTPRoutes, meshhttproute.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshtcproute.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshtcproute.Spec); ok {
			proxy.Policies.TCPRoutes = append(proxy.Policies.TCPRoutes, meshtcproute.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshretry.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshretry.Spec); ok {
			proxy.Policies.Retries = append(proxy.Policies.Retries, meshretry.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshtimeout.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshtimeout.Spec); ok {
			proxy.Policies.Timeouts = append(proxy.Policies.Timeouts, meshtimeout.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshcircuitbreaker.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshcircuitbreaker.Spec); ok {
			proxy.Policies.CircuitBreakers = append(proxy.Policies.CircuitBreakers, meshcircuitbreaker.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshhealthcheck.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshhealthcheck.Spec); ok {
			proxy.Policies.HealthChecks = append(proxy.Policies.HealthChecks, meshhealthcheck.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshloadbalancingstrategy.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshloadbalancingstrategy.Spec); ok {
			proxy.Policies.LoadBalancing = append(proxy.Policies.LoadBalancing, meshloadbalancingstrategy.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshfaultinjection.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshfaultinjection.Spec); ok {
			proxy.Policies.Faults = append(proxy.Policies.Faults, meshfaultinjection.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshratelimit.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshratelimit.Spec); ok {
			proxy.Policies.RateLimits = append(proxy.Policies.RateLimits, meshratelimit.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshaccesslog.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshaccesslog.Spec); ok {
			proxy.Policies.AccessLogs = append(proxy.Policies.AccessLogs, meshaccesslog.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshtrace.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshtrace.Spec); ok {
			proxy.Policies.Traces = append(proxy.Policies.Traces, meshtrace.Policy(p.Meta, spec))
		}
	}
	for _, p := range in.Policies[meshproxypatch.Descriptor.Name] {
		if spec, ok := p.Spec.(*meshproxypatch.Spec); ok {
			proxy.Policies.ProxyPatches = append(proxy.Policies.ProxyPatches, meshproxypatch.Policy(p.Meta, spec))
		}
	}
	build := generate.Generate
	if in.Client.GRPC {
		build = generate.GRPCClient
	}
	res, err := build(proxy)
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s: %w", in.Client.NodeID, err)
	}
	versions, err := res.Versions()
	if err != nil {
		return nil, nil, fmt.Errorf("version %s: %w", in.Client.NodeID, err)
	}
	return res.ByType(), versions, nil
}
