package zonesync_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// endpointsOf follows a proxy's EDS for one cluster until cond holds for its endpoints
// ("address:port weight" strings), ACKing every response as Envoy does.
func endpointsOf(t *testing.T, cp *cptest.CP, nodeID, cluster string, cond func([]string) bool) []string {
	t.Helper()
	return endpointsOfProxy(t, cp, nodeID, "", cluster, cond)
}

// endpointsOfProxy is endpointsOf for a zone proxy of the given type ("ingress", "egress").
func endpointsOfProxy(t *testing.T, cp *cptest.CP, nodeID, proxyType, cluster string, cond func([]string) bool) []string {
	t.Helper()
	return cptest.Endpoints(t, cp, nodeID, proxyType, cluster, cond)
}

// meshWithIngress starts a global and two zones with the mTLS mesh demo on both and zone-1's
// ingress zi-1 (advertised as 127.0.0.11:10001).
func meshWithIngress(t *testing.T) (g, z1, z2 *cptest.CP) {
	t.Helper()
	topo := startTopology(t, "")
	g, z1, z2 = topo.global, topo.z1, topo.z2
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", mtlsMesh, http.StatusCreated)
	for _, z := range []*cptest.CP{z1, z2} {
		eventually(t, "mesh on a zone", status(t, z.URL+"/meshes/demo", http.StatusOK))
	}
	mustCall(t, http.MethodPut, z1.URL+"/zoneingresses/zi-1", `{"type":"ZoneIngress","name":"zi-1",
		"networking":{"address":"127.0.0.1","port":10001,"advertisedAddress":"127.0.0.11","advertisedPort":10001}}`, http.StatusCreated)
	return g, z1, z2
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const mtlsMesh = `{"type":"Mesh","name":"demo","mtls":{"enabledBackend":"ca-1","backends":[{"name":"ca-1","type":"builtin"}]}}`

// A service running in zone-1 is reachable from zone-2 through zone-1's ingress: zone-1
// computes the ingress's availableServices, the global carries them to zone-2, and zone-2's
// consumers get the ingress as an EDS endpoint weighted by the instances behind it. When
// zone-1 is disabled, its ingress disappears from zone-2's endpoints.
func TestCrossZoneEndpoints(t *testing.T) {
	g, z1, z2 := meshWithIngress(t)
	for _, name := range []string{"backend-1", "backend-2"} {
		mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/"+name, dataplaneNamed(name), http.StatusCreated)
	}
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/web", `{"type":"Dataplane","mesh":"demo","name":"web",
		"networking":{"address":"127.0.0.2","inbound":[{"port":8080,"tags":{"kuma.io/service":"web"}}],
		"outbound":[{"port":10002,"tags":{"kuma.io/service":"backend"}}]}}`, http.StatusCreated)

	eventually(t, "ingress services on the global", func() (bool, string) {
		_, body := call(t, http.MethodGet, g.URL+"/zoneingresses/zi-1.zone-1", "")
		body = compact(body)
		return strings.Contains(body, `"instances":2`) && strings.Contains(body, `"zone":"zone-1"`), body
	})
	got := endpointsOf(t, z2, "demo.web", "backend", func(eps []string) bool { return contains(eps, "127.0.0.11:10001 2") })
	t.Logf("zone-2 endpoints of backend: %v", got)

	// Disabling zone-1 takes its ingress out of zone-2's endpoints.
	mustCall(t, http.MethodPut, g.URL+"/zones/zone-1", `{"type":"Zone","name":"zone-1","enabled":false}`, http.StatusOK)
	endpointsOf(t, z2, "demo.web", "backend", func(eps []string) bool { return !contains(eps, "127.0.0.11:10001 2") })
}

// With routing.zoneEgress, zone-2's consumers reach zone-1 through zone-2's egress: their EDS
// points at the egress, and the egress proxy's own config sends each service's SNI to
// zone-1's ingress.
func TestCrossZoneViaEgress(t *testing.T) {
	topo := startTopology(t, "")
	g, z1, z2 := topo.global, topo.z1, topo.z2
	mesh := strings.Replace(mtlsMesh, `"mtls"`, `"routing":{"zoneEgress":true},"mtls"`, 1)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", mesh, http.StatusCreated)
	for _, z := range []*cptest.CP{z1, z2} {
		eventually(t, "mesh on a zone", status(t, z.URL+"/meshes/demo", http.StatusOK))
	}
	mustCall(t, http.MethodPut, z1.URL+"/zoneingresses/zi-1", `{"type":"ZoneIngress","name":"zi-1",
		"networking":{"address":"127.0.0.1","port":10001,"advertisedAddress":"127.0.0.11","advertisedPort":10001}}`, http.StatusCreated)
	mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/backend-1", dataplaneNamed("backend-1"), http.StatusCreated)
	mustCall(t, http.MethodPut, z2.URL+"/zoneegresses/ze-1", `{"type":"ZoneEgress","name":"ze-1",
		"networking":{"address":"127.0.0.12","port":10002}}`, http.StatusCreated)
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/web", `{"type":"Dataplane","mesh":"demo","name":"web",
		"networking":{"address":"127.0.0.2","inbound":[{"port":8080,"tags":{"kuma.io/service":"web"}}],
		"outbound":[{"port":10002,"tags":{"kuma.io/service":"backend"}}]}}`, http.StatusCreated)

	endpointsOf(t, z2, "demo.web", "backend", func(eps []string) bool { return contains(eps, "127.0.0.12:10002 1") })
	// The egress proxy (node ".ze-1", proxyType egress) forwards backend to zone-1's ingress.
	got := endpointsOfProxy(t, z2, ".ze-1", "egress", "demo:backend",
		func(eps []string) bool { return contains(eps, "127.0.0.11:10001 1") })
	t.Logf("egress endpoints of demo:backend: %v", got)
}

// Virtual IPs are decided once, on the global, from every zone's services, so a dataplane
// with transparent proxying sees the same address for a service in every zone; in zone-2 the
// VIP of a service that runs only in zone-1 leads to zone-1's ingress.
func TestVirtualIPsAcrossZones(t *testing.T) {
	_, z1, z2 := meshWithIngress(t)
	mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/backend-1", dataplaneNamed("backend-1"), http.StatusCreated)
	tproxy := func(name, service, address string) string {
		return fmt.Sprintf(`{"type":"Dataplane","mesh":"demo","name":%q,"networking":{"address":%q,
			"inbound":[{"port":8080,"tags":{"kuma.io/service":%q}}],
			"transparentProxying":{"redirectPortInbound":15006,"redirectPortOutbound":15001}}}`, name, address, service)
	}
	mustCall(t, http.MethodPut, z1.URL+"/meshes/demo/dataplanes/web-1", tproxy("web-1", "web", "127.0.0.3"), http.StatusCreated)
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/api-1", tproxy("api-1", "api", "127.0.0.4"), http.StatusCreated)

	features := []string{"feature-embedded-dns"}
	all := func(ls map[string]*listenerv3.Listener) bool { return len(cptest.VIPs(ls)) == 3 } // backend, web, api
	in1 := cptest.VIPs(cptest.Listeners(t, z1, "demo.web-1", features, "three VIPs in zone-1", all))
	in2 := cptest.VIPs(cptest.Listeners(t, z2, "demo.api-1", features, "three VIPs in zone-2", all))
	if fmt.Sprint(in1) != fmt.Sprint(in2) {
		t.Errorf("zones disagree on virtual IPs: zone-1 %v, zone-2 %v", in1, in2)
	}
	// zone-2 reaches backend (zone-1 only) on its VIP, through zone-1's ingress.
	endpointsOf(t, z2, "demo.api-1", "backend", func(eps []string) bool { return contains(eps, "127.0.0.11:10001 1") })
	ls := cptest.Listeners(t, z2, "demo.api-1", features, "backend.mesh in zone-2's DNS", func(ls map[string]*listenerv3.Listener) bool {
		return strings.Contains(cptest.DNSTable(t, ls), `"backend.mesh","ips":["`+in1["backend"]+`"`)
	})
	if _, ok := ls["outbound:"+in1["backend"]+":80"]; !ok {
		t.Errorf("zone-2 has no listener on backend's VIP %s", in1["backend"])
	}
}
