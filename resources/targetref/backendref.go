package targetref

// BackendRef is a destination of a route: a targetRef (inline in JSON), a weight and, for
// real MeshServices, a port.
type BackendRef struct {
	TargetRef
	// Weight of this backend among the route's backends; absent means 1, 0 no traffic.
	Weight *uint `json:"weight,omitempty"`
	// Port is only supported when the ref names a real MeshService object.
	Port *uint32 `json:"port,omitempty"`
}

// GetWeight returns the weight, 1 when absent.
func (b BackendRef) GetWeight() uint {
	if b.Weight == nil {
		return 1
	}
	return *b.Weight
}

// ReferencesRealObject reports whether the ref names a MeshService object (by section or
// port) rather than a kuma.io/service tag value.
func (b BackendRef) ReferencesRealObject() bool {
	switch b.Kind {
	case MeshService:
		return b.GetSectionName() != "" || b.Port != nil
	case MeshServiceSubset, "":
		return false
	default:
		return true
	}
}
