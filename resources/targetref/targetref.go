// Package targetref is the targetRef model shared by every targetRef policy (Kuma's
// api/common/v1alpha1): TargetRef, Match, and the validators each policy composes, with
// Kuma 2.14's rules and messages. Violations are relative to the targetRef ("kind", "name",
// `tags["k"]`); a policy places them with ValidationError.AddErrorAt(path, ...).
package targetref

// Kind is the kind of resource a targetRef points at.
type Kind string

// Kinds.
const (
	Mesh                 Kind = "Mesh"
	Dataplane            Kind = "Dataplane"
	MeshSubset           Kind = "MeshSubset"
	MeshGateway          Kind = "MeshGateway"
	MeshService          Kind = "MeshService"
	MeshExternalService  Kind = "MeshExternalService"
	MeshMultiZoneService Kind = "MeshMultiZoneService"
	MeshServiceSubset    Kind = "MeshServiceSubset"
	MeshHTTPRoute        Kind = "MeshHTTPRoute"
)

// AllKinds lists every kind in the order of Kuma's schema enum (which its error messages print).
var AllKinds = []Kind{
	Mesh, MeshSubset, MeshGateway, MeshService, MeshExternalService, MeshMultiZoneService,
	MeshServiceSubset, MeshHTTPRoute, Dataplane,
}

// ProxyType narrows Mesh and MeshSubset refs to sidecars or gateways.
type ProxyType string

// Proxy types.
const (
	Sidecar ProxyType = "Sidecar"
	Gateway ProxyType = "Gateway"
)

// TargetRef selects the proxies (or routes, services) a policy or one of its items applies
// to. Optional fields are pointers, as in Kuma, so that `tags: {}` and `proxyTypes: []` keep
// their meaning (and their JSON) through a round trip.
type TargetRef struct {
	Kind Kind `json:"kind"`
	// Name of the referenced resource (MeshService, MeshServiceSubset, MeshGateway,
	// MeshHTTPRoute, Dataplane, ...).
	Name *string `json:"name,omitempty"`
	// Tags select a subset of proxies (MeshSubset, MeshServiceSubset).
	Tags *map[string]string `json:"tags,omitempty"`
	// Mesh is reserved for cross-mesh references and must not be set.
	Mesh *string `json:"mesh,omitempty"`
	// ProxyTypes limits Mesh and MeshSubset refs to some proxy types; absent means all.
	ProxyTypes *[]ProxyType `json:"proxyTypes,omitempty"`
	// Namespace of the referenced resource (Kubernetes).
	Namespace *string `json:"namespace,omitempty"`
	// Labels select resources by labels instead of name and namespace.
	Labels *map[string]string `json:"labels,omitempty"`
	// SectionName targets a section of the resource (a port of a MeshService, an inbound of a
	// Dataplane).
	SectionName *string `json:"sectionName,omitempty"`
}

// GetName returns the name or "".
func (t TargetRef) GetName() string { return deref(t.Name) }

// GetTags returns the tags or nil.
func (t TargetRef) GetTags() map[string]string { return deref(t.Tags) }

// GetMesh returns the mesh or "".
func (t TargetRef) GetMesh() string { return deref(t.Mesh) }

// GetProxyTypes returns the proxy types or nil.
func (t TargetRef) GetProxyTypes() []ProxyType { return deref(t.ProxyTypes) }

// GetNamespace returns the namespace or "".
func (t TargetRef) GetNamespace() string { return deref(t.Namespace) }

// GetLabels returns the labels or nil.
func (t TargetRef) GetLabels() map[string]string { return deref(t.Labels) }

// GetSectionName returns the section name or "".
func (t TargetRef) GetSectionName() string { return deref(t.SectionName) }

// IsRealResource reports whether the kind names a stored resource (not a tag selector).
func (k Kind) IsRealResource() bool { return k != MeshSubset && k != MeshServiceSubset }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Ptr returns a pointer to v, for building TargetRefs in code.
func Ptr[T any](v T) *T { return &v }
