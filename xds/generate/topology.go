package generate

import (
	"maps"
	"net"
	"strconv"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// ZoneIngress is a ZoneIngress resource of any zone.
type ZoneIngress struct {
	Meta resources.Meta
	Spec *core.ZoneIngress
}

// ZoneEgress is a ZoneEgress resource of the local zone.
type ZoneEgress struct {
	Meta resources.Meta
	Spec *core.ZoneEgress
}

// Topology is what BuildEndpoints reads: the mesh, the local zone, the mesh's dataplanes
// in this zone, the zone ingresses of all zones and the local zone's egresses.
type Topology struct {
	Mesh          Mesh
	Zone          string
	Dataplanes    []Dataplane
	ZoneIngresses []ZoneIngress
	// ZoneEgresses are used when the mesh routes cross-zone traffic through them
	// (routing.zoneEgress): remote endpoints then point at the egresses.
	ZoneEgresses []ZoneEgress
}

// BuildEndpoints returns the endpoints of every service of the mesh, keyed by
// kuma.io/service, as Kuma's BuildEdsEndpointMap computes them for tag-based services:
//
//   - every ready inbound of every dataplane is an endpoint at its advertised address (or
//     address) and port. Inbounds whose state is not Ready, or whose health says not ready,
//     are left out rather than sent as UNHEALTHY: that is what Kuma does, and it keeps them
//     out of grpc-go's picker too;
//   - with mTLS on (cross-zone traffic is routed by SNI, so it needs TLS), each remote zone
//     ingress with a public address adds one endpoint per available service, weighted by
//     the service's instance count there. Ingresses behind the same public address count once;
//   - local endpoints then weigh as much as the number of remote ingresses, so that one
//     local instance and one remote instance get the same share of traffic.
//
// The result's order follows the input; Generate sorts what it emits.
func BuildEndpoints(t Topology) map[string][]Endpoint {
	out, ingresses := RemoteEndpoints(t)
	weight := uint32(1)
	if ingresses > 0 {
		weight = uint32(ingresses)
	}
	for _, dp := range t.Dataplanes {
		if dp.Spec == nil || dp.Spec.Networking == nil {
			continue
		}
		n := dp.Spec.Networking
		for i := range n.Inbound {
			in := &n.Inbound[i]
			service := in.Service()
			if service == "" || !inboundHealthy(in) {
				continue
			}
			iface := n.InboundInterface(in)
			address := iface.DataplaneIP
			if n.AdvertisedAddress != "" {
				address = n.AdvertisedAddress
			}
			out[service] = append(out[service], Endpoint{
				Address: address,
				Port:    iface.DataplanePort,
				Tags:    maps.Clone(in.Tags),
				Weight:  weight,
				Zone:    endpointZone(in.Tags, dp.Meta.Labels),
			})
		}
	}
	return out
}

// inboundHealthy is Kuma's GetHealthyInbounds filter.
func inboundHealthy(in *core.Inbound) bool {
	return in.State == core.InboundReady && (in.Health == nil || in.Health.Ready)
}

// RemoteEndpoints returns only the endpoints of other zones' ingresses (see BuildEndpoints),
// by service, and how many distinct ingresses they come through: local endpoints must then
// weigh that much each.
func RemoteEndpoints(t Topology) (map[string][]Endpoint, int) {
	out := map[string][]Endpoint{}
	n := remoteIngressEndpoints(t, out)
	return viaEgress(t, out), n
}

// viaEgress points remote endpoints at the local zone egresses when the mesh routes
// cross-zone traffic through them: the sidecar's connection (and its SNI) goes to an egress,
// which passes it to the remote ingress. Each remote endpoint becomes one per egress with the
// same weight, so the shares between services and zones stay as they were.
func viaEgress(t Topology, remote map[string][]Endpoint) map[string][]Endpoint {
	spec := t.Mesh.Spec
	if spec == nil || spec.Routing == nil || !spec.Routing.ZoneEgress || len(t.ZoneEgresses) == 0 {
		return remote
	}
	out := make(map[string][]Endpoint, len(remote))
	for svc, eps := range remote {
		for _, e := range eps {
			for _, eg := range t.ZoneEgresses {
				n := eg.Spec.Networking
				if n == nil || n.Address == "" || n.Port == 0 {
					continue
				}
				via := e
				via.Address, via.Port, via.Tags = n.Address, n.Port, maps.Clone(e.Tags)
				out[svc] = append(out[svc], via)
			}
		}
	}
	return out
}

// endpointZone is the kuma.io/zone tag, else the dataplane's kuma.io/zone label.
func endpointZone(tags, labels map[string]string) string {
	if z, ok := tags[resources.TagZone]; ok {
		return z
	}
	return labels[resources.LabelZone]
}

// remoteIngressEndpoints adds the endpoints of remote zone ingresses to out and returns how
// many distinct ingresses it used.
func remoteIngressEndpoints(t Topology, out map[string][]Endpoint) int {
	if !t.Mesh.MTLSEnabled() {
		return 0
	}
	seen := map[string]bool{}
	for _, zi := range t.ZoneIngresses {
		s := zi.Spec
		if s == nil || s.Zone == "" || s.Zone == t.Zone || s.Networking == nil ||
			s.Networking.AdvertisedAddress == "" || s.Networking.AdvertisedPort == 0 {
			continue
		}
		n := s.Networking
		coordinates := net.JoinHostPort(n.AdvertisedAddress, strconv.FormatUint(uint64(n.AdvertisedPort), 10))
		if seen[coordinates] {
			continue
		}
		// An ingress that has not reported its services yet does not stand for the others
		// behind the same address (Kuma's graceful join of new ingress instances).
		if len(s.AvailableServices) > 0 {
			seen[coordinates] = true
		}
		for _, svc := range s.AvailableServices {
			service := svc.Tags[resources.TagService]
			if svc.Mesh != t.Mesh.Name || service == "" {
				continue
			}
			zone := endpointZone(svc.Tags, nil)
			if zone == "" {
				zone = s.Zone
			}
			out[service] = append(out[service], Endpoint{
				Address: n.AdvertisedAddress,
				Port:    n.AdvertisedPort,
				Tags:    maps.Clone(svc.Tags),
				Weight:  svc.Instances,
				Zone:    zone,
			})
		}
	}
	return len(seen)
}
