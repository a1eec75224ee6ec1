package snapshots

import (
	"fmt"
	"sort"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// markZoneProxiesLocked marks every connected zone ingress (a local instance change may change
// what it forwards to) or zone egress (a remote ingress change may).
func (p *Projector) markZoneProxiesLocked(ingress bool) {
	for id, c := range p.clients {
		if (ingress && c.Ingress) || (!ingress && c.Egress) {
			p.dirty[id] = true
		}
	}
}

// ingressInputLocked assembles a zone ingress's input: its own ZoneIngress and every local
// instance of every mesh's services.
func (p *Projector) ingressInputLocked(c Client) (Input, bool) {
	res := p.ingresses[events.Key{Scope: events.ZoneScope(p.zone), Type: "ZoneIngress", Name: c.Name}]
	if res == nil {
		return Input{}, false
	}
	spec, ok := res.Spec.(*core.ZoneIngress)
	if !ok {
		return Input{}, false
	}
	proxy := &generate.IngressProxy{Name: c.Name, Spec: spec, Zone: p.zone}
	meshes := make([]string, 0, len(p.meshes))
	for name := range p.meshes {
		meshes = append(meshes, name)
	}
	sort.Strings(meshes)
	for _, mesh := range meshes {
		m := p.meshes[mesh]
		services := make([]string, 0, len(m.providers))
		for svc := range m.providers {
			services = append(services, svc)
		}
		sort.Strings(services)
		for _, svc := range services {
			providers := make([]string, 0, len(m.providers[svc]))
			for name := range m.providers[svc] {
				providers = append(providers, name)
			}
			sort.Strings(providers)
			s := generate.IngressService{Mesh: mesh, Service: svc}
			for _, name := range providers {
				s.Endpoints = append(s.Endpoints, m.dataplanes[name].endpoints[svc]...)
			}
			proxy.Services = append(proxy.Services, s)
		}
	}
	return Input{Client: c, Ingress: proxy, Zone: p.zone}, true
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// egressInputLocked assembles a zone egress's input: its own ZoneEgress and, for every mesh,
// the other zones' services with the ingresses that lead to them.
func (p *Projector) egressInputLocked(c Client) (Input, bool) {
	res := p.egresses[c.Name]
	if res == nil {
		return Input{}, false
	}
	spec, ok := res.Spec.(*core.ZoneEgress)
	if !ok {
		return Input{}, false
	}
	proxy := &generate.EgressProxy{Name: c.Name, Spec: spec, Zone: p.zone}
	for _, mesh := range sortedNames(p.meshes) {
		remote, _ := p.remoteEndpointsLocked(p.meshes[mesh], false) // the egress forwards to the ingresses
		for _, svc := range sortedNames(remote) {
			proxy.Services = append(proxy.Services, generate.IngressService{Mesh: mesh, Service: svc, Endpoints: remote[svc]})
		}
	}
	return Input{Client: c, Egress: proxy, Zone: p.zone}, true
}

func generateIngress(p *generate.IngressProxy) (map[string][]types.Resource, map[string]string, error) {
	res, err := generate.GenerateIngress(p)
	return zoneProxySnapshot(res, err, "zone ingress "+p.Name)
}

func generateEgress(p *generate.EgressProxy) (map[string][]types.Resource, map[string]string, error) {
	res, err := generate.GenerateEgress(p)
	return zoneProxySnapshot(res, err, "zone egress "+p.Name)
}

// zoneProxySnapshot validates a zone proxy's generated resources and versions them.
func zoneProxySnapshot(res *generate.Resources, err error, what string) (map[string][]types.Resource, map[string]string, error) {
	if err != nil {
		return nil, nil, err
	}
	if err := generate.Validate(res); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	versions, err := res.Versions()
	if err != nil {
		return nil, nil, err
	}
	return res.ByType(), versions, nil
}
