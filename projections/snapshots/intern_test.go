package snapshots

import (
	"runtime"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

func assignment(cluster string, port uint32) *endpointv3.ClusterLoadAssignment {
	return &endpointv3.ClusterLoadAssignment{ClusterName: cluster, Endpoints: []*endpointv3.LocalityLbEndpoints{{
		LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}}}}}}}
}

// Equal assignments become one message; different ones stay apart; one no snapshot holds
// any more is not handed out again.
func TestEndpointInterner(t *testing.T) {
	var in endpointInterner
	first := assignment("backend", 8080)
	rs := []types.Resource{first, assignment("backend", 8080), assignment("backend", 8081), assignment("other", 8080)}
	if err := in.internAll(rs); err != nil {
		t.Fatal(err)
	}
	if rs[0] != first || rs[1] != first {
		t.Errorf("equal assignments not shared: %p %p, want %p", rs[0], rs[1], first)
	}
	if rs[2] == first || rs[3] == first || rs[2] == rs[3] {
		t.Errorf("different assignments shared: %p %p %p", rs[1], rs[2], rs[3])
	}

	rs, first = nil, nil
	runtime.GC() // the assignments above are unreachable now; their weak entries clear
	again := assignment("backend", 8080)
	got, err := in.intern(again)
	if err != nil {
		t.Fatal(err)
	}
	if got != again {
		t.Errorf("an assignment nothing holds was handed out again")
	}
	in.sweep()
	if len(in.byHash) != 1 {
		t.Errorf("after sweep %d entries, want 1 (the live one)", len(in.byHash))
	}
}

// Consumers of one service publish the same endpoints message, not one copy each.
func TestConsumersShareEndpoints(t *testing.T) {
	h := newHarness(t)
	h.apply("Dataplane", "default", "backend-1", dp("backend-1", 18003, "backend", ""))
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "backend"))
	h.apply("Dataplane", "default", "b", dp("b", 18002, "b", "backend"))
	h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
	h.p.Connect(Client{NodeID: "default.b", Mesh: "default", Name: "b"})
	h.waitCount("default.a", 1)
	h.waitCount("default.b", 1)
	h.settle()
	find := func(node string) types.Resource {
		for _, r := range h.rec.resources(node, resourceEndpointType) {
			if r.(*endpointv3.ClusterLoadAssignment).GetClusterName() == "backend" {
				return r
			}
		}
		t.Fatalf("%s has no endpoints for backend", node)
		return nil
	}
	if a, b := find("default.a"), find("default.b"); a != b {
		t.Errorf("a and b hold separate copies of backend's endpoints (%p, %p)", a, b)
	}
}
