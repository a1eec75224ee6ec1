package dpserver

import (
	"context"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/projections/snapshots"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
	"github.com/jetmesh/jetmesh/xds/server"
)

// Streams reports the open streams of a node (xds/server.Server implements it).
type Streams interface {
	Streams(nodeID string) []*server.Stream
}

// Observer connects proxy streams to the lifecycle (events) and to the snapshot projection
// (which proxies need config).
type Observer struct {
	Lifecycle *Lifecycle
	Snapshots *snapshots.Projector
	Streams   Streams
}

// OnConnect registers the proxy, then asks for its config.
func (o *Observer) OnConnect(ctx context.Context, s *server.Stream) error {
	if err := o.Lifecycle.OnConnect(ctx, s); err != nil {
		return err
	}
	mesh, name, _ := bootstrap.ParseProxyID(s.Node.GetId())
	o.Snapshots.Connect(snapshots.Client{
		NodeID: s.Node.GetId(), Mesh: mesh, Name: name, AdminPort: adminPort(s),
		Ingress: ZoneProxyType(s) == "ZoneIngress", Egress: ZoneProxyType(s) == "ZoneEgress",
		// grpc-go announces itself as "gRPC Go"; such clients resolve services through API
		// listeners named after them instead of Envoy's port-bound listeners.
		GRPC:          strings.HasPrefix(s.Node.GetUserAgentName(), "gRPC"),
		WorkDir:       s.Node.GetMetadata().GetFields()[bootstrap.MetadataWorkdir].GetStringValue(),
		EmbeddedDNS:   hasFeature(s, bootstrap.FeatureEmbeddedDNS),
		ReusePort:     hasFeature(s, bootstrap.FeatureReusePort),
		DNSPort:       portField(s, bootstrap.MetadataDNSPort),
		BindOutbounds: hasFeature(s, bootstrap.FeatureBindOutbounds),
	})
	trimNode(s.Node)
	return nil
}

// trimNode drops, in place, what no one reads after the connect: go-control-plane and its
// snapshot cache keep the first request's node for the stream's lifetime, and Kuma's node
// metadata (version, features, an inline Dataplane) took ~6 KB per proxy as structpb values;
// Envoy's extension list would take more. Only the proxy type is read later (OnStatus,
// OnDisconnect). Safe because the node is the stream's own, read only on the goroutine that
// calls OnConnect, and Lifecycle.OnConnect reads what it records before it returns.
func trimNode(n *core.Node) {
	var md *structpb.Struct
	if pt, ok := n.GetMetadata().GetFields()[metaProxyType]; ok {
		md = &structpb.Struct{Fields: map[string]*structpb.Value{metaProxyType: pt}}
	}
	n.Metadata = md
	n.Extensions = nil
}

// OnStatus records ACK/NACK counters (dataplanes only; zone proxies record connects and disconnects).
func (o *Observer) OnStatus(s *server.Stream) {
	if ZoneProxyType(s) == "" {
		o.Lifecycle.OnStatus(s)
	}
}

// OnDisconnect records the disconnect; the proxy's snapshot goes when its last stream does.
func (o *Observer) OnDisconnect(s *server.Stream) {
	if len(o.Streams.Streams(s.Node.GetId())) == 0 {
		o.Snapshots.Disconnect(s.Node.GetId())
	}
	if ZoneProxyType(s) != "" {
		o.Lifecycle.OnZoneProxyDisconnect(s)
	} else {
		o.Lifecycle.OnDisconnect(s)
	}
}

// hasFeature reports whether the proxy's node metadata lists a kuma-dp feature.
func hasFeature(s *server.Stream, feature string) bool {
	for _, v := range s.Node.GetMetadata().GetFields()[bootstrap.MetadataFeatures].GetListValue().GetValues() {
		if v.GetStringValue() == feature {
			return true
		}
	}
	return false
}
