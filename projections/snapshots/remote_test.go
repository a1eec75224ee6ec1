package snapshots

import (
	"fmt"
	"testing"
)

func remoteIngress(services ...string) string {
	avail := ""
	for i, svc := range services {
		if i > 0 {
			avail += ","
		}
		avail += fmt.Sprintf(`{"mesh":"default","tags":{"kuma.io/service":%q},"instances":1}`, svc)
	}
	return fmt.Sprintf(`{"type":"ZoneIngress","name":"zi-b","zone":"zone-b","networking":{"address":"127.0.0.1","port":10001,
 "advertisedAddress":"127.0.0.11","advertisedPort":10001},"availableServices":[%s]}`, avail)
}

// Another zone's ingress offering one more service regenerates that service's consumers
// only; the first ingress to appear (local endpoints are weighted by the number of remote
// ingresses) and its removal regenerate the whole mesh.
func TestRemoteIngressChangeRegeneratesConsumersOnly(t *testing.T) {
	h := newHarness(t)
	h.apply("Mesh", "", "default", `{"type":"Mesh","name":"default","mtls":{"enabledBackend":"ca-1","backends":[{"name":"ca-1","type":"builtin"}]}}`)
	h.apply("Zone", "", "zone-b", `{"type":"Zone","name":"zone-b"}`)
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "x"))
	h.apply("Dataplane", "default", "b", dp("b", 18002, "b", "y"))
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
	h.apply("ZoneIngress", "", "zi-b", remoteIngress("x"))
	check("first remote ingress", before, map[string]bool{"a": true, "b": true, "c": true})

	before = counts()
	h.apply("ZoneIngress", "", "zi-b", remoteIngress("x", "y"))
	check("y offered", before, map[string]bool{"a": false, "b": true, "c": false})

	before = counts()
	h.apply("ZoneIngress", "", "zi-b", remoteIngress("x", "y", "z"))
	check("z offered, consumed by nobody", before, map[string]bool{"a": false, "b": false, "c": false})

	before = counts()
	h.apply("ZoneIngress", "", "zi-b", remoteIngress("y", "z"))
	check("x withdrawn", before, map[string]bool{"a": true, "b": false, "c": false})

	before = counts()
	h.apply("ZoneIngress", "", "zi-b", "")
	check("ingress gone", before, map[string]bool{"a": true, "b": true, "c": true})
}
