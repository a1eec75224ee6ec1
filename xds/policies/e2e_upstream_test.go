package policies_test

// Real RPCs proving the policies of xds/generate/policies_upstream.go (see e2e_test.go for
// the setup).

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// whileBusy starts an RPC that b holds (a 10s delay), waits until b has it, makes one fast
// RPC and returns that RPC's error and whether it reached b. The slow RPC is then cancelled.
func whileBusy(t *testing.T, c testpb.TestServiceClient, b *backend) (reached bool, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	before := b.calls.Load()
	go func() {
		defer close(done)
		_, _ = c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 10_000})
	}()
	defer func() { cancel(); <-done }()
	eventually(t, "the slow RPC to reach the backend", func() bool { return b.calls.Load() > before })
	_, err = call(c, 0)
	return b.calls.Load() > before+1, err
}

// A MeshCircuitBreaker with maxRequests 1 lets one RPC at a time reach the backend: grpc-go
// enforces the cluster's max_requests and fails the second concurrent RPC with Unavailable
// without sending it.
func TestMeshCircuitBreakerMaxRequests(t *testing.T) {
	cp := cptest.Start(t, "")
	b := startBackend(t, "backend-1", false)
	instance(t, cp, b, "v1")
	client := grpcClient(t, cp)
	eventually(t, "the backend to answer", func() bool { _, err := call(client, 0); return err == nil })

	// Without the policy, a second RPC goes through while the first one is held.
	if reached, err := whileBusy(t, client, b); err != nil || !reached {
		t.Fatalf("without a limit: reached %v, err %v", reached, err)
	}

	put(t, cp, "/meshes/default/meshcircuitbreakers/one-at-a-time", `{"type":"MeshCircuitBreaker","mesh":"default","name":"one-at-a-time","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"connectionLimits":{"maxRequests":1}}}]}}`)

	var reached bool
	var err error
	eventually(t, "the limit to apply", func() bool {
		reached, err = whileBusy(t, client, b)
		return status.Code(err) == codes.Unavailable
	})
	if reached {
		t.Errorf("the rejected RPC reached the backend")
	}
	// The limit counts RPCs in flight: alone, an RPC still succeeds.
	if _, err := call(client, 0); err != nil {
		t.Fatalf("a lone RPC failed: %v", err)
	}
}
