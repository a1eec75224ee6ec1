package snapshots

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshtcproute"
)

// Routes send traffic to services the proxy has no outbound for (a backendRef or mirror
// naming another service). Their endpoints must be in the proxy's input, and a change of
// their endpoints must reach the proxy: the mesh keeps the set of services that routes name.

// routeBackendServices lists the kuma.io/service values a route policy sends traffic to.
func routeBackendServices(res *resources.Resource) []string {
	var refs []targetref.BackendRef
	switch s := res.Spec.(type) {
	case *meshhttproute.Spec:
		for _, to := range s.GetTo() {
			for _, r := range to.Rules {
				if r.Default.BackendRefs != nil {
					refs = append(refs, *r.Default.BackendRefs...)
				}
				if r.Default.Filters != nil {
					for _, f := range *r.Default.Filters {
						if f.RequestMirror != nil {
							refs = append(refs, f.RequestMirror.BackendRef)
						}
					}
				}
			}
		}
	case *meshtcproute.Spec:
		for _, to := range s.GetTo() {
			for _, r := range to.Rules {
				if r.Default.BackendRefs != nil {
					refs = append(refs, *r.Default.BackendRefs...)
				}
			}
		}
	}
	var out []string
	for _, b := range meshhttproute.ResolveBackends(refs) {
		out = append(out, b.Backend().Service())
	}
	return out
}

// indexRouteBackendsLocked recomputes the services the mesh's routes name.
func (m *meshState) indexRouteBackendsLocked() {
	m.routeBackends = map[string]bool{}
	for _, typ := range []string{meshhttproute.Descriptor.Name, meshtcproute.Descriptor.Name} {
		for _, res := range m.policies[typ] {
			for _, svc := range routeBackendServices(res) {
				m.routeBackends[svc] = true
			}
		}
	}
}
