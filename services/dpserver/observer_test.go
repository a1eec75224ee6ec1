package dpserver

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/xds/server"
)

func TestTrimNodeKeepsWhatIsReadAfterConnect(t *testing.T) {
	md, err := structpb.NewStruct(map[string]any{
		metaProxyType:        "ingress",
		metaAdminPort:        "9901",
		metaResource:         "type: ZoneIngress",
		metaVersion:          map[string]any{"kumaDp": map[string]any{"version": "2.14.3"}},
		"features":           []any{"feature-delta-grpc"},
		"dataplane.dns.port": "15053",
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &core.Node{Id: "default.zi", Cluster: "zi", UserAgentName: "envoy", Metadata: md,
		Extensions: []*core.Extension{{Name: "envoy.filters.http.router", Category: "envoy.filters.http"}}}
	s := &server.Stream{Node: n}
	trimNode(n)
	if got := ZoneProxyType(s); got != "ZoneIngress" {
		t.Fatalf("proxy type after trim: %q", got)
	}
	if len(n.GetMetadata().GetFields()) != 1 || n.GetExtensions() != nil {
		t.Fatalf("trimmed node still holds %v, %d extensions", n.GetMetadata().GetFields(), len(n.GetExtensions()))
	}
	if n.GetId() != "default.zi" || n.GetCluster() != "zi" || n.GetUserAgentName() != "envoy" {
		t.Fatalf("identity changed: %v", n)
	}
	plain := &core.Node{Id: "default.web", Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{metaVersion: structpb.NewStringValue("x")}}}
	trimNode(plain)
	if plain.GetMetadata() != nil || ZoneProxyType(&server.Stream{Node: plain}) != "" {
		t.Fatalf("a dataplane without proxy type keeps %v", plain.GetMetadata())
	}
}
