package resources

import "fmt"

// MetaValidator is implemented by specs with rules about their own meta fields (Kuma limits a
// Mesh name to 63 characters, for example).
type MetaValidator interface {
	ValidateMeta(meta Meta) ValidationError
}

// Validate checks a resource the way Kuma's API server does on PUT: first the spec (Kuma
// rejects a document whose spec is invalid before it looks at anything else), then the meta
// fields (labels, name, mesh), then the spec's own meta rules. It returns a *ValidationError,
// or nil when the resource is valid. Checks that need the control plane's mode or other
// resources (ValidateLabels, ValidateLabelUpdate, the mesh existing) are the caller's.
func Validate(r *Resource) error {
	var v ValidationError
	if r.Spec != nil {
		v.Add(r.Spec.Validate())
	}
	if v.HasViolations() {
		return v.OrNil()
	}
	v.Add(ValidateMeta(r.Desc, r.Meta))
	if mv, ok := r.Spec.(MetaValidator); ok {
		v.Add(mv.ValidateMeta(r.Meta))
	}
	return v.OrNil()
}

// ValidateMeta checks what every resource must satisfy whatever the control plane: label keys
// and values (Kubernetes' label rules; Kuma applies them on Universal too), a known
// kuma.io/origin, a valid name and, for mesh-scoped types, a mesh.
func ValidateMeta(desc *Descriptor, meta Meta) ValidationError {
	var v ValidationError
	labels := FieldPath("labels")
	if origin := meta.Labels[LabelOrigin]; origin != "" && origin != OriginZone && origin != OriginGlobal {
		v.AddViolation(labels.Key(LabelOrigin), fmt.Sprintf("unknown resource origin %q", origin))
	}
	for _, k := range sortedKeys(meta.Labels) {
		for _, msg := range IsLabelKey(k) {
			v.AddViolation(labels.Key(k), msg)
		}
		for _, msg := range IsLabelValue(meta.Labels[k]) {
			v.AddViolation(labels.Key(k), msg)
		}
	}
	v.AddErrorAt(FieldPath("name"), ValidateIdentifier(meta.Name))
	if desc.Scope == ScopeMesh {
		v.AddErrorAt(FieldPath("mesh"), ValidateMeshRef(meta.Mesh))
	}
	return v
}

// ValidateLabels checks the labels a client sent against the control plane that receives them,
// as Kuma's API server does: a global CP only takes kuma.io/origin=global; a zone CP rejects a
// kuma.io/zone naming another zone and a kuma.io/mesh naming another mesh (unless the resource
// came from the global). Kuma's extra rule for federated zones (plugin types must carry
// kuma.io/origin=zone) needs to know whether the zone is federated, which Env does not say.
func ValidateLabels(desc *Descriptor, meta Meta, env Env) ValidationError {
	var v ValidationError
	labels := FieldPath("labels")
	origin, hasOrigin := meta.Labels[LabelOrigin]
	hasOrigin = hasOrigin && origin != ""
	if env.Mode == ModeGlobal {
		if hasOrigin && origin != OriginGlobal {
			v.AddViolation(labels.Key(LabelOrigin), fmt.Sprintf("the origin label must be set to '%s'", OriginGlobal))
		}
		return v
	}
	if origin == OriginGlobal {
		return v
	}
	if zone, ok := meta.Labels[LabelZone]; ok && zone != env.Zone {
		v.AddViolation(labels.Key(LabelZone), fmt.Sprintf("%s label should have %s value", LabelZone, env.Zone))
	}
	if mesh, ok := meta.Labels[LabelMesh]; ok && mesh != meta.Mesh {
		v.AddViolation(labels.Key(LabelMesh), fmt.Sprintf("%s label must not differ from mesh set on resource", LabelMesh))
	}
	return v
}

// ValidateLabelUpdate compares the computed labels of the stored revision with those of the
// update, as Kuma does on PUT of an existing resource: kuma.io/origin, kuma.io/zone and
// kuma.io/display-name can be neither changed nor removed.
func ValidateLabelUpdate(current, next map[string]string) ValidationError {
	var v ValidationError
	labels := FieldPath("labels")
	for _, k := range []string{LabelOrigin, LabelZone, LabelDisplayName} {
		was, had := current[k]
		now, has := next[k]
		switch {
		case had && !has:
			v.AddViolation(labels.Key(k), fmt.Sprintf("is immutable, cannot be removed (was %q)", was))
		case had && was != now:
			v.AddViolation(labels.Key(k), fmt.Sprintf("is immutable, cannot be changed from %q to %q", was, now))
		}
	}
	return v
}
