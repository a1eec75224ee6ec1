package controlplane_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/xds/generate"
)

const tproxyDataplane = `{"type":"Dataplane","mesh":"default","name":"web-1","networking":{"address":"127.0.0.1",
"inbound":[{"port":8080,"tags":{"kuma.io/service":"web","kuma.io/protocol":"http"}}],
"transparentProxying":{"redirectPortInbound":15006,"redirectPortOutbound":15001}}}`

func plainDataplane(name, service string, port int) string {
	return fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,"networking":{"address":"127.0.0.1",
"inbound":[{"port":%d,"tags":{"kuma.io/service":%q,"kuma.io/protocol":"http"}}]}}`, name, port, service)
}

// A dataplane with transparent proxying and no outbound section reaches every service on its
// virtual IP: the CP allocates them as events, serves a listener per VIP and the names to
// kuma-dp's embedded DNS, gives a new service the next address, releases a service's address
// when its last instance goes, and keeps every address across a restart (from the log: a
// fresh allocation would now give api the freed, lower address).
func TestTransparentProxyVirtualIPs(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	put := func(cp *cptest.CP, name, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, cp.URL+"/meshes/default/dataplanes/"+name, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d", name, resp.StatusCode)
		}
	}
	put(cp, "web-1", tproxyDataplane)
	put(cp, "backend-1", plainDataplane("backend-1", "backend_demo_svc_80", 8081))

	features := []string{"feature-embedded-dns"}
	ls := cptest.Listeners(t, cp, "default.web-1", features, "VIPs of web and backend", func(ls map[string]*listenerv3.Listener) bool {
		return len(cptest.VIPs(ls)) == 2
	})
	first := cptest.VIPs(ls)
	for _, want := range []string{generate.DynamicConfigListener, "outbound:passthrough:ipv4", "inbound:passthrough:ipv4",
		"outbound:passthrough:ipv6", "inbound:passthrough:ipv6"} {
		if _, ok := ls[want]; !ok {
			t.Errorf("no listener %s; have %v", want, slices.Sorted(maps.Keys(ls)))
		}
	}
	dns := cptest.DNSTable(t, ls)
	for _, name := range []string{"backend_demo_svc_80.mesh", "backend.demo.svc.80.mesh", "web.mesh"} {
		if !strings.Contains(dns, name) {
			t.Errorf("DNS table lacks %s: %s", name, dns)
		}
	}
	if l := ls["outbound:"+first["backend_demo_svc_80"]+":80"]; l.GetBindToPort() == nil || l.GetBindToPort().GetValue() {
		t.Errorf("VIP listener binds its port: %v", l)
	}
	// The service also answers at its VIP on the port its instances listen on.
	if _, ok := ls["outbound:"+first["backend_demo_svc_80"]+":8081"]; !ok {
		t.Errorf("no listener on backend's VIP at its own port 8081; have %v", slices.Sorted(maps.Keys(ls)))
	}
	// Without the embedded DNS, no table; the VIP listeners stay.
	plain := cptest.Listeners(t, cp, "default.web-1", nil, "VIPs without DNS", func(ls map[string]*listenerv3.Listener) bool {
		return len(cptest.VIPs(ls)) == 2
	})
	if _, ok := plain[generate.DynamicConfigListener]; ok {
		t.Error("a proxy without feature-embedded-dns got the DNS table")
	}

	// A new service gets a new address; the others keep theirs. The last backend going
	// releases backend's.
	put(cp, "api-1", plainDataplane("api-1", "api", 8082))
	ls = cptest.Listeners(t, cp, "default.web-1", features, "api's VIP", func(ls map[string]*listenerv3.Listener) bool {
		return cptest.VIPs(ls)["api"] != ""
	})
	got := cptest.VIPs(ls)
	if got["web"] != first["web"] || got["backend_demo_svc_80"] != first["backend_demo_svc_80"] ||
		got["api"] == first["web"] || got["api"] == first["backend_demo_svc_80"] {
		t.Errorf("after api joined: %v, before: %v", got, first)
	}
	req, _ := http.NewRequest(http.MethodDelete, cp.URL+"/meshes/default/dataplanes/backend-1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ls = cptest.Listeners(t, cp, "default.web-1", features, "backend's VIP released", func(ls map[string]*listenerv3.Listener) bool {
		_, has := cptest.VIPs(ls)["backend_demo_svc_80"]
		return !has
	})
	if table := cptest.DNSTable(t, ls); strings.Contains(table, "backend_demo_svc_80.mesh") || !strings.Contains(table, "api.mesh") {
		t.Errorf("after backend left, the DNS table is %s", table)
	}

	before := cptest.VIPs(ls)
	cp.Stop(t)
	cp = cptest.Start(t, dir)
	ls = cptest.Listeners(t, cp, "default.web-1", features, "the same VIPs after a restart", func(ls map[string]*listenerv3.Listener) bool {
		return len(cptest.VIPs(ls)) == 2
	})
	if got := cptest.VIPs(ls); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("after a restart: %v, before: %v", got, before)
	}
}

// A VirtualOutbound gives the services it selects another name and port: an address of its
// own, a listener on that port and the name in the DNS table.
func TestVirtualOutboundNames(t *testing.T) {
	cp := cptest.Start(t, "")
	for _, r := range []struct{ path, body string }{
		{"/meshes/default/dataplanes/web-1", tproxyDataplane},
		{"/meshes/default/dataplanes/backend-1", plainDataplane("backend-1", "backend", 8081)},
		{"/meshes/default/virtual-outbounds/internal", `{"type":"VirtualOutbound","mesh":"default","name":"internal",
			"selectors":[{"match":{"kuma.io/service":"backend"}}],
			"conf":{"host":"{{.svc}}.internal","port":"8080","parameters":[{"name":"svc","tagKey":"kuma.io/service"}]}}`},
	} {
		req, _ := http.NewRequest(http.MethodPut, cp.URL+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d", r.path, resp.StatusCode)
		}
	}
	var port8080 string
	ls := cptest.Listeners(t, cp, "default.web-1", []string{"feature-embedded-dns"}, "backend.internal:8080",
		func(ls map[string]*listenerv3.Listener) bool {
			for name := range ls {
				if strings.HasPrefix(name, "outbound:240.") && strings.HasSuffix(name, ":8080") {
					port8080 = name
					return strings.Contains(cptest.DNSTable(t, ls), "backend.internal")
				}
			}
			return false
		})
	vips := cptest.VIPs(ls)
	if strings.Contains(port8080, vips["backend"]+":") {
		t.Errorf("backend.internal shares backend.mesh's address %s: %s", vips["backend"], port8080)
	}
	if table := cptest.DNSTable(t, ls); !strings.Contains(table, "backend.mesh") || strings.Contains(table, "web.internal") {
		t.Errorf("DNS table: %s", table)
	}
}
