package meshtcproute_test

import (
	"strings"
	"testing"

	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mtr "github.com/jetmesh/jetmesh/xds/policies/meshtcproute"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	r, err := resources.DecodeAs(mtr.Descriptor, []byte("type: MeshTCPRoute\nname: x\nmesh: default\nspec:\n"+strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []v
	}{
		{"ok", "to:\n  - targetRef: {kind: MeshService, name: b}\n    rules: [{default: {backendRefs: [{kind: MeshService, name: c}]}}]", nil},
		{"no backends", "to:\n  - targetRef: {kind: MeshService, name: b}\n    rules: [{default: {}}]",
			[]v{{"spec.to[0].rules[0].default.backendRefs", "must be defined"}}},
		{"kinds", "targetRef: {kind: MeshHTTPRoute, name: r}\nto:\n  - targetRef: {kind: Mesh}\n    rules: [{default: {backendRefs: [{kind: Mesh}]}}]", []v{
			{"spec.targetRef.kind", "value 'MeshHTTPRoute' is not supported"},
			{"spec.to[0].targetRef.kind", "value 'Mesh' is not supported"},
			{"spec.to[0].rules[0].default.backendRefs[0].kind", "value 'Mesh' is not supported"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []v
			for _, x := range decode(t, tt.spec).Spec.Validate().Violations {
				got = append(got, v{x.Field, x.Message})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigureTCPProxy(t *testing.T) {
	r := decode(t, `
to:
  - targetRef: {kind: MeshService, name: db}
  - targetRef: {kind: MeshService, name: cache}
    rules: [{default: {backendRefs: [{kind: MeshService, name: a, weight: 3}, {kind: MeshService, name: b, weight: 0}, {kind: MeshMultiZoneService, name: c, port: 1}]}}]`)
	p := mtr.Policy(r.Meta, r.Spec.(*mtr.Spec))
	name := func(tags map[string]string) string { return tags["kuma.io/service"] }

	// Without rules, the destination itself.
	tp := &tcpproxyv3.TcpProxy{}
	if _, err := mtr.ConfigureTCPProxy(tp, p.To[0].Default, name); err != nil || tp.GetCluster() != "db" {
		t.Errorf("db: %v %v", tp, err)
	}
	// Weight 0 is dropped (no cluster needed), real resources are not for tag-based outbounds.
	tp = &tcpproxyv3.TcpProxy{}
	backends, err := mtr.ConfigureTCPProxy(tp, p.To[1].Default, name)
	if err != nil || len(tp.GetWeightedClusters().GetClusters()) != 1 || len(backends) != 1 {
		t.Errorf("cache: %v %v %v", tp, backends, err)
	}
}

func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mtr.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
