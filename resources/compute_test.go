package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestComputeLabels(t *testing.T) {
	zoneToGlobal := ProvidedByZone | ConsumedByGlobal
	globalToZone := ProvidedByGlobal | ConsumedByZone
	zoneEnv := Env{Mode: ModeZone, Zone: "zone-1", Environment: EnvUniversal}
	tests := []struct {
		name string
		desc *Descriptor
		meta Meta
		env  Env
		want map[string]string
	}{
		{"dataplane on a zone", meshScoped(zoneToGlobal), Meta{Mesh: "demo", Name: "dp"}, zoneEnv, map[string]string{
			LabelMesh: "demo", LabelOrigin: OriginZone, LabelZone: "zone-1", LabelEnv: EnvUniversal}},
		{"kubernetes zone", meshScoped(zoneToGlobal), Meta{Mesh: "demo", Name: "dp"},
			Env{Mode: ModeZone, Zone: "z", Environment: EnvKubernetes}, map[string]string{
				LabelMesh: "demo", LabelOrigin: OriginZone, LabelZone: "z", LabelEnv: EnvKubernetes}},
		{"unset mode counts as zone", meshScoped(zoneToGlobal), Meta{Mesh: "demo", Name: "dp"}, Env{Zone: "z"}, map[string]string{
			LabelMesh: "demo", LabelOrigin: OriginZone, LabelZone: "z", LabelEnv: EnvUniversal}},
		// Kuma: "mesh resource on non-federated zone" -> no labels (a zone cannot provide Meshes).
		{"mesh on a zone", desc(ScopeGlobal, globalToZone), Meta{Name: "default"}, zoneEnv, map[string]string{}},
		{"mesh on the global", desc(ScopeGlobal, globalToZone), Meta{Name: "default"}, Env{Mode: ModeGlobal}, map[string]string{}},
		// Kuma 2.14 does not label resources created on the global (KDS adds origin=global).
		{"policy on the global", meshScoped(globalToZone | zoneToGlobal), Meta{Mesh: "demo", Name: "p"}, Env{Mode: ModeGlobal},
			map[string]string{LabelMesh: "demo"}},
		{"mesh-scoped without a mesh gets default", meshScoped(0), Meta{Name: "p"}, Env{Mode: ModeGlobal},
			map[string]string{LabelMesh: DefaultMesh}},
		{"client values are kept", meshScoped(zoneToGlobal), Meta{Mesh: "demo", Name: "dp", Labels: map[string]string{
			LabelZone: "mine", LabelEnv: "kubernetes", "team": "a"}}, zoneEnv, map[string]string{
			LabelMesh: "demo", LabelOrigin: OriginZone, LabelZone: "mine", LabelEnv: "kubernetes", "team": "a"}},
		{"origin global on a zone: no zone or env", meshScoped(zoneToGlobal), Meta{Mesh: "demo", Name: "dp",
			Labels: map[string]string{LabelOrigin: OriginGlobal}}, zoneEnv, map[string]string{
			LabelMesh: "demo", LabelOrigin: OriginGlobal}},
		{"display name is not computed in 2.14", desc(ScopeGlobal, zoneToGlobal), Meta{Name: "zi-1"}, zoneEnv,
			map[string]string{LabelOrigin: OriginZone, LabelZone: "zone-1", LabelEnv: EnvUniversal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := cloneMap(tt.meta.Labels)
			got := ComputeLabels(tt.desc, tt.meta, tt.env)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, tt.meta.Labels); diff != "" {
				t.Errorf("ComputeLabels changed its input:\n%s", diff)
			}
		})
	}
}

func TestComputeResourceLabels(t *testing.T) {
	spec := &fakeSpec{labels: map[string]string{LabelProxyType: "sidecar", LabelListenerZoneIngress: ""}}
	r := &Resource{Desc: meshScoped(ProvidedByZone), Spec: spec, Meta: Meta{Mesh: "m", Name: "dp", Labels: map[string]string{
		LabelProxyType: "gateway", LabelListenerZoneIngress: "enabled"}}}
	got := ComputeResourceLabels(r, Env{Mode: ModeZone, Zone: "z"})
	want := map[string]string{LabelMesh: "m", LabelOrigin: OriginZone, LabelZone: "z", LabelEnv: EnvUniversal,
		LabelProxyType: "sidecar"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestKRI(t *testing.T) {
	tests := []struct {
		name string
		desc *Descriptor
		meta Meta
		want string
	}{
		{"mesh-scoped", meshScoped(0), Meta{Mesh: "demo", Name: "backend-1", Labels: map[string]string{LabelZone: "default"}},
			"kri_fk_demo_default__backend-1_"},
		{"display name wins", meshScoped(0), Meta{Mesh: "demo", Name: "backend-1-hash", Labels: map[string]string{
			LabelDisplayName: "backend-1", LabelKubeNamespace: "ns"}}, "kri_fk_demo__ns_backend-1_"},
		// Kuma's get_zoneingress golden: global-scoped types have a kri too.
		{"global-scoped", desc(ScopeGlobal, 0), Meta{Name: "zone-ingress-1", Mesh: "ignored"}, "kri_fk____zone-ingress-1_"},
		{"no short name", &Descriptor{Name: "Secret", Scope: ScopeMesh}, Meta{Mesh: "m", Name: "s"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resource{Desc: tt.desc, Meta: tt.meta}
			if got := r.KRI(); got != tt.want {
				t.Errorf("KRI() = %q, want %q", got, tt.want)
			}
		})
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
