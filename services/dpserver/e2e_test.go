package dpserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/xds"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// backend is a real gRPC server that answers with its own name.
type backend struct {
	testpb.UnimplementedTestServiceServer
	name string
	port int
}

func (b *backend) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{ServerId: b.name}, nil
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, port: ln.Addr().(*net.TCPAddr).Port}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, b)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return b
}

func put(t *testing.T, cp *cptest.CP, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, cp.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
	}
}

func del(t *testing.T, cp *cptest.CP, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, cp.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("DELETE %s: %d", path, resp.StatusCode)
	}
}

func getJSON(t *testing.T, cp *cptest.CP, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(cp.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode == 200 {
		_ = json.NewDecoder(resp.Body).Decode(&m)
	}
	return m
}

func dataplane(name string, port int, service string) string {
	return fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,"networking":{"address":"127.0.0.1",
 "inbound":[{"port":%d,"tags":{"kuma.io/service":%q,"kuma.io/protocol":"grpc"}}]}}`, name, port, service)
}

const clientDataplane = `{"type":"Dataplane","mesh":"default","name":"client","networking":{"address":"127.0.0.1",
 "inbound":[{"port":19000,"tags":{"kuma.io/service":"client"}}],
 "outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}`

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling step of a deadline-bound wait
	}
}

// grpcClient dials xds:///<target> with grpc-go's own xDS client, bootstrapped at the CP.
func grpcClient(t *testing.T, cp *cptest.CP, nodeID, target string) testpb.TestServiceClient {
	t.Helper()
	bootstrap := fmt.Sprintf(`{
 "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": %q}}], "server_features": ["xds_v3"]}],
 "node": {"id": %q}}`, cp.DPAddress, cp.CACertFile, nodeID)
	builder, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("xds:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(builder))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

func call(c testpb.TestServiceClient) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "error: " + err.Error()
	}
	return resp.GetServerId()
}

// A grpc-go xDS client reaches every instance of a service through config jetmesh generated;
// an instance that deregisters stops receiving traffic and a new one starts, with no restart.
func TestGRPCClientFollowsEndpoints(t *testing.T) {
	cp := cptest.Start(t, "")
	b1, b2, b3 := startBackend(t, "backend-1"), startBackend(t, "backend-2"), startBackend(t, "backend-3")
	put(t, cp, "/meshes/default/dataplanes/backend-1", dataplane("backend-1", b1.port, "backend"))
	put(t, cp, "/meshes/default/dataplanes/backend-2", dataplane("backend-2", b2.port, "backend"))
	put(t, cp, "/meshes/default/dataplanes/client", clientDataplane)

	client := grpcClient(t, cp, "default.client", "backend")
	seen := map[string]bool{}
	eventually(t, "both instances to answer", func() bool {
		seen[call(client)] = true
		return seen["backend-1"] && seen["backend-2"]
	})

	del(t, cp, "/meshes/default/dataplanes/backend-2")
	eventually(t, "backend-2 to leave the rotation", func() bool {
		for range 20 {
			if call(client) != "backend-1" {
				return false
			}
		}
		return true
	})

	put(t, cp, "/meshes/default/dataplanes/backend-3", dataplane("backend-3", b3.port, "backend"))
	eventually(t, "backend-3 to join", func() bool { return call(client) == "backend-3" })

	// The client's dataplane shows as connected.
	ov := getJSON(t, cp, "/meshes/default/dataplanes/client/_overview")
	subs, _ := ov["dataplaneInsight"].(map[string]any)["subscriptions"].([]any)
	if len(subs) == 0 || subs[len(subs)-1].(map[string]any)["connectTime"] == nil {
		t.Fatalf("no subscription recorded: %v", ov["dataplaneInsight"])
	}
}

// adsStream opens an Envoy-style ADS stream over TLS and sends the first request.
func adsStream(t *testing.T, cp *cptest.CP, node *core.Node) (discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, context.CancelFunc) {
	t.Helper()
	pem, err := os.ReadFile(cp.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient(cp.DPAddress, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	return stream, cancel
}

// A proxy that carries its Dataplane in node metadata (kuma-dp --dataplane-file) is registered
// on connect, gets its inbound listener, shows Online, and is deregistered after it leaves.
func TestDirectModeLifecycle(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) {
		c.XDS.DataplaneDeregistrationDelay = controlplane.Duration(50 * time.Millisecond)
		c.XDS.DataplaneStatusFlushInterval = controlplane.Duration(20 * time.Millisecond)
	})
	md, _ := structpb.NewStruct(map[string]any{
		"dataplane.resource":   dataplane("web-1", 18080, "web"),
		"dataplane.proxyType":  "dataplane",
		"dataplane.admin.port": "9901",
		"version":              map[string]any{"kumaDp": map[string]any{"version": "2.14.3"}, "envoy": map[string]any{"version": "1.34.1"}},
	})
	stream, cancel := adsStream(t, cp, &core.Node{Id: "default.web-1", Metadata: md, UserAgentName: "envoy"})
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("first LDS response: %v", err)
	}
	names := map[string]bool{}
	for _, a := range resp.GetResources() {
		var l listenerv3.Listener
		if err := a.UnmarshalTo(&l); err != nil {
			t.Fatal(err)
		}
		names[l.GetName()] = true
	}
	if !names["inbound:127.0.0.1:18080"] {
		t.Fatalf("listeners %v lack inbound:127.0.0.1:18080", names)
	}
	if getJSON(t, cp, "/meshes/default/dataplanes/web-1") == nil {
		t.Fatal("direct-mode dataplane not registered")
	}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ACK to reach the insight", func() bool {
		ov := getJSON(t, cp, "/meshes/default/dataplanes/web-1/_overview")
		subs, _ := ov["dataplaneInsight"].(map[string]any)["subscriptions"].([]any)
		if len(subs) == 0 {
			return false
		}
		st, _ := subs[len(subs)-1].(map[string]any)["status"].(map[string]any)
		lds, _ := st["lds"].(map[string]any)
		total, _ := st["total"].(map[string]any)
		return lds["responsesAcknowledged"] == "1" && total["responsesSent"] != nil
	})
	// The version is recorded from the node as it connected (its metadata is trimmed after).
	ov := getJSON(t, cp, "/meshes/default/dataplanes/web-1/_overview")
	subs, _ := ov["dataplaneInsight"].(map[string]any)["subscriptions"].([]any)
	v, _ := subs[len(subs)-1].(map[string]any)["version"].(map[string]any)
	kdp, _ := v["kumaDp"].(map[string]any)
	envoy, _ := v["envoy"].(map[string]any)
	if kdp["version"] != "2.14.3" || envoy["version"] != "1.34.1" {
		t.Fatalf("subscription version %v", v)
	}
	cancel()
	eventually(t, "web-1 to be deregistered", func() bool {
		return getJSON(t, cp, "/meshes/default/dataplanes/web-1") == nil
	})
}

// A proxy without a Dataplane in its metadata must have one already (indirect mode).
func TestIndirectModeRequiresDataplane(t *testing.T) {
	cp := cptest.Start(t, "")
	stream, cancel := adsStream(t, cp, &core.Node{Id: "default.ghost"})
	defer cancel()
	if _, err := stream.Recv(); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("stream for an unknown dataplane: %v", err)
	}
}

// Delta xDS (kuma-dp's feature-delta-grpc) serves the same config as SotW.
func TestDeltaADS(t *testing.T) {
	cp := cptest.Start(t, "")
	put(t, cp, "/meshes/default/dataplanes/web-1", dataplane("web-1", 18080, "web"))
	pem, err := os.ReadFile(cp.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient(cp.DPAddress, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: &core.Node{Id: "default.web-1"}, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range resp.GetResources() {
		found = found || r.GetName() == "inbound:127.0.0.1:18080"
	}
	if !found {
		t.Fatalf("delta LDS lacks inbound:127.0.0.1:18080: %v", resp.GetResources())
	}
}

// A self-registered dataplane that stays offline past the cleanup age is deleted; one an
// operator created through the API stays.
func TestOfflineCleanup(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) {
		c.XDS.DataplaneDeregistrationDelay = controlplane.Duration(time.Hour) // only the cleanup may delete
		c.XDS.DataplaneStatusFlushInterval = controlplane.Duration(20 * time.Millisecond)
		c.XDS.DataplaneCleanupAge = controlplane.Duration(time.Millisecond)
	})
	put(t, cp, "/meshes/default/dataplanes/operator-made", dataplane("operator-made", 18090, "kept"))
	md, _ := structpb.NewStruct(map[string]any{"dataplane.resource": dataplane("self-made", 18091, "gone")})
	connectAndLeave := func(node *core.Node) {
		stream, cancel := adsStream(t, cp, node)
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("%s: %v", node.GetId(), err)
		}
		cancel()
	}
	// The operator's proxy leaves first; once its disconnect is recorded, the self-made one
	// comes and goes. The sweep that removes self-made therefore ran after operator-made was
	// offline too, and must have left it alone.
	connectAndLeave(&core.Node{Id: "default.operator-made"})
	eventually(t, "operator-made to show its disconnect", func() bool {
		ov := getJSON(t, cp, "/meshes/default/dataplanes/operator-made/_overview")
		subs, _ := ov["dataplaneInsight"].(map[string]any)["subscriptions"].([]any)
		return len(subs) > 0 && subs[len(subs)-1].(map[string]any)["disconnectTime"] != nil
	})
	connectAndLeave(&core.Node{Id: "default.self-made", Metadata: md})
	eventually(t, "self-made to be cleaned up", func() bool {
		return getJSON(t, cp, "/meshes/default/dataplanes/self-made") == nil
	})
	if getJSON(t, cp, "/meshes/default/dataplanes/operator-made") == nil {
		t.Fatal("an operator-created dataplane was cleaned up")
	}
}

// A zone ingress proxy (kuma-dp --proxy-type ingress, node id ".<name>") registers its
// ZoneIngress from node metadata and gets Kuma's ingress listener: one TLS-passthrough chain
// per service SNI, updated as local instances come and go.
func TestZoneIngressProxy(t *testing.T) {
	cp := cptest.Start(t, "")
	put(t, cp, "/meshes/default/dataplanes/backend-1", dataplane("backend-1", 18080, "backend"))
	meta, err := structpb.NewStruct(map[string]any{
		"dataplane.proxyType": "ingress",
		"dataplane.resource": `{"type":"ZoneIngress","name":"zi-1","networking":{"address":"127.0.0.1","port":10001,
			"advertisedAddress":"127.0.0.1","advertisedPort":10001}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	stream, cancel := adsStream(t, cp, &core.Node{Id: ".zi-1", Metadata: meta})
	defer cancel()
	deadline := time.AfterFunc(20*time.Second, cancel) // a Recv that never gets there fails
	defer deadline.Stop()
	chains := func() []string {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: ".zi-1", Metadata: meta}, TypeUrl: resource.ListenerType,
			VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range resp.GetResources() {
			var l listenerv3.Listener
			if err := a.UnmarshalTo(&l); err != nil {
				t.Fatal(err)
			}
			if l.GetName() != "inbound:127.0.0.1:10001" {
				t.Fatalf("unexpected listener %s", l.GetName())
			}
			for _, fc := range l.GetFilterChains() {
				names = append(names, fc.GetFilterChainMatch().GetServerNames()...)
			}
		}
		return names
	}
	got := chains()
	if len(got) != 1 || got[0] != "backend{mesh=default}" {
		t.Fatalf("ingress chains = %v, want [backend{mesh=default}]", got)
	}
	if e := getJSON(t, cp, "/zoneingresses/zi-1"); e["name"] != "zi-1" {
		t.Fatalf("zone ingress not registered: %v", e)
	}
	put(t, cp, "/meshes/default/dataplanes/web-1", dataplane("web-1", 18081, "web"))
	for got = chains(); len(got) != 2; got = chains() {
	}
	if got[0] != "backend{mesh=default}" || got[1] != "web{mesh=default}" {
		t.Fatalf("after a new service: %v", got)
	}
	// kumactl inspect zoneingresses reads the subscription: open now, closed after it leaves.
	subs := func() []any {
		in, _ := getJSON(t, cp, "/zoneingresses/zi-1/_overview")["zoneIngressInsight"].(map[string]any)
		list, _ := in["subscriptions"].([]any)
		return list
	}
	if s := subs(); len(s) != 1 || s[0].(map[string]any)["disconnectTime"] != nil {
		t.Fatalf("open subscription: %v", s)
	}
	cancel()
	eventually(t, "the subscription closed", func() bool {
		s := subs()
		return len(s) == 1 && s[0].(map[string]any)["disconnectTime"] != nil
	})
}

// A zone ingress subscription left open by a CP that died (no disconnect recorded) is closed
// when the CP starts again, so the ingress does not show Online forever.
func TestStaleZoneIngressSubscriptionClosedAtStart(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	put(t, cp, "/zoneingresses/zi-1", `{"type":"ZoneIngress","name":"zi-1","networking":{"address":"127.0.0.1","port":10001}}`)
	// What a crashed CP leaves behind: an insight whose subscription was never closed.
	_, err := cp.Store.Append(context.Background(), events.Change{
		Key: events.Key{Scope: events.ZoneScope("default"), Type: "ZoneIngressInsight", Name: "zi-1"},
		Op:  events.OpUpsert, Revision: 1, Actor: "test",
		Data: []byte(`{"type":"ZoneIngressInsight","name":"zi-1","subscriptions":[{"id":"s1","connectTime":"2026-01-01T00:00:00Z"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	cp.Stop(t)
	cp = cptest.Start(t, dir)
	in, _ := getJSON(t, cp, "/zoneingresses/zi-1/_overview")["zoneIngressInsight"].(map[string]any)
	list, _ := in["subscriptions"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["disconnectTime"] == nil {
		t.Fatalf("stale subscription not closed at start: %v", list)
	}
}
