package generate

import (
	"errors"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// ErrNoNetworking is returned for a Dataplane without a networking section.
var ErrNoNetworking = errors.New("dataplane has no networking")

// ErrUnsupportedGateway is returned for builtin gateways, which this package does not generate.
var ErrUnsupportedGateway = errors.New("builtin gateways are not supported")

// Proxy is everything Generate reads about one sidecar. The caller (the xDS projection)
// assembles it from its read model; nothing here is fetched.
type Proxy struct {
	Mesh      Mesh
	Dataplane Dataplane
	// Zone is the zone of the control plane serving the proxy; endpoints of other zones get
	// a lower priority when the mesh enables locality-aware load balancing.
	Zone  string
	Admin Admin
	// Endpoints are the healthy endpoints of every service of the mesh, keyed by
	// kuma.io/service (see BuildEndpoints). Only the services the proxy's outbounds name are
	// read.
	Endpoints map[string][]Endpoint
	// Permissions are all MeshTrafficPermissions of the mesh; Generate picks the ones that
	// select each inbound.
	Permissions []Permission
	// Policies are the mesh's other targetRef policies.
	Policies Policies
	// Identity is the proxy's certificate from the mesh CA; nil while mTLS is off or the CA
	// has not issued one yet.
	Identity *Identity
	// VirtualOutbounds are the mesh's virtual IPs as outbounds (vips.Table.Outbounds); a
	// dataplane with transparent proxying gets a listener on each (tproxy.go).
	VirtualOutbounds []VirtualOutbound
	// DNS, when set, serves the virtual IPs' names to kuma-dp's embedded DNS (its
	// feature-embedded-dns) through the dynamic configuration listener.
	DNS *DNSOptions
	// BindOutbounds is kuma-dp's feature-bind-outbounds: outbounds bind their own addresses
	// and no transparent-proxy listeners are generated.
	BindOutbounds bool
}

// Mesh is the proxy's mesh.
type Mesh struct {
	Name string
	Spec *core.Mesh
}

// MTLSEnabled reports whether the mesh has an enabled mTLS backend; only then does Kuma
// enforce MeshTrafficPermission.
func (m Mesh) MTLSEnabled() bool { return m.Spec != nil && m.Spec.MTLSEnabled() }

func (m Mesh) localityAware() bool {
	return m.Spec != nil && m.Spec.Routing != nil && m.Spec.Routing.LocalityAwareLoadBalancing
}

// Dataplane is a Dataplane resource: its meta (name, labels; Dataplane targetRefs select by
// them) and its spec. It is the policy matcher's type, so a Proxy's dataplane can be matched
// without conversion.
type Dataplane = rules.Dataplane

// Admin is what kuma-dp reports in the Envoy node metadata about its local ports.
type Admin struct {
	// Port is dataplane.admin.port; 0 means Envoy's admin is disabled and nothing is
	// generated for it.
	Port uint32
	// ReadinessPort is dataplane.readinessReporter.port; 0 routes /ready to Envoy's own
	// admin /ready instead of kuma-dp's readiness reporter.
	ReadinessPort uint32
	// WorkDir is kuma-dp's work directory (node metadata "workdir"), where its access log
	// socket lives; without it the socket path is relative, as in Kuma.
	WorkDir string
}

// Endpoint is one instance of a service: a dataplane inbound or, for other zones, a zone
// ingress that forwards to the service's instances there.
type Endpoint struct {
	Address string
	Port    uint32
	// Tags are the inbound's tags (or the ingress's available-service tags); outbounds with
	// tags beyond kuma.io/service select endpoints by them.
	Tags map[string]string
	// Weight is the endpoint's load balancing weight; 0 counts as 1.
	Weight uint32
	// Zone is the endpoint's zone ("" when unknown, treated as local).
	Zone string
}

// Permission is one MeshTrafficPermission: its meta (name, labels; they decide the order in
// which policies override each other and the KRI in RBAC matchers) and spec.
type Permission struct {
	Meta resources.Meta
	Spec *meshtrafficpermission.Spec
}

func (e Endpoint) weight() uint32 {
	if e.Weight == 0 {
		return 1
	}
	return e.Weight
}
