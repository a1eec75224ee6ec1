package meshproxypatch_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mpp "github.com/jetmesh/jetmesh/xds/policies/meshproxypatch"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshProxyPatch\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mpp.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

func mods(m string) string {
	return "targetRef: {kind: Mesh}\ndefault:\n  appendModifications:\n" + m
}

// The cases follow Kuma 2.14's validator for MeshProxyPatch and its messages.
func TestValidation(t *testing.T) {
	const m0 = "spec.default.appendModifications[0]"
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"valid modifications", mods(`
  - cluster: {operation: Add, value: "name: c\nconnectTimeout: 1s"}
  - cluster: {operation: Patch, match: {name: c}, value: "connectTimeout: 2s"}
  - listener: {operation: Remove, match: {origin: inbound}}
  - httpFilter: {operation: AddBefore, match: {name: envoy.filters.http.router}, value: "name: x\ntypedConfig: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}"}
  - networkFilter: {operation: Patch, match: {name: envoy.filters.network.tcp_proxy}, jsonPatches: [{op: replace, path: /statPrefix, value: x}]}
  - virtualHost: {operation: Add, match: {routeConfigurationName: r}, value: "name: vh\ndomains: ['*']"}`), nil},
		{"empty list", "default: {appendModifications: []}", []v{{"spec.default.appendModifications", "must not be empty"}}},
		{"two modifications in one", mods(`
  - cluster: {operation: Remove}
    listener: {operation: Remove}`), []v{{m0, "exactly one modification can be defined at a time. Currently, 2 modifications are defined"}}},
		{"cluster add with match and invalid value", mods(`
  - cluster: {operation: Add, match: {name: a}, value: "name: c"}`), []v{
			{m0 + ".cluster.match", "must not be defined"},
		}},
		{"cluster invalid operation", mods(`
  - cluster: {operation: AddFirst}`), []v{{m0 + ".cluster.operation", `invalid operation. Available operations: "Add", "Patch", "Remove"`}}},
		{"listener remove with value", mods(`
  - listener: {operation: Remove, value: "name: x"}`), []v{{m0 + ".listener.value", "must not be defined"}}},
		{"patch with value and jsonPatches", mods(`
  - listener: {operation: Patch, value: "name: x", jsonPatches: [{op: remove, path: /name}]}`), []v{{m0 + ".listener", "listener must have only one type defined: value, jsonPatches"}}},
		{"patch with neither", mods(`
  - cluster: {operation: Patch}`), []v{{m0 + ".cluster", "cluster must have exactly one defined: value, jsonPatches"}}},
		{"filters without names", mods(`
  - httpFilter: {operation: AddBefore, value: "name: x"}
  - networkFilter: {operation: AddAfter, value: "name: x"}
  - httpFilter: {operation: Patch, value: "name: x"}`), []v{
			{m0 + ".httpFilter.match.name", "must be defined. You need to pick a filter before which this one will be added"},
			{"spec.default.appendModifications[1].networkFilter.match.name", "must be defined. You need to pick a filter after which this one will be added"},
			{"spec.default.appendModifications[2].httpFilter.match.name", "must be defined"},
		}},
		{"virtual host add with a name", mods(`
  - virtualHost: {operation: Add, match: {name: a}, value: "name: vh\ndomains: ['*']"}`), []v{{m0 + ".virtualHost.match.name", "must not be defined"}}},
		{"json patch blocks", mods(`
  - cluster:
      operation: Patch
      jsonPatches:
        - {op: test, path: /a}
        - {op: move, path: /a}
        - {op: add, path: /a, from: /b}
        - {op: remove, path: /, value: 1}
        - {op: replace}`), []v{
			{m0 + ".cluster.jsonPatches[0].op", `"op" must be one of ["add", "remove", "replace", "move", "copy"]`},
			{m0 + ".cluster.jsonPatches[1].from", `"from" must not be empty when "op" is one of ["move", "copy"]`},
			{m0 + ".cluster.jsonPatches[2].from", `"from" is allowed only when "op" is one of ["move", "copy"]`},
			{m0 + ".cluster.jsonPatches[2].value", `"value" must not be empty when "op" is one of ["add", "replace"]`},
			{m0 + ".cluster.jsonPatches[3].value", `"value" is allowed only when "op" is one of ["add", "replace"]`},
			{m0 + ".cluster.jsonPatches[3].path", "root path cannot be removed"},
			{m0 + ".cluster.jsonPatches[4].value", `"value" must not be empty when "op" is one of ["add", "replace"]`},
			{m0 + ".cluster.jsonPatches[4].path", "must be defined"},
		}},
		{"unsupported top-level kind", "targetRef: {kind: MeshHTTPRoute, name: r}\ndefault: {appendModifications: [{cluster: {operation: Remove}}]}",
			[]v{{"spec.targetRef.kind", "value 'MeshHTTPRoute' is not supported"}}},
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

// An Add value must be a valid Envoy resource: unknown fields and rule violations are named.
func TestValidationOfValues(t *testing.T) {
	for _, value := range []string{`"name: c\nnoSuchField: 1"`, `"name: c\nconnectTimeout: -1s"`} {
		got := decode(t, mods("  - cluster: {operation: Add, value: "+value+"}")).Spec.Validate().Violations
		if len(got) != 1 || got[0].Field != "spec.default.appendModifications[0].cluster.value" ||
			!strings.HasPrefix(got[0].Message, "native Envoy resource is not valid: ") {
			t.Errorf("%s: %v", value, got)
		}
	}
}

// Policies' modification lists are concatenated, least specific policy first.
func TestMergeAppends(t *testing.T) {
	a := decode(t, mods("  - cluster: {operation: Remove, match: {name: a}}")).Spec.(*mpp.Spec).Default
	b := decode(t, mods("  - cluster: {operation: Remove, match: {name: b}}")).Spec.(*mpp.Spec).Default
	got, err := rules.Merge([]mpp.Conf{a, b})
	if err != nil {
		t.Fatal(err)
	}
	ms := *got.AppendModifications
	if len(ms) != 2 || *ms[0].Cluster.Match.Name != "a" || *ms[1].Cluster.Match.Name != "b" {
		t.Errorf("merged %+v", ms)
	}
}

func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mpp.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}

// Kuma's "invalid cluster modifications" case, entry by entry (Kuma's parse error text for
// '{' differs from protojson's; the prefix and path are the same).
func TestValidationKumaClusterCase(t *testing.T) {
	r := decode(t, mods(`
  - cluster: {operation: AddFirst}
  - cluster: {operation: Add, value: "{"}
  - cluster: {operation: Patch, value: "{"}
  - cluster: {operation: Add, match: {name: "inbound:127.0.0.1:80"}, value: "name: xyz"}
  - cluster: {operation: Remove, value: "name: xyz"}
  - cluster: {operation: Add}
  - cluster: {operation: Patch}
  - cluster: {operation: Patch, value: "{}", jsonPatches: [{op: remove, path: ""}]}`))
	const m = "spec.default.appendModifications"
	want := []v{
		{m + "[0].cluster.operation", `invalid operation. Available operations: "Add", "Patch", "Remove"`},
		{m + "[1].cluster.value", "native Envoy resource is not valid: "},
		{m + "[2].cluster.value", "native Envoy resource is not valid: "},
		{m + "[3].cluster.match", "must not be defined"},
		{m + "[4].cluster.value", "must not be defined"},
		{m + "[5].cluster.value", "must be defined"},
		{m + "[6].cluster", "cluster must have exactly one defined: value, jsonPatches"},
		{m + "[7].cluster", "cluster must have only one type defined: value, jsonPatches"},
	}
	var got []v
	for _, x := range r.Spec.Validate().Violations {
		msg := x.Message
		if strings.HasPrefix(msg, "native Envoy resource is not valid: ") {
			msg = "native Envoy resource is not valid: "
		}
		got = append(got, v{x.Field, msg})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
