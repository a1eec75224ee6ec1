package snapshots

import (
	"fmt"
	"testing"
)

func mtp(name, targetRef string) string {
	return fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":%q,"spec":{"targetRef":%s,"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`,
		name, targetRef)
}

// A permission that targets one service regenerates that service's proxies only; moving it
// to another service regenerates both the old and the new ones; deleting it, the old ones.
func TestPermissionForOneServiceRegeneratesItsProxiesOnly(t *testing.T) {
	h := newHarness(t)
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "b"))
	h.apply("Dataplane", "default", "b", dp("b", 18002, "b", ""))
	h.apply("Dataplane", "default", "c", dp("c", 18003, "c", ""))
	for _, n := range []string{"a", "b", "c"} {
		h.p.Connect(Client{NodeID: "default." + n, Mesh: "default", Name: n})
		h.waitCount("default."+n, 1)
	}
	h.settle()
	counts := func() map[string]int {
		return map[string]int{"a": h.rec.count("default.a"), "b": h.rec.count("default.b"), "c": h.rec.count("default.c")}
	}
	check := func(step string, before map[string]int, want map[string]bool) {
		t.Helper()
		h.settle()
		for n, changed := range want {
			if got := h.rec.count("default."+n) > before[n]; got != changed {
				t.Errorf("%s: %s regenerated = %v, want %v", step, n, got, changed)
			}
		}
	}
	before := counts()
	h.apply("MeshTrafficPermission", "default", "p", mtp("p", `{"kind":"MeshSubset","tags":{"kuma.io/service":"b"}}`))
	check("create for b", before, map[string]bool{"a": false, "b": true, "c": false})

	before = counts()
	h.apply("MeshTrafficPermission", "default", "p", mtp("p", `{"kind":"MeshService","name":"c"}`))
	check("move from b to c", before, map[string]bool{"a": false, "b": true, "c": true})

	before = counts()
	h.apply("MeshTrafficPermission", "default", "p", "")
	check("delete", before, map[string]bool{"a": false, "b": false, "c": true})

	before = counts()
	h.apply("MeshTrafficPermission", "default", "q", mtp("q", `{"kind":"MeshSubset","tags":{"team":"x"}}`))
	check("no service in the selector: whole mesh", before, map[string]bool{"a": true, "b": true, "c": true})
}
