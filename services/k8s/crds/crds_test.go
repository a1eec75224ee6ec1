package crds_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/k8s/crds"
	"github.com/jetmesh/jetmesh/xds/policies"
)

var update = flag.Bool("update", false, "rewrite deploy/crds/crds.yaml")

func registry(t *testing.T) *resources.Registry {
	t.Helper()
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// deploy/crds/crds.yaml is what the generator writes (go test ./services/k8s/crds -update).
func TestCRDsFileIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := crds.Write(&b, registry(t)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "deploy", "crds", "crds.yaml")
	if *update || os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run with -update to create it): %v", path, err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("%s is out of date; run go test ./services/k8s/crds -update", path)
	}
}

// Names, scopes and short names are Kuma 2.14.3's (its chart's CRDs), and every schema is
// structural: each node has a type, or is explicitly free-form or int-or-string.
func TestCRDsMatchKuma(t *testing.T) {
	all, err := crds.All(registry(t))
	if err != nil {
		t.Fatal(err)
	}
	kuma := map[string]struct{ plural, scope, short string }{ // from Kuma 2.14.3's chart
		"Mesh": {"meshes", "Cluster", "m"}, "Dataplane": {"dataplanes", "Namespaced", "dp"},
		"ZoneIngress": {"zoneingresses", "Namespaced", "zi"}, "ZoneEgress": {"zoneegresses", "Namespaced", "ze"},
		"Zone": {"zones", "Cluster", "z"}, "DataplaneInsight": {"dataplaneinsights", "Namespaced", ""},
		"ZoneInsight": {"zoneinsights", "Cluster", ""}, "ZoneIngressInsight": {"zoneingressinsights", "Namespaced", ""},
		"ZoneEgressInsight": {"zoneegressinsights", "Namespaced", ""}, "VirtualOutbound": {"virtualoutbounds", "Cluster", ""},
		"MeshTrafficPermission": {"meshtrafficpermissions", "Namespaced", "mtp"}, "MeshRetry": {"meshretries", "Namespaced", "mr"},
		"MeshTimeout": {"meshtimeouts", "Namespaced", "mt"}, "MeshHTTPRoute": {"meshhttproutes", "Namespaced", "mhttpr"},
		"MeshLoadBalancingStrategy": {"meshloadbalancingstrategies", "Namespaced", "mlbs"},
		"MeshProxyPatch":            {"meshproxypatches", "Namespaced", "mpp"},
	}
	seen := map[string]bool{}
	for _, c := range all {
		spec := c["spec"].(map[string]any)
		names := spec["names"].(map[string]any)
		kind := names["kind"].(string)
		seen[kind] = true
		if want, ok := kuma[kind]; ok {
			short := ""
			if s, ok := names["shortNames"].([]any); ok {
				short = s[0].(string)
			}
			if names["plural"] != want.plural || spec["scope"] != want.scope || short != want.short {
				t.Errorf("%s: plural %v scope %v short %q, Kuma has %+v", kind, names["plural"], spec["scope"], short, want)
			}
		}
		schema := spec["versions"].([]any)[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
		checkStructural(t, kind, schema)
	}
	for kind := range kuma {
		if !seen[kind] {
			t.Errorf("no CRD for %s", kind)
		}
	}
	for _, kind := range []string{"Secret", "GlobalSecret", "Config"} {
		if seen[kind] {
			t.Errorf("%s has a CRD; Kubernetes mode keeps it in a Secret or ConfigMap", kind)
		}
	}
}

func checkStructural(t *testing.T, at string, s map[string]any) {
	t.Helper()
	_, typed := s["type"]
	if !typed && s["x-kubernetes-preserve-unknown-fields"] != true && s["x-kubernetes-int-or-string"] != true {
		t.Errorf("%s: schema node without a type: %v", at, s)
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for k, v := range props {
			checkStructural(t, at+"."+k, v.(map[string]any))
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		checkStructural(t, at+"[]", items)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		checkStructural(t, at+"{}", ap)
	}
}
