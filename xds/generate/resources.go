package generate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// Resources is the generated configuration of one proxy, every slice sorted by resource name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Clusters  []*clusterv3.Cluster
	// Routes stays empty for now: Kuma 2.14 inlines every route configuration into its
	// HttpConnectionManager. It is here so the snapshot always has a (versioned) RDS entry.
	Routes    []*routev3.RouteConfiguration
	Endpoints []*endpointv3.ClusterLoadAssignment
	// Secrets are the SDS secrets of a proxy in an mTLS mesh (identity and mesh CA).
	Secrets []*tlsv3.Secret
}

// ByType returns the resources keyed by xDS type URL, the shape go-control-plane's
// cache.NewSnapshot takes. Every type is present, possibly with an empty slice.
func (r *Resources) ByType() map[string][]types.Resource {
	return map[string][]types.Resource{
		resourcev3.ListenerType: asResources(r.Listeners),
		resourcev3.ClusterType:  asResources(r.Clusters),
		resourcev3.RouteType:    asResources(r.Routes),
		resourcev3.EndpointType: asResources(r.Endpoints),
		resourcev3.SecretType:   asResources(r.Secrets),
	}
}

// Versions returns Version of every type in ByType.
func (r *Resources) Versions() (map[string]string, error) {
	out := map[string]string{}
	for typeURL, rs := range r.ByType() {
		v, err := Version(rs)
		if err != nil {
			return nil, fmt.Errorf("version of %s: %w", typeURL, err)
		}
		out[typeURL] = v
	}
	return out, nil
}

// Version is a content hash of resources: the first 16 bytes (hex) of sha256 over each
// resource's deterministic protobuf encoding, taken in name order, so equal content always
// gives the same version (no push for a no-op change) and the input order does not matter.
// Deterministic marshalling is stable within one binary, which is all snapshot versions need.
func Version(rs []types.Resource) (string, error) {
	type named struct {
		name string
		msg  types.Resource
	}
	sorted := make([]named, 0, len(rs))
	for _, r := range rs {
		sorted = append(sorted, named{resourceName(r), r})
	}
	slices.SortStableFunc(sorted, func(a, b named) int { return strings.Compare(a.name, b.name) })
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	for _, r := range sorted {
		var err error
		buf, err = opts.MarshalAppend(buf[:0], r.msg)
		if err != nil {
			return "", fmt.Errorf("marshal %s: %w", r.name, err)
		}
		// Length-prefix every resource so that concatenations cannot collide.
		h.Write(binary.AppendUvarint(nil, uint64(len(buf))))
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

func resourceName(r types.Resource) string {
	switch m := r.(type) {
	case *endpointv3.ClusterLoadAssignment:
		return m.GetClusterName()
	case types.ResourceWithName:
		return m.GetName()
	default:
		return ""
	}
}

func asResources[T types.Resource](in []T) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

// set collects resources by name; a later resource with the same name replaces the earlier
// one, as Kuma's ResourceSet does (two inbounds with the same service port share one
// "localhost:<port>" cluster, the last inbound's).
type set[T types.Resource] struct {
	byName map[string]T
}

func (s *set[T]) add(r T) {
	if s.byName == nil {
		s.byName = map[string]T{}
	}
	s.byName[resourceName(r)] = r
}

func (s *set[T]) has(name string) bool {
	_, ok := s.byName[name]
	return ok
}

func (s *set[T]) sorted() []T {
	out := make([]T, 0, len(s.byName))
	for _, name := range sortedKeys(s.byName) {
		out = append(out, s.byName[name])
	}
	return out
}

// builder accumulates the resources of one proxy.
type builder struct {
	listeners set[*listenerv3.Listener]
	clusters  set[*clusterv3.Cluster]
	endpoints set[*endpointv3.ClusterLoadAssignment]
	secrets   set[*tlsv3.Secret]
}

func (b *builder) build() *Resources {
	return &Resources{
		Listeners: b.listeners.sorted(),
		Clusters:  b.clusters.sorted(),
		Routes:    []*routev3.RouteConfiguration{},
		Endpoints: b.endpoints.sorted(),
		Secrets:   b.secrets.sorted(),
	}
}
