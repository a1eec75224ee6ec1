// Package resources is jetmesh's model of Kuma 2.x resources: type descriptors, the REST JSON
// shapes kumactl reads and writes, computed labels and validation errors in Kuma's shape. The
// core types live in resources/core; each targetRef policy lives in its own folder under
// xds/policies and contributes one Descriptor.
package resources

import "fmt"

// Scope says whether a type lives inside a mesh or next to meshes.
type Scope int

// Scopes.
const (
	ScopeMesh Scope = iota + 1
	ScopeGlobal
)

// KDS flags, as Kuma names them: which side provides a type and which side consumes it. They
// decide which stream a resource is written to and in which direction it replicates.
const (
	ConsumedByZone    = 1
	ConsumedByGlobal  = 1 << 2
	ProvidedByZone    = 1 << 3
	ProvidedByGlobal  = 1 << 4
	SyncedAcrossZones = 1 << 5
)

// Spec is the typed body of a resource.
type Spec interface {
	// Validate checks the spec alone; checks that need other resources live in the API.
	Validate() ValidationError
}

// Descriptor describes one resource type.
type Descriptor struct {
	// Name is Kuma's type name ("MeshTrafficPermission").
	Name string
	// WsPath is the REST collection path segment ("meshtrafficpermissions").
	WsPath string
	// SingularName and PluralName are kumactl's argument names ("meshtrafficpermission").
	SingularName, PluralName string
	// ShortName is the kri short name ("mtp"); empty when the type has no kri.
	ShortName string
	Scope     Scope
	// Plugin types use the v1alpha1 JSON shape (meta plus "spec"); the others inline the spec.
	Plugin bool
	// Policy marks policies (listed under /policies, inspectable).
	Policy bool
	// TargetRef marks targetRef policies.
	TargetRef bool
	// PolicyRefs says which targetRef lists a targetRef policy has (for /policies, /_resources).
	PolicyRefs PolicyRefs
	// HasInsights marks types with an _overview endpoint (Dataplane, Zone, ZoneIngress, ...).
	HasInsights bool
	// Internal types are kept in the log but not writable through the REST API (insights).
	Internal bool
	// KDSFlags is a mask of the KDS flag constants.
	KDSFlags int
	// NewSpec returns an empty spec to decode into.
	NewSpec func() Spec
}

// PolicyRefs lists the targetRef sections of a policy type.
type PolicyRefs struct {
	From, To, Rules bool
}

// Validate checks that a descriptor is complete; a broken descriptor is a programming error.
func (d *Descriptor) Validate() error {
	switch {
	case d.Name == "" || d.NewSpec == nil || d.WsPath == "" && !d.Internal:
		return fmt.Errorf("descriptor %q: name, wsPath (unless internal) and NewSpec are required", d.Name)
	case d.Scope != ScopeMesh && d.Scope != ScopeGlobal:
		return fmt.Errorf("descriptor %q: unknown scope", d.Name)
	case !d.Internal && (d.SingularName == "" || d.PluralName == ""):
		return fmt.Errorf("descriptor %q: kumactl names are required", d.Name)
	}
	return nil
}

// ProvidedByGlobalCP reports whether the global CP is where this type is written.
func (d *Descriptor) ProvidedByGlobalCP() bool { return d.KDSFlags&ProvidedByGlobal != 0 }

// ProvidedByZoneCP reports whether zone CPs write this type.
func (d *Descriptor) ProvidedByZoneCP() bool { return d.KDSFlags&ProvidedByZone != 0 }
