package generate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	directresponsev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/direct_response/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// IngressProxy is everything GenerateIngress reads about one zone ingress proxy.
type IngressProxy struct {
	Name string
	Spec *core.ZoneIngress
	// Zone is the ingress's zone, reported by its catch-all chain.
	Zone string
	// Services are this zone's service instances that other zones may reach, per mesh.
	Services []IngressService
}

// IngressService is one mesh service behind the ingress with its local instances.
type IngressService struct {
	Mesh      string
	Service   string
	Endpoints []Endpoint
}

// ErrNoIngressNetworking is returned for a ZoneIngress without an address and port.
var ErrNoIngressNetworking = errors.New("zone ingress has no networking address and port")

// GenerateIngress returns the configuration of a zone ingress as Kuma 2.x builds it: one
// listener with the TLS inspector, one filter chain per SNI a sidecar of another zone sends
// (service plus mesh, and each tag subset of the instances), each a tcp_proxy to the mesh's
// service cluster, subsets chosen by endpoint metadata. TLS passes through: the ingress
// never terminates mTLS, so it holds no certificate and cannot read the traffic.
func GenerateIngress(p *IngressProxy) (*Resources, error) {
	if p.Spec == nil || p.Spec.Networking == nil || p.Spec.Networking.Address == "" || p.Spec.Networking.Port == 0 {
		return nil, fmt.Errorf("generate zone ingress %s: %w", p.Name, ErrNoIngressNetworking)
	}
	res, err := sniProxy(p.Name, p.Zone, p.Spec.Networking.Address, p.Spec.Networking.Port, p.Services, true)
	if err != nil {
		return nil, fmt.Errorf("generate zone ingress %s: %w", p.Name, err)
	}
	return res, nil
}

// sniProxy builds a zone proxy's listener and clusters: TLS passthrough routed by SNI, one
// chain per SNI a sidecar may send (the service, and each tag subset). An ingress picks the
// subset's instances by endpoint metadata (withSubsets); an egress sends every subset's
// connection to the remote ingresses, whose own chains pick the instances from the same SNI.
func sniProxy(name, zone, address string, port uint32, services []IngressService, withSubsets bool) (*Resources, error) {
	g := &generator{}
	listenerName := InboundListenerName(address, port)
	listener := &listenerv3.Listener{
		Name:             listenerName,
		Address:          socketAddress(address, port),
		TrafficDirection: corev3.TrafficDirection_INBOUND,
		ListenerFilters: []*listenerv3.ListenerFilter{{
			Name:       wellknown.TlsInspector,
			ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: g.pack(&tlsinspectorv3.TlsInspector{})},
		}},
	}
	services = slices.Clone(services)
	sort.Slice(services, func(i, j int) bool {
		if services[i].Mesh != services[j].Mesh {
			return services[i].Mesh < services[j].Mesh
		}
		return services[i].Service < services[j].Service
	})
	for _, s := range services {
		if len(s.Endpoints) == 0 {
			continue
		}
		cluster := MeshClusterName(s.Mesh, s.Service)
		eps := make([]Endpoint, 0, len(s.Endpoints))
		for _, e := range s.Endpoints {
			tags := maps.Clone(e.Tags)
			delete(tags, resources.TagService)
			tags["mesh"] = s.Mesh
			e.Tags = tags
			eps = append(eps, e)
		}
		keys := subsetKeys(eps)
		if withSubsets {
			g.b.clusters.add(g.ingressCluster(cluster, keys))
		} else {
			g.b.clusters.add(g.ingressCluster(cluster, nil))
		}
		g.b.endpoints.add(loadAssignment(cluster, eps, nil, zone, false))
		for _, subset := range subsets(eps, keys) {
			chain := g.ingressChain(s.Mesh, s.Service, cluster, subset, withSubsets)
			listener.FilterChains = append(listener.FilterChains, chain)
		}
	}
	if len(listener.FilterChains) == 0 {
		// Envoy needs a chain; like Kuma, a zone proxy with nothing behind it answers who it is.
		listener.FilterChains = []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: "envoy.filters.network.direct_response",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(&directresponsev3.Config{
				Response: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{
					InlineString: fmt.Sprintf(`{"proxy":%q,"zone":%q}`, name, zone),
				}},
			})},
		}}}}
	}
	g.b.listeners.add(listener)
	if g.err != nil {
		return nil, g.err
	}
	return g.b.build(), nil
}

// EgressProxy is everything GenerateEgress reads about one zone egress proxy.
type EgressProxy struct {
	Name string
	Spec *core.ZoneEgress
	Zone string
	// Services are the other zones' services, per mesh, with the remote zone ingresses that
	// lead to them as endpoints.
	Services []IngressService
}

// ErrNoEgressNetworking is returned for a ZoneEgress without an address and port.
var ErrNoEgressNetworking = errors.New("zone egress has no networking address and port")

// GenerateEgress returns a zone egress's configuration: the sidecars of a mesh that routes
// cross-zone traffic through the egress (routing.zoneEgress) open their mTLS connection to it
// with the SNI of the remote service, and the egress passes the connection, unopened, to the
// remote zones' ingresses for that service.
func GenerateEgress(p *EgressProxy) (*Resources, error) {
	if p.Spec == nil || p.Spec.Networking == nil || p.Spec.Networking.Address == "" || p.Spec.Networking.Port == 0 {
		return nil, fmt.Errorf("generate zone egress %s: %w", p.Name, ErrNoEgressNetworking)
	}
	res, err := sniProxy(p.Name, p.Zone, p.Spec.Networking.Address, p.Spec.Networking.Port, p.Services, false)
	if err != nil {
		return nil, fmt.Errorf("generate zone egress %s: %w", p.Name, err)
	}
	return res, nil
}

// MeshClusterName is the ingress's cluster of a mesh service ("<mesh>:<service>").
func MeshClusterName(mesh, service string) string { return mesh + ":" + service }

// SNI is the server name a sidecar sends to reach service (with its subset tags) in mesh
// through a zone ingress: "<service>{mesh=<mesh>,<k>=<v>...}", tags sorted by key.
func SNI(mesh, service string, subset map[string]string) string {
	tags := maps.Clone(subset)
	if tags == nil {
		tags = map[string]string{}
	}
	tags["mesh"] = mesh
	var b strings.Builder
	b.WriteString(service)
	b.WriteByte('{')
	for i, k := range sortedKeys(tags) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + tags[k])
	}
	b.WriteByte('}')
	return b.String()
}

// subsetKeys are the tag keys that tell a service's instances apart; the mesh and the
// protocol are the same for all of them.
func subsetKeys(eps []Endpoint) []string {
	seen := map[string]map[string]bool{}
	for _, e := range eps {
		for k, v := range e.Tags {
			if k == "mesh" || k == resources.TagProtocol {
				continue
			}
			if seen[k] == nil {
				seen[k] = map[string]bool{}
			}
			seen[k][v] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// subsets are the distinct selections a consumer may ask for: the whole service, and every
// single tag value present (Kuma's per-tag subset chains).
func subsets(eps []Endpoint, keys []string) []map[string]string {
	out := []map[string]string{nil}
	for _, k := range keys {
		values := map[string]bool{}
		for _, e := range eps {
			if v, ok := e.Tags[k]; ok {
				values[v] = true
			}
		}
		for _, v := range sortedKeys(values) {
			out = append(out, map[string]string{k: v})
		}
	}
	return out
}

func (g *generator) ingressCluster(name string, keys []string) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 name,
		AltStatName:          altStatName(name),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			ResourceApiVersion:    corev3.ApiVersion_V3,
		}},
	}
	if len(keys) > 0 {
		cfg := &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT}
		for _, k := range keys {
			cfg.SubsetSelectors = append(cfg.SubsetSelectors, &clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{
				Keys: []string{k}, FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_NO_FALLBACK,
			})
		}
		c.LbSubsetConfig = cfg
	}
	return c
}

func (g *generator) ingressChain(mesh, service, cluster string, subset map[string]string, match bool) *listenerv3.FilterChain {
	tp := &tcpproxyv3.TcpProxy{
		StatPrefix:       altStatName(cluster),
		ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: cluster},
	}
	if match && len(subset) > 0 {
		fields := map[string]*structpb.Value{}
		for k, v := range subset {
			fields[k] = structpb.NewStringValue(v)
		}
		tp.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			"envoy.lb": {Fields: fields},
		}}
	}
	return &listenerv3.FilterChain{
		FilterChainMatch: &listenerv3.FilterChainMatch{
			ServerNames:       []string{SNI(mesh, service, subset)},
			TransportProtocol: "tls",
		},
		Filters: []*listenerv3.Filter{{
			Name:       wellknown.TCPProxy,
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(tp)},
		}},
	}
}
