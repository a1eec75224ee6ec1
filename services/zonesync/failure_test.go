package zonesync_test

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

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpcstatus "google.golang.org/grpc/status"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/xds"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

type backend struct {
	testpb.UnimplementedTestServiceServer
	name string
}

func (b *backend) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{ServerId: b.name}, nil
}

// startBackend runs a real gRPC server and returns its port.
func startBackend(t *testing.T, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, &backend{name: name})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().(*net.TCPAddr).Port
}

// xdsClient dials xds:///<target> with grpc-go's own xDS client, bootstrapped at a zone CP.
func xdsClient(t *testing.T, cp *cptest.CP, nodeID, target string) testpb.TestServiceClient {
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

func rpc(c testpb.TestServiceClient) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "error: " + err.Error()
	}
	return resp.GetServerId()
}

type replication struct {
	Items []struct {
		Stream     string `json:"stream"`
		Lag        uint64 `json:"lag"`
		Recoveries int    `json:"recoveries"`
		Replica    uint64 `json:"replicaSequence"`
	} `json:"items"`
}

func replicationOf(t *testing.T, cp *cptest.CP) replication {
	t.Helper()
	var r replication
	if err := json.Unmarshal([]byte(mustCall(t, http.MethodGet, cp.URL+"/_replication", "", http.StatusOK)), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Seed "Failure modes" 2: with a zone CP down, its proxies keep their last config (a grpc-go
// xDS client keeps routing), other zones are unaffected, and the returning zone resumes from
// its own copy of the global's log instead of copying it again.
func TestZoneCPOffline(t *testing.T) {
	topo := startTopology(t, "")
	g, z1, z2 := topo.global, topo.z1, topo.z2
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	for i := 0; i < 5; i++ {
		mustCall(t, http.MethodPut, g.URL+fmt.Sprintf("/meshes/demo/meshtrafficpermissions/p%d", i), policy(fmt.Sprintf("p%d", i), "Allow"), http.StatusCreated)
	}
	for _, z := range []*cptest.CP{z1, z2} {
		eventually(t, "policies on a zone", status(t, z.URL+"/meshes/demo/meshtrafficpermissions/p4", http.StatusOK))
	}
	port := startBackend(t, "backend-in-zone-2")
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/backend-1", fmt.Sprintf(`{"type":"Dataplane","mesh":"demo","name":"backend-1",
		"networking":{"address":"127.0.0.1","inbound":[{"port":%d,"tags":{"kuma.io/service":"backend","kuma.io/protocol":"grpc"}}]}}`, port), http.StatusCreated)
	mustCall(t, http.MethodPut, z2.URL+"/meshes/demo/dataplanes/client", `{"type":"Dataplane","mesh":"demo","name":"client",
		"networking":{"address":"127.0.0.1","inbound":[{"port":19000,"tags":{"kuma.io/service":"client"}}],
		"outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}`, http.StatusCreated)
	client := xdsClient(t, z2, "demo.client", "backend")
	eventually(t, "an RPC through zone-2's config", func() (bool, string) {
		got := rpc(client)
		return got == "backend-in-zone-2", got
	})
	// The watchdog refreshes /_replication every second: wait until it has seen the copy.
	eventually(t, "zone-2's mirror of the global's log reported", func() (bool, string) {
		for _, it := range replicationOf(t, z2).Items {
			if it.Stream == "JETMESH_GLOBAL" && it.Replica > 0 {
				return true, ""
			}
		}
		return false, fmt.Sprint(replicationOf(t, z2).Items)
	})

	dataDir := z2.Config.DataDir
	z2.Stop(t)
	// The proxy keeps its last config: RPCs still go through.
	for i := 0; i < 20; i++ {
		if got := rpc(client); got != "backend-in-zone-2" {
			t.Fatalf("RPC %d with zone-2's CP down: %s", i, got)
		}
	}
	// Other zones are unaffected.
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/while-z2-down", policy("while-z2-down", "Deny"), http.StatusCreated)
	eventually(t, "zone-1 still receives policies", status(t, z1.URL+"/meshes/demo/meshtrafficpermissions/while-z2-down", http.StatusOK))

	// zone-2 returns and catches up by copying only what it missed.
	z2 = cptest.Start(t, dataDir, cptest.Zone("zone-2", topo.port, g.KDSCACertFile(), z2.Config.Multizone.Zone.Token))
	eventually(t, "zone-2 caught up", status(t, z2.URL+"/meshes/demo/meshtrafficpermissions/while-z2-down", http.StatusOK))
	after := replicationOf(t, z2)
	for _, it := range after.Items {
		if it.Recoveries != 0 {
			t.Errorf("zone-2 recreated its mirror %s after a restart (a full copy): %+v", it.Stream, after.Items)
		}
	}
}

// The global serves no proxies, and says so: /bootstrap answers 422 with the reason and an
// ADS stream is refused with it.
func TestGlobalRefusesProxies(t *testing.T) {
	g := cptest.Start(t, "", cptest.Global(cptest.FreePort(t)))
	pem, err := os.ReadFile(g.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsCfg := &tls.Config{RootCAs: pool}
	conn, err := grpc.NewClient(g.DPAddress, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: &corev3.Node{Id: "default.web"}, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if grpcstatus.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "this is a global control plane") {
		t.Errorf("ADS on the global: %v, want Unauthenticated with the reason", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := client.Post("https://"+g.DPAddress+"/bootstrap", "application/json", strings.NewReader(`{"mesh":"default","name":"web"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "this is a global control plane") {
		t.Errorf("bootstrap on the global = %d %s, want 422 with the reason", resp.StatusCode, body)
	}
}
