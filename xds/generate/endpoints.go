package generate

import (
	"cmp"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Priorities of Kuma's locality-aware load balancing: local zone first, other zones only
// when the local one has no healthy endpoints.
const (
	priorityLocal  = 0
	priorityRemote = 1
)

// loadAssignment is the ClusterLoadAssignment of cluster name: the endpoints whose tags
// include every tag of selector (the outbound's tags; kuma.io/service always matches, the
// rest select a subset), one LocalityLbEndpoints per zone.
//
// The shape satisfies both Envoy and grpc-go's EDS parser, which is stricter:
//   - every locality is set (zone "" for endpoints without one) and has a weight > 0, the sum
//     of its endpoints' weights (grpc-go drops zero-weight localities; Envoy ignores locality
//     weights unless the cluster enables locality-weighted LB, so this changes nothing there);
//   - priorities have no gaps: other zones get priority 1 only with the mesh's
//     localityAwareLoadBalancing (Kuma's GetLocality), and become 0 when no local endpoint
//     exists;
//   - an address appears once: endpoints sharing address:port (one zone ingress announcing
//     several subsets of a service) are merged, weights summed and tags intersected.
func loadAssignment(name string, endpoints []Endpoint, selector map[string]string, localZone string, localityAware bool) *endpointv3.ClusterLoadAssignment {
	byZone := map[string][]Endpoint{}
	for _, e := range mergeDuplicates(selectEndpoints(endpoints, selector)) {
		byZone[e.Zone] = append(byZone[e.Zone], e)
	}
	priority := func(zone string) uint32 {
		if localityAware && zone != "" && zone != localZone {
			return priorityRemote
		}
		return priorityLocal
	}
	hasLocal := false
	for zone := range byZone {
		hasLocal = hasLocal || priority(zone) == priorityLocal
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	for _, zone := range sortedKeys(byZone) {
		p := priority(zone)
		if !hasLocal {
			p = priorityLocal
		}
		cla.Endpoints = append(cla.Endpoints, localityEndpoints(zone, p, byZone[zone]))
	}
	return cla
}

// localityEndpoints expects endpoints sorted (mergeDuplicates sorts them).
func localityEndpoints(zone string, priority uint32, endpoints []Endpoint) *endpointv3.LocalityLbEndpoints {
	l := &endpointv3.LocalityLbEndpoints{
		Locality: &corev3.Locality{Zone: zone},
		Priority: priority,
	}
	var total uint32
	for _, e := range endpoints {
		total += e.weight()
		l.LbEndpoints = append(l.LbEndpoints, &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: socketAddress(e.Address, e.Port),
			}},
			LoadBalancingWeight: wrapperspb.UInt32(e.weight()),
			Metadata:            endpointMetadata(e.Tags),
		})
	}
	l.LoadBalancingWeight = wrapperspb.UInt32(total)
	return l
}

// selectEndpoints keeps the endpoints whose tags contain every selector tag.
func selectEndpoints(endpoints []Endpoint, selector map[string]string) []Endpoint {
	out := make([]Endpoint, 0, len(endpoints))
	for _, e := range endpoints {
		if tagsMatch(selector, e.Tags) {
			out = append(out, e)
		}
	}
	return out
}

func tagsMatch(selector, tags map[string]string) bool {
	for k, v := range selector {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// mergeDuplicates folds endpoints with the same address and port into one.
func mergeDuplicates(endpoints []Endpoint) []Endpoint {
	slices.SortFunc(endpoints, compareEndpoints)
	out := endpoints[:0]
	for _, e := range endpoints {
		if n := len(out); n > 0 && out[n-1].Address == e.Address && out[n-1].Port == e.Port {
			prev := &out[n-1]
			prev.Weight = prev.weight() + e.weight()
			prev.Tags = intersectTags(prev.Tags, e.Tags)
			continue
		}
		out = append(out, e)
	}
	return out
}

func intersectTags(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		if b[k] == v {
			out[k] = v
		}
	}
	return out
}

// compareEndpoints orders endpoints by address then port (Kuma's sortLbEndpoints), then by
// zone and tags so that the order never depends on the input order.
func compareEndpoints(a, b Endpoint) int {
	if c := cmp.Or(
		strings.Compare(a.Address, b.Address),
		cmp.Compare(a.Port, b.Port),
		strings.Compare(a.Zone, b.Zone),
		cmp.Compare(a.weight(), b.weight()),
	); c != 0 {
		return c
	}
	return compareTags(a.Tags, b.Tags) // allocates; only reached for duplicates
}

func compareTags(a, b map[string]string) int {
	ka, kb := sortedKeys(a), sortedKeys(b)
	for i := 0; i < len(ka) && i < len(kb); i++ {
		if c := cmp.Or(strings.Compare(ka[i], kb[i]), strings.Compare(a[ka[i]], b[kb[i]])); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ka), len(kb))
}
