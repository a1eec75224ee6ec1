package zonesync

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

func dpEntry(mesh, name string, inbounds ...core.Inbound) *state.Entry {
	spec := &core.Dataplane{Networking: &core.DataplaneNetworking{Address: "10.0.0.1", Inbound: inbounds}}
	desc := &resources.Descriptor{Name: "Dataplane", Scope: resources.ScopeMesh}
	return &state.Entry{Key: events.Key{Scope: events.ZoneScope("z"), Type: "Dataplane", Mesh: mesh, Name: name}, Name: name,
		Resource: &resources.Resource{Desc: desc, Meta: resources.Meta{Mesh: mesh, Name: name}, Spec: spec}}
}

func TestAvailableServices(t *testing.T) {
	in := func(port uint32, tags map[string]string) core.Inbound {
		return core.Inbound{Port: port, Tags: tags}
	}
	backend := map[string]string{"kuma.io/service": "backend", "version": "v1"}
	backendV2 := map[string]string{"kuma.io/service": "backend", "version": "v2"}
	web := map[string]string{"kuma.io/service": "web"}
	down := in(9090, map[string]string{"kuma.io/service": "down"})
	down.Health = &core.Health{Ready: false}
	got := AvailableServices([]*state.Entry{
		dpEntry("demo", "b1", in(8080, backend)),
		dpEntry("demo", "b2", in(8080, backend), in(8081, backendV2)),
		dpEntry("other", "w1", in(80, web)),
		dpEntry("demo", "d1", down),
	})
	want := []core.AvailableService{
		{Mesh: "demo", Tags: backend, Instances: 2},
		{Mesh: "demo", Tags: backendV2, Instances: 1},
		{Mesh: "other", Tags: web, Instances: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AvailableServices (-want +got):\n%s", diff)
	}
	if got := AvailableServices(nil); len(got) != 0 {
		t.Errorf("no dataplanes: %v", got)
	}
}
