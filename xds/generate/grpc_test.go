package generate_test

import (
	"fmt"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/jetmesh/jetmesh/xds/generate"
)

// checkGRPCLoadAssignment applies the rules of grpc-go's EDS parser (unmarshal_eds.go): every
// locality set and weighted, endpoint weights non-zero, priorities 0..n without gaps, no
// address twice.
func checkGRPCLoadAssignment(cla *endpointv3.ClusterLoadAssignment) error {
	priorities := map[uint32]bool{}
	seen := map[string]bool{}
	for _, l := range cla.GetEndpoints() {
		if l.GetLocality() == nil {
			return fmt.Errorf("locality without ID")
		}
		if l.GetLoadBalancingWeight().GetValue() == 0 {
			return fmt.Errorf("locality %v has weight 0 (grpc-go ignores it)", l.GetLocality())
		}
		priorities[l.GetPriority()] = true
		for _, e := range l.GetLbEndpoints() {
			if w := e.GetLoadBalancingWeight(); w != nil && w.GetValue() == 0 {
				return fmt.Errorf("endpoint with zero weight")
			}
			sa := e.GetEndpoint().GetAddress().GetSocketAddress()
			addr := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
			if seen[addr] {
				return fmt.Errorf("duplicate endpoint %s", addr)
			}
			seen[addr] = true
		}
	}
	for i := range len(priorities) {
		if !priorities[uint32(i)] {
			return fmt.Errorf("priority %d missing in %v", i, priorities)
		}
	}
	return nil
}

func TestLoadAssignmentsSuitGRPC(t *testing.T) {
	for name, build := range goldenCases() {
		r, err := build()
		if err != nil {
			t.Fatal(err)
		}
		for _, cla := range r.Endpoints {
			if err := checkGRPCLoadAssignment(cla); err != nil {
				t.Errorf("%s: %s: %v", name, cla.GetClusterName(), err)
			}
		}
	}
}

// TestGRPCClient checks what grpc-go's LDS/RDS/CDS parsers require of a client listener and
// its cluster.
func TestGRPCClient(t *testing.T) {
	r, err := generate.GRPCClient(grpcClientProxy())
	if err != nil {
		t.Fatal(err)
	}
	if err := generate.Validate(r); err != nil {
		t.Fatal(err)
	}
	clusters := map[string]bool{}
	for _, c := range r.Clusters {
		if c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil {
			t.Errorf("cluster %s: EDS config source is not ADS", c.GetName())
		}
		if c.GetTransportSocketMatches() != nil {
			t.Errorf("cluster %s: grpc-go rejects transport_socket_matches", c.GetName())
		}
		clusters[c.GetName()] = true
	}
	want := []string{"orders", generate.ClusterName(tags("kuma.io/service", "orders", "kuma.io/zone", "zone-2")), "payments"}
	if got := names(r)["listeners"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listeners %v, want %v", got, want)
	}
	for _, l := range r.Listeners {
		if l.GetAddress() != nil || len(l.GetFilterChains()) != 0 {
			t.Errorf("%s: an API listener has no socket", l.GetName())
		}
		h := &hcmv3.HttpConnectionManager{}
		if err := l.GetApiListener().GetApiListener().UnmarshalTo(h); err != nil {
			t.Fatalf("%s: api_listener is not an HttpConnectionManager: %v", l.GetName(), err)
		}
		filters := h.GetHttpFilters()
		if len(filters) != 1 || filters[0].GetTypedConfig().GetTypeUrl() != "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" {
			t.Errorf("%s: HTTP filters %v, want only the router", l.GetName(), filters)
		}
		vhosts := h.GetRouteConfig().GetVirtualHosts()
		if len(vhosts) != 1 || vhosts[0].GetDomains()[0] != "*" {
			t.Fatalf("%s: virtual hosts %v", l.GetName(), vhosts)
		}
		route := vhosts[0].GetRoutes()[0]
		if route.GetMatch().GetPrefix() != "/" || !clusters[route.GetRoute().GetCluster()] {
			t.Errorf("%s: route %v does not send everything to a known cluster", l.GetName(), route)
		}
		if route.GetRoute().GetCluster() != l.GetName() {
			t.Errorf("%s routes to %s", l.GetName(), route.GetRoute().GetCluster())
		}
	}
	single, err := generate.GRPCClientListener("svc", "svc-cluster")
	if err != nil || single.GetName() != "svc" {
		t.Fatalf("GRPCClientListener: %v %v", single, err)
	}
}
