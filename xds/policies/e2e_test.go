package policies_test

// Real RPCs through grpc-go's own xDS client, against a real control plane: policies are
// written over the REST API, reach the client as events through the snapshot projection, and
// the RPCs behave as the policies say. Everything listens on loopback, on random ports.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// backend is a gRPC server that answers with its name. An RPC's ResponseSize is a delay in
// milliseconds; with flaky set, every other RPC fails with Unavailable.
type backend struct {
	testpb.UnimplementedTestServiceServer
	name  string
	port  int
	flaky bool
	calls atomic.Int64
	// failAll makes every RPC fail with Unavailable.
	failAll atomic.Bool
}

func (b *backend) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	n := b.calls.Add(1)
	if b.failAll.Load() {
		return nil, status.Error(codes.Unavailable, "failing backend")
	}
	if b.flaky && n%2 == 1 {
		return nil, status.Error(codes.Unavailable, "flaky backend")
	}
	if d := time.Duration(req.GetResponseSize()) * time.Millisecond; d > 0 {
		select {
		case <-time.After(d): // the work this RPC stands for
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &testpb.SimpleResponse{ServerId: b.name}, nil
}

func startBackend(t *testing.T, name string, flaky bool) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, port: ln.Addr().(*net.TCPAddr).Port, flaky: flaky}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, b)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return b
}

func put(t *testing.T, cp *cptest.CP, path, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, cp.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
	}
}

// instance registers a gRPC backend as a dataplane of service backend with a version tag.
func instance(t *testing.T, cp *cptest.CP, b *backend, version string) {
	t.Helper()
	put(t, cp, "/meshes/default/dataplanes/"+b.name, fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,
 "networking":{"address":"127.0.0.1","inbound":[{"port":%d,"tags":{"kuma.io/service":"backend","kuma.io/protocol":"grpc","version":%q}}]}}`,
		b.name, b.port, version))
}

// The client's dataplane: an inbound (policies select proxies by their inbounds) and an
// outbound to backend.
const clientDataplane = `{"type":"Dataplane","mesh":"default","name":"client","networking":{"address":"127.0.0.1",
 "inbound":[{"port":19000,"tags":{"kuma.io/service":"client"}}],
 "outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}`

// grpcClient dials xds:///backend with grpc-go's xDS client, bootstrapped at the CP.
func grpcClient(t *testing.T, cp *cptest.CP) testpb.TestServiceClient {
	t.Helper()
	put(t, cp, "/meshes/default/dataplanes/client", clientDataplane)
	bootstrap := fmt.Sprintf(`{
 "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": %q}}], "server_features": ["xds_v3"]}],
 "node": {"id": "default.client"}}`, cp.DPAddress, cp.CACertFile)
	builder, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("xds:///backend", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(builder))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

// call makes one RPC asking the backend to take delay; it returns the answering backend.
func call(c testpb.TestServiceClient, delay time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: int32(delay / time.Millisecond)})
	return resp.GetServerId(), err
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling step of a deadline-bound wait
	}
}

// countV2 makes n RPCs and counts the answers from backend-v2, stopping at the first error.
func countV2(c testpb.TestServiceClient, n int) (int, error) {
	v2 := 0
	for range n {
		id, err := call(c, 0)
		if err != nil {
			return v2, err
		}
		if id == "backend-v2" {
			v2++
		}
	}
	return v2, nil
}

// A MeshHTTPRoute splitting 90/10 between two versions makes ~10% of RPCs reach v2.
func TestMeshHTTPRouteSplitsTraffic(t *testing.T) {
	cp := cptest.Start(t, "")
	instance(t, cp, startBackend(t, "backend-v1", false), "v1")
	instance(t, cp, startBackend(t, "backend-v2", false), "v2")
	client := grpcClient(t, cp)

	// Without a route the two instances share the traffic (round robin).
	eventually(t, "both instances to answer", func() bool {
		v2, err := countV2(client, 20)
		return err == nil && v2 > 0
	})

	put(t, cp, "/meshes/default/meshhttproutes/split", `{"type":"MeshHTTPRoute","mesh":"default","name":"split","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"rules":[{
  "matches":[{"path":{"type":"PathPrefix","value":"/"}}],
  "default":{"backendRefs":[
   {"kind":"MeshServiceSubset","name":"backend","tags":{"version":"v1"},"weight":90},
   {"kind":"MeshServiceSubset","name":"backend","tags":{"version":"v2"},"weight":10}]}}]}]}}`)

	// The route has arrived once a batch of 100 no longer looks like 50/50: at most 25 to
	// v2 has probability < 1e-6 under 50/50 and > 0.9999 under 90/10. While the client
	// takes in the new route, RPCs may briefly fail with "unknown cluster" (the route names
	// the subset clusters before their CDS update is processed); those batches do not count.
	eventually(t, "the split to apply", func() bool {
		v2, err := countV2(client, 100)
		return err == nil && v2 <= 25
	})

	// 1000 RPCs: v2 gets Binomial(1000, 0.1), mean 100, sd 9.5; [50, 150] is over 5 sd wide
	// on each side, so a correct split fails this less than once in a million runs.
	const n = 1000
	v2, err := countV2(client, n)
	if err != nil {
		t.Fatalf("RPC failed after %d to v2: %v", v2, err)
	}
	t.Logf("v1 %d, v2 %d of %d", n-v2, v2, n)
	if v2 < 50 || v2 > 150 {
		t.Fatalf("backend-v2 answered %d of %d RPCs, want about 10%%", v2, n)
	}
}

// A MeshRetry on Unavailable turns the failures of a backend that fails every other RPC into
// successes.
func TestMeshRetryHidesFlakyBackend(t *testing.T) {
	cp := cptest.Start(t, "", cptest.BareDefaultMesh())
	instance(t, cp, startBackend(t, "backend-flaky", true), "v1")
	client := grpcClient(t, cp)

	// Without retries, the failures reach the client.
	failures := 0
	eventually(t, "the backend to answer and fail", func() bool {
		_, err := call(client, 0)
		if status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "flaky backend") {
			failures++
		}
		return failures >= 2
	})

	put(t, cp, "/meshes/default/meshretries/retry-backend", `{"type":"MeshRetry","mesh":"default","name":"retry-backend","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},
  "default":{"grpc":{"numRetries":3,"retryOn":["Unavailable"],"backOff":{"baseInterval":"5ms","maxInterval":"20ms"}}}}]}}`)

	// Once the policy applies, no RPC fails: each failure is retried on the next attempt,
	// which the backend answers. 20 successes in a row without retries has probability 0.
	ok := 0
	eventually(t, "retries to apply", func() bool {
		if _, err := call(client, 0); err != nil {
			ok = 0
			return false
		}
		ok++
		return ok >= 20
	})
	for i := range 200 {
		if _, err := call(client, 0); err != nil {
			t.Fatalf("RPC %d failed despite retries: %v", i, err)
		}
	}
}

// The default mesh's initial mesh-retry-all-default (Kuma's 5 gRPC retries) already hides a
// backend that fails every other RPC, with no policy of the user's.
func TestInitialMeshRetryHidesFlakyBackend(t *testing.T) {
	cp := cptest.Start(t, "")
	instance(t, cp, startBackend(t, "backend-flaky", true), "v1")
	client := grpcClient(t, cp)
	eventually(t, "the backend to answer", func() bool { _, err := call(client, 0); return err == nil })
	for i := range 100 {
		if _, err := call(client, 0); err != nil {
			t.Fatalf("RPC %d failed despite the initial MeshRetry: %v", i, err)
		}
	}
}

// A MeshTimeout's maxStreamDuration ends a slow RPC with DeadlineExceeded, and fast ones
// still succeed.
func TestMeshTimeoutMaxStreamDuration(t *testing.T) {
	cp := cptest.Start(t, "")
	instance(t, cp, startBackend(t, "backend-slow", false), "v1")
	client := grpcClient(t, cp)

	eventually(t, "a slow RPC to succeed", func() bool {
		_, err := call(client, 300*time.Millisecond)
		return err == nil
	})

	put(t, cp, "/meshes/default/meshtimeouts/short-streams", `{"type":"MeshTimeout","mesh":"default","name":"short-streams","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"http":{"maxStreamDuration":"100ms"}}}]}}`)

	var last error
	eventually(t, "slow RPCs to hit the max stream duration", func() bool {
		start := time.Now()
		_, last = call(client, 300*time.Millisecond)
		return status.Code(last) == codes.DeadlineExceeded && time.Since(start) < 300*time.Millisecond
	})
	if _, err := call(client, 0); err != nil {
		t.Fatalf("a fast RPC failed: %v", err)
	}
}
