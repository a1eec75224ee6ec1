package resources

import "maps"

// Values and labels that complete labels.go.
const (
	OriginZone   = "zone"
	OriginGlobal = "global"

	EnvUniversal  = "universal"
	EnvKubernetes = "kubernetes"

	// DefaultMesh is the mesh Kuma assumes when a mesh-scoped resource names none.
	DefaultMesh = "default"

	LabelListenerZoneIngress = "kuma.io/listener-zoneingress"
	LabelListenerZoneEgress  = "kuma.io/listener-zoneegress"
)

// SpecLabeler is implemented by specs whose content decides computed labels (Kuma's proxy
// types: kuma.io/proxy-type, and the listener labels of a Dataplane). An empty value means
// "remove this label".
type SpecLabeler interface {
	SpecLabels() map[string]string
}

// ComputeLabels returns the labels Kuma 2.14 stores for a resource created or updated through
// its API (pkg/core/resources/labels.Compute): the client's labels plus
//   - kuma.io/mesh = the mesh, for mesh-scoped types;
//   - on a zone CP (standalone or federated), for types a zone may write (ProvidedByZone):
//     kuma.io/origin=zone and, unless the origin is global, kuma.io/zone and kuma.io/env.
//
// A value the client already set for any of these is kept (ValidateLabels rejects wrong ones).
// Kuma 2.14 sets nothing else on Universal: not kuma.io/origin on a global CP and not
// kuma.io/display-name (KDS adds origin=global and display-name to the copies it syncs to
// zones; Kuma 3.x sets both at creation). An empty Env.Mode counts as zone, Kuma's default mode.
// Spec-derived labels (kuma.io/proxy-type) need the spec: use ComputeResourceLabels.
func ComputeLabels(desc *Descriptor, meta Meta, env Env) map[string]string {
	labels := maps.Clone(meta.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	setIfAbsent := func(k, v string) {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	if desc.Scope == ScopeMesh {
		mesh := meta.Mesh
		if mesh == "" {
			mesh = DefaultMesh
		}
		setIfAbsent(LabelMesh, mesh)
	}
	if env.Mode != ModeGlobal && desc.ProvidedByZoneCP() {
		setIfAbsent(LabelOrigin, OriginZone)
		if labels[LabelOrigin] != OriginGlobal {
			setIfAbsent(LabelZone, env.Zone)
			environment := EnvUniversal
			if env.Environment == EnvKubernetes {
				environment = EnvKubernetes
			}
			setIfAbsent(LabelEnv, environment)
		}
	}
	return labels
}

// ComputeResourceLabels is ComputeLabels plus the labels the spec decides (SpecLabeler), which
// Kuma always overwrites: kuma.io/proxy-type (sidecar, gateway, zoneingress, zoneegress) and the
// Dataplane listener labels.
func ComputeResourceLabels(r *Resource, env Env) map[string]string {
	labels := ComputeLabels(r.Desc, r.Meta, env)
	if sl, ok := r.Spec.(SpecLabeler); ok {
		for k, v := range sl.SpecLabels() {
			if v == "" {
				delete(labels, k)
				continue
			}
			labels[k] = v
		}
	}
	return labels
}
