package generate_test

import (
	"fmt"
	"slices"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// addresses lists "address:port" of every endpoint of a CLA, in order.
func addresses(cla *endpointv3.ClusterLoadAssignment) []string {
	var out []string
	for _, l := range cla.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			sa := e.GetEndpoint().GetAddress().GetSocketAddress()
			out = append(out, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
		}
	}
	return out
}

// locality is what a test asserts about one LocalityLbEndpoints.
type locality struct {
	Zone      string
	Priority  uint32
	Weight    uint32
	Endpoints []string
}

func localities(cla *endpointv3.ClusterLoadAssignment) []locality {
	var out []locality
	for _, l := range cla.GetEndpoints() {
		one := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{l}}
		out = append(out, locality{l.GetLocality().GetZone(), l.GetPriority(), l.GetLoadBalancingWeight().GetValue(), addresses(one)})
	}
	return out
}

func TestLoadAssignmentLocalities(t *testing.T) {
	local1 := ep("10.0.0.1", 80, "zone-1", "kuma.io/service", "s")
	local2 := ep("10.0.0.2", 80, "zone-1", "kuma.io/service", "s")
	noZone := ep("10.0.0.3", 80, "", "kuma.io/service", "s")
	remote := generate.Endpoint{Address: "172.16.0.1", Port: 10001, Weight: 4, Zone: "zone-2", Tags: tags("kuma.io/service", "s")}
	tests := []struct {
		name          string
		localityAware bool
		endpoints     []generate.Endpoint
		want          []locality
	}{
		{"locality aware: remote zone is priority 1", true, []generate.Endpoint{remote, local2, local1},
			[]locality{{"zone-1", 0, 2, []string{"10.0.0.1:80", "10.0.0.2:80"}}, {"zone-2", 1, 4, []string{"172.16.0.1:10001"}}}},
		{"not locality aware: one priority", false, []generate.Endpoint{remote, local1},
			[]locality{{"zone-1", 0, 1, []string{"10.0.0.1:80"}}, {"zone-2", 0, 4, []string{"172.16.0.1:10001"}}}},
		{"no local endpoint: no gap before the remote priority", true, []generate.Endpoint{remote},
			[]locality{{"zone-2", 0, 4, []string{"172.16.0.1:10001"}}}},
		{"endpoints without zone count as local", true, []generate.Endpoint{noZone, remote},
			[]locality{{"", 0, 1, []string{"10.0.0.3:80"}}, {"zone-2", 1, 4, []string{"172.16.0.1:10001"}}}},
		{"same address twice is merged", true, []generate.Endpoint{remote, remote},
			[]locality{{"zone-2", 0, 8, []string{"172.16.0.1:10001"}}}},
		{"zero weight counts as one", false, []generate.Endpoint{{Address: "10.0.0.9", Port: 1, Tags: tags("kuma.io/service", "s")}},
			[]locality{{"", 0, 1, []string{"10.0.0.9:1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &generate.Proxy{
				Mesh:      plainMesh(),
				Dataplane: dataplane("dp", "10.0.0.100", nil, []core.Outbound{{Port: 10001, Tags: tags("kuma.io/service", "s")}}),
				Zone:      "zone-1",
				Endpoints: map[string][]generate.Endpoint{"s": tt.endpoints},
			}
			p.Mesh.Spec.Routing = &core.Routing{LocalityAwareLoadBalancing: tt.localityAware}
			r := mustGenerate(t, p)
			if diff := cmp.Diff(tt.want, localities(findCLA(t, r, "s"))); diff != "" {
				t.Errorf("localities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergedEndpointKeepsCommonTags(t *testing.T) {
	p := &generate.Proxy{
		Mesh:      plainMesh(),
		Dataplane: dataplane("dp", "10.0.0.100", nil, []core.Outbound{{Port: 10001, Tags: tags("kuma.io/service", "s")}}),
		Endpoints: map[string][]generate.Endpoint{"s": {
			ep("172.16.0.1", 10001, "zone-2", "kuma.io/service", "s", "version", "v1"),
			ep("172.16.0.1", 10001, "zone-2", "kuma.io/service", "s", "version", "v2"),
		}},
	}
	r := mustGenerate(t, p)
	lb := findCLA(t, r, "s").GetEndpoints()[0].GetLbEndpoints()
	if len(lb) != 1 {
		t.Fatalf("want one merged endpoint, got %d", len(lb))
	}
	got := lb[0].GetMetadata().GetFilterMetadata()["envoy.lb"].AsMap()
	if diff := cmp.Diff(map[string]any{"kuma.io/zone": "zone-2"}, got); diff != "" {
		t.Errorf("merged tags (-want +got):\n%s", diff)
	}
}

func TestBuildEndpoints(t *testing.T) {
	inbound := func(port uint32, service string, mod func(*core.Inbound)) core.Inbound {
		in := core.Inbound{Port: port, Tags: tags("kuma.io/service", service, "kuma.io/protocol", "http")}
		if mod != nil {
			mod(&in)
		}
		return in
	}
	web := dataplane("web-1", "10.0.0.1", []core.Inbound{
		inbound(80, "web", nil),
		inbound(81, "web", func(in *core.Inbound) { in.Health = &core.Health{Ready: false} }),
		inbound(82, "web", func(in *core.Inbound) { in.State = core.InboundNotReady }),
		inbound(83, "web", func(in *core.Inbound) { in.Health = &core.Health{Ready: true} }),
		inbound(84, "", nil),
	}, nil)
	advertised := dataplane("api-1", "10.0.0.2", []core.Inbound{inbound(8080, "api", nil)}, nil)
	advertised.Spec.Networking.AdvertisedAddress = "203.0.113.7"
	advertised.Meta.Labels = map[string]string{resources.LabelZone: "zone-1"}
	ingress := func(name, zone, address string, port uint32, services ...core.AvailableService) generate.ZoneIngress {
		return generate.ZoneIngress{Meta: resources.Meta{Name: name}, Spec: &core.ZoneIngress{
			Zone:              zone,
			Networking:        &core.ZoneIngressNetworking{AdvertisedAddress: address, AdvertisedPort: port},
			AvailableServices: services,
		}}
	}
	apiRemote := core.AvailableService{Mesh: "default", Instances: 3, Tags: tags("kuma.io/service", "api", "kuma.io/zone", "zone-2")}
	topo := generate.Topology{
		Zone:       "zone-1",
		Dataplanes: []generate.Dataplane{web, advertised},
		ZoneIngresses: []generate.ZoneIngress{
			ingress("zi-local", "zone-1", "192.0.2.1", 10001, apiRemote),
			ingress("zi-2a", "zone-2", "192.0.2.2", 10001, apiRemote,
				core.AvailableService{Mesh: "other", Instances: 9, Tags: tags("kuma.io/service", "api")}),
			ingress("zi-2b", "zone-2", "192.0.2.2", 10001, apiRemote), // same load balancer as zi-2a
			ingress("zi-3", "zone-3", "192.0.2.3", 10001,
				core.AvailableService{Mesh: "default", Instances: 1, Tags: tags("kuma.io/service", "api")}),
			ingress("zi-private", "zone-4", "", 0, apiRemote),
		},
	}

	t.Run("mTLS off: no cross-zone endpoints", func(t *testing.T) {
		topo := topo
		topo.Mesh = plainMesh()
		got := generate.BuildEndpoints(topo)
		want := map[string][]generate.Endpoint{
			"web": {
				{Address: "10.0.0.1", Port: 80, Weight: 1, Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "http")},
				{Address: "10.0.0.1", Port: 83, Weight: 1, Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "http")},
			},
			"api": {{Address: "203.0.113.7", Port: 8080, Weight: 1, Zone: "zone-1", Tags: tags("kuma.io/service", "api", "kuma.io/protocol", "http")}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("mTLS on: remote ingresses, local weight = ingress count", func(t *testing.T) {
		topo := topo
		topo.Mesh = mtlsMesh()
		got := generate.BuildEndpoints(topo)
		api := got["api"]
		want := []generate.Endpoint{
			{Address: "192.0.2.2", Port: 10001, Weight: 3, Zone: "zone-2", Tags: tags("kuma.io/service", "api", "kuma.io/zone", "zone-2")},
			{Address: "192.0.2.3", Port: 10001, Weight: 1, Zone: "zone-3", Tags: tags("kuma.io/service", "api")},
			{Address: "203.0.113.7", Port: 8080, Weight: 2, Zone: "zone-1", Tags: tags("kuma.io/service", "api", "kuma.io/protocol", "http")},
		}
		if diff := cmp.Diff(want, api); diff != "" {
			t.Errorf("api (-want +got):\n%s", diff)
		}
		if w := got["web"][0].Weight; w != 2 {
			t.Errorf("local weight %d, want 2 (two distinct remote ingresses)", w)
		}
	})
}

func TestSubsetOutboundSelectsEndpoints(t *testing.T) {
	r := mustGenerate(t, subsetOutbound())
	subset := generate.ClusterName(tags("kuma.io/service", "backend", "version", "v2"))
	tests := map[string][]string{
		"backend": {"192.168.0.4:8084", "192.168.0.5:8085", "192.168.0.6:8086"},
		subset:    {"192.168.0.5:8085", "192.168.0.6:8086"},
	}
	for cluster, want := range tests {
		if got := addresses(findCLA(t, r, cluster)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", cluster, got, want)
		}
	}
}

// With routing.zoneEgress, a sidecar reaches other zones through its zone's egress: the
// remote endpoints point at the egress, keeping their weights; local ones are untouched.
func TestBuildEndpointsViaZoneEgress(t *testing.T) {
	mesh := &core.Mesh{
		MTLS:    &core.MeshMTLS{EnabledBackend: "ca", Backends: []core.CABackend{{Name: "ca", Type: "builtin"}}},
		Routing: &core.Routing{ZoneEgress: true},
	}
	topo := generate.Topology{
		Mesh: generate.Mesh{Name: "demo", Spec: mesh}, Zone: "zone-1",
		ZoneIngresses: []generate.ZoneIngress{{Spec: &core.ZoneIngress{Zone: "zone-2",
			Networking:        &core.ZoneIngressNetworking{AdvertisedAddress: "203.0.113.2", AdvertisedPort: 10001},
			AvailableServices: []core.AvailableService{{Mesh: "demo", Instances: 3, Tags: map[string]string{"kuma.io/service": "backend"}}},
		}}},
		ZoneEgresses: []generate.ZoneEgress{{Spec: &core.ZoneEgress{Zone: "zone-1",
			Networking: &core.ZoneEgressNetworking{Address: "10.0.0.9", Port: 10002}}}},
	}
	eps := generate.BuildEndpoints(topo)["backend"]
	if len(eps) != 1 || eps[0].Address != "10.0.0.9" || eps[0].Port != 10002 || eps[0].Weight != 3 || eps[0].Zone != "zone-2" {
		t.Fatalf("endpoints via egress = %+v", eps)
	}
	mesh.Routing.ZoneEgress = false
	eps = generate.BuildEndpoints(topo)["backend"]
	if len(eps) != 1 || eps[0].Address != "203.0.113.2" {
		t.Fatalf("endpoints without egress routing = %+v", eps)
	}
}
