package objects_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/k8s/objects"
	"github.com/jetmesh/jetmesh/xds/policies"
)

func registry(t *testing.T) *resources.Registry {
	t.Helper()
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func object(t *testing.T, doc string) objects.Object {
	t.Helper()
	var o objects.Object
	if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// Manifests as Kuma's documentation writes them become the resources the REST API would hold,
// under Kuma's Kubernetes names, and go back to the same objects.
func TestObjectsRoundTrip(t *testing.T) {
	reg := registry(t)
	for _, c := range []struct {
		name, doc, mesh, coreName string
		labels                    map[string]string
	}{{
		name: "mesh", mesh: "", coreName: "demo",
		doc: `
apiVersion: kuma.io/v1alpha1
kind: Mesh
metadata:
  name: demo
spec:
  mtls:
    enabledBackend: ca-1
    backends:
    - name: ca-1
      type: builtin
`,
		labels: map[string]string{"kuma.io/display-name": "demo"},
	}, {
		name: "dataplane", mesh: "demo", coreName: "web-6d8f.shop",
		doc: `
apiVersion: kuma.io/v1alpha1
kind: Dataplane
mesh: demo
metadata:
  name: web-6d8f
  namespace: shop
  labels:
    app: web
spec:
  networking:
    address: 10.244.0.7
    inbound:
    - port: 8080
      tags:
        kuma.io/service: web_shop_svc_8080
        kuma.io/protocol: http
`,
		labels: map[string]string{"app": "web", "kuma.io/display-name": "web-6d8f", "k8s.kuma.io/namespace": "shop"},
	}, {
		name: "policy in a mesh", mesh: "demo", coreName: "allow-all.kuma-system",
		doc: `
apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata:
  name: allow-all
  namespace: kuma-system
  labels:
    kuma.io/mesh: demo
spec:
  targetRef:
    kind: Mesh
  from:
  - targetRef:
      kind: Mesh
    default:
      action: Allow
`,
		labels: map[string]string{"kuma.io/mesh": "demo", "kuma.io/display-name": "allow-all", "k8s.kuma.io/namespace": "kuma-system"},
	}, {
		name: "legacy policy", mesh: "default", coreName: "versioned",
		doc: `
apiVersion: kuma.io/v1alpha1
kind: VirtualOutbound
mesh: default
metadata:
  name: versioned
spec:
  selectors:
  - match:
      kuma.io/service: "*"
  conf:
    host: "{{.svc}}.{{.version}}.mesh"
    port: "8080"
    parameters:
    - name: svc
      tagKey: kuma.io/service
    - name: version
`,
		labels: map[string]string{"kuma.io/display-name": "versioned"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			in := object(t, c.doc)
			r, err := objects.From(reg, in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Meta.Name != c.coreName || r.Meta.Mesh != c.mesh || !cmp.Equal(r.Meta.Labels, c.labels) {
				t.Errorf("resource %s mesh %q labels %v, want %s mesh %q labels %v", r.Meta.Name, r.Meta.Mesh, r.Meta.Labels, c.coreName, c.mesh, c.labels)
			}
			md := in["metadata"].(map[string]any)
			out, err := objects.To(r, stringOf(md["namespace"]))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(normalize(t, in), normalize(t, out)); diff != "" {
				t.Errorf("round trip (-in +out):\n%s", diff)
			}
		})
	}
}

func stringOf(v any) string { s, _ := v.(string); return s }

// normalize compares objects as JSON values (numbers as float64 on both sides).
func normalize(t *testing.T, o objects.Object) any {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Objects that cannot become resources are refused with what and why.
func TestObjectsRefused(t *testing.T) {
	reg := registry(t)
	for _, c := range []struct{ doc, want string }{
		{"apiVersion: v1\nkind: Mesh\nmetadata: {name: a}", `Mesh a: apiVersion "v1": want kuma.io/v1alpha1`},
		{"apiVersion: kuma.io/v1alpha1\nkind: Nope\nmetadata: {name: a}", "Nope a: unknown kind"},
		{"apiVersion: kuma.io/v1alpha1\nkind: Mesh\nmetadata: {name: a, namespace: x}", "Mesh x/a: a Cluster object must not be namespaced"},
		{"apiVersion: kuma.io/v1alpha1\nkind: Dataplane\nmetadata: {name: a}", "Dataplane a: a Namespaced object must be namespaced"},
		{"apiVersion: kuma.io/v1alpha1\nkind: MeshTrafficPermission\nmetadata: {name: a, namespace: x}\nspec: {targetRef: {kind: Nope}}", "MeshTrafficPermission x/a:"},
		{"apiVersion: kuma.io/v1alpha1\nkind: Dataplane\nmetadata: {name: a, namespace: x}\nspec: {name: b}", "Dataplane x/a: spec.name is not a spec field"},
	} {
		_, err := objects.From(reg, object(t, c.doc))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q...", c.doc, err, c.want)
		}
	}
}
