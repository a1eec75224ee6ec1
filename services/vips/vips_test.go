package vips_test

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/jetmesh/jetmesh/services/vips"
)

func svc(name string) vips.Entry { return vips.Entry{Type: vips.Service, Name: name} }

func want(services ...string) vips.Want {
	w := vips.Want{}
	for _, s := range services {
		w[svc(s)] = []vips.Outbound{{TagSet: map[string]string{"kuma.io/service": s}, Origin: "service"}}
	}
	return w
}

func addrs(t vips.Table) map[string]string {
	out := map[string]string{}
	for e, vo := range t {
		out[e.Name] = vo.Address
	}
	return out
}

// Addresses are stable while a service exists, released when it goes, reused lowest first,
// unique across meshes, and a pure function of the inputs.
func TestAllocate(t *testing.T) {
	cidr := netip.MustParsePrefix("240.0.0.0/4")
	first, err := vips.Allocate(cidr, nil, map[string]vips.Want{"default": want("web", "backend"), "demo": want("backend")})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs(first["default"]); !reflect.DeepEqual(got, map[string]string{"backend": "240.0.0.0", "web": "240.0.0.1"}) {
		t.Errorf("default: %v", got)
	}
	if got := addrs(first["demo"]); !reflect.DeepEqual(got, map[string]string{"backend": "240.0.0.2"}) {
		t.Errorf("demo: %v (addresses are unique across meshes)", got)
	}
	again, err := vips.Allocate(cidr, nil, map[string]vips.Want{"demo": want("backend"), "default": want("backend", "web")})
	if err != nil || !vips.Equal(again["default"], first["default"]) || !vips.Equal(again["demo"], first["demo"]) {
		t.Errorf("same input, different tables: %v %v (%v)", again, first, err)
	}

	// backend leaves default: its address is free; web keeps its own; a new service takes the
	// lowest free address, and "aaa" (sorted first) does not take web's.
	second, err := vips.Allocate(cidr, first, map[string]vips.Want{"default": want("web", "aaa", "zzz"), "demo": want("backend")})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs(second["default"]); !reflect.DeepEqual(got, map[string]string{"web": "240.0.0.1", "aaa": "240.0.0.0", "zzz": "240.0.0.3"}) {
		t.Errorf("after churn: %v", got)
	}
	if got := addrs(second["demo"]); got["backend"] != "240.0.0.2" {
		t.Errorf("demo's backend moved: %v", got)
	}

	// A new CIDR reallocates what falls outside it.
	moved, err := vips.Allocate(netip.MustParsePrefix("241.0.0.0/24"), second, map[string]vips.Want{"default": want("web")})
	if err != nil || addrs(moved["default"])["web"] != "241.0.0.0" {
		t.Errorf("after a CIDR change: %v (%v)", addrs(moved["default"]), err)
	}

	// A full CIDR allocates what it can and says what it could not.
	tiny := netip.MustParsePrefix("10.0.0.0/31") // .0, .1
	full, err := vips.Allocate(tiny, nil, map[string]vips.Want{"default": want("a", "b", "c")})
	if !errors.Is(err, vips.ErrExhausted) || len(full["default"]) != 2 {
		t.Errorf("exhausted: %v, %d allocated", err, len(full["default"]))
	}
}

// The table is stored in Kuma's format, "<type>:<name>" keys with address and outbounds, and
// reads back equal.
func TestTableEncoding(t *testing.T) {
	tbl, err := vips.Allocate(netip.MustParsePrefix("240.0.0.0/4"), nil, map[string]vips.Want{"m": want("backend")})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := tbl["m"].Encode()
	if err != nil {
		t.Fatal(err)
	}
	const kuma = `{"0:backend":{"address":"240.0.0.0","outbounds":[{"Port":0,"TagSet":{"kuma.io/service":"backend"},"Origin":"service"}]}}`
	if doc != kuma {
		t.Errorf("encoded\n%s\nwant Kuma's\n%s", doc, kuma)
	}
	back, err := vips.Decode(doc)
	if err != nil || !vips.Equal(back, tbl["m"]) {
		t.Errorf("decoded %v (%v)", back, err)
	}
	for _, bad := range []string{`{"x:backend":{}}`, `{"7:a":{}}`, `{"0:":{}}`, `[`} {
		if _, err := vips.Decode(bad); err == nil {
			t.Errorf("Decode(%s) accepted", bad)
		}
	}
	for _, c := range []struct{ name, mesh string }{{"kuma-default-dns-vips", "default"}, {"kuma-a-b-dns-vips", "a-b"}} {
		if m, ok := vips.MeshOf(c.name); !ok || m != c.mesh || vips.ConfigName(m) != c.name {
			t.Errorf("MeshOf(%s) = %q, %v", c.name, m, ok)
		}
	}
	if _, ok := vips.MeshOf("kuma--dns-vips"); ok {
		t.Error("a Config name without a mesh parsed")
	}
}

// Service names answer in both forms; outbounds sit on the VIP port (and a service's own).
func TestNamesAndOutbounds(t *testing.T) {
	tbl := vips.Table{
		svc("echo-server_echo-example_svc_1010"): {Address: "240.0.0.1", Outbounds: []vips.Outbound{{TagSet: map[string]string{"kuma.io/service": "echo-server_echo-example_svc_1010"}}}},
		svc("backend"):                           {Address: "240.0.0.2", Outbounds: []vips.Outbound{{Port: 8080, TagSet: map[string]string{"kuma.io/service": "backend"}}}},
		svc("pending"):                           {Outbounds: []vips.Outbound{{TagSet: map[string]string{"kuma.io/service": "pending"}}}},
	}
	got := fmt.Sprint(tbl.Names("mesh"))
	const wantNames = "[{backend.mesh 240.0.0.2} {echo-server.echo-example.svc.1010.mesh 240.0.0.1} {echo-server_echo-example_svc_1010.mesh 240.0.0.1}]"
	if got != wantNames {
		t.Errorf("names %s\nwant %s", got, wantNames)
	}
	var obs []string
	for _, o := range tbl.Outbounds(80) {
		obs = append(obs, fmt.Sprintf("%s:%d %s", o.Address, o.Port, o.Tags["kuma.io/service"]))
	}
	if fmt.Sprint(obs) != "[240.0.0.1:80 echo-server_echo-example_svc_1010 240.0.0.2:80 backend 240.0.0.2:8080 backend]" {
		t.Errorf("outbounds %v", obs)
	}
}
