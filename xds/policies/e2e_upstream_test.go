package policies_test

// Real RPCs proving the policies of xds/generate/policies_upstream.go (see e2e_test.go for
// the setup).

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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
	cp := cptest.Start(t, "", cptest.BareDefaultMesh())
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

// del deletes a resource over the REST API.
func del(t *testing.T, cp *cptest.CP, path string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, cp.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("DELETE %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE %s: %d", path, resp.StatusCode)
	}
}

// zonedInstance registers b as an instance of backend in the given zone ("" for the
// control plane's own).
func zonedInstance(t *testing.T, cp *cptest.CP, b *backend, zone string) {
	t.Helper()
	zoneTag := ""
	if zone != "" {
		zoneTag = fmt.Sprintf(`,"kuma.io/zone":%q`, zone)
	}
	put(t, cp, "/meshes/default/dataplanes/"+b.name, fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,
 "networking":{"address":"127.0.0.1","inbound":[{"port":%d,"tags":{"kuma.io/service":"backend","kuma.io/protocol":"grpc"%s}}]}}`,
		b.name, b.port, zoneTag))
}

// answers makes n RPCs carrying the x-user header (none when user is "") and counts the
// answers per backend; it stops at the first error.
func answers(c testpb.TestServiceClient, n int, user string) (map[string]int, error) {
	out := map[string]int{}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if user != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-user", user)
		}
		resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		cancel()
		if err != nil {
			return out, err
		}
		out[resp.GetServerId()]++
	}
	return out, nil
}

// A MeshLoadBalancingStrategy with a ring hash on the x-user header sends every RPC of one
// user to the same instance, and different users to different instances.
func TestMeshLoadBalancingStrategyRingHash(t *testing.T) {
	cp := cptest.Start(t, "")
	for _, name := range []string{"backend-a", "backend-b", "backend-c"} {
		instance(t, cp, startBackend(t, name, false), "v1")
	}
	client := grpcClient(t, cp)
	// Round robin first: one user's 30 RPCs reach all three instances.
	eventually(t, "all instances to answer", func() bool {
		got, err := answers(client, 30, "alice")
		return err == nil && len(got) == 3
	})

	put(t, cp, "/meshes/default/meshloadbalancingstrategies/by-user", `{"type":"MeshLoadBalancingStrategy","mesh":"default","name":"by-user","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{
  "loadBalancer":{"type":"RingHash","ringHash":{"hashFunction":"XXHash"}},
  "hashPolicies":[{"type":"Header","header":{"name":"x-user"}}]}}]}}`)

	// Round robin never sends 30 RPCs in a row to one of three instances.
	eventually(t, "the ring hash to apply", func() bool {
		got, err := answers(client, 30, "alice")
		return err == nil && len(got) == 1
	})
	seen := map[string]bool{}
	for i := range 20 {
		user := fmt.Sprintf("user-%d", i)
		got, err := answers(client, 10, user)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if len(got) != 1 {
			t.Fatalf("%s reached %v, want one instance", user, got)
		}
		for name := range got {
			seen[name] = true
		}
	}
	// 20 users on one instance of three: probability 3^-19 for a working hash.
	if len(seen) < 2 {
		t.Errorf("20 users all reached %v", seen)
	}
}

// With locality awareness (the default once a MeshLoadBalancingStrategy applies), traffic
// stays on the local zone's instance while it exists and fails over to the other zone's
// instance when it goes away.
func TestMeshLoadBalancingStrategyLocalityFailover(t *testing.T) {
	cp := cptest.Start(t, "")
	local, remote := startBackend(t, "backend-local", false), startBackend(t, "backend-remote", false)
	zonedInstance(t, cp, local, "")
	zonedInstance(t, cp, remote, "zone-2")
	client := grpcClient(t, cp)
	// The mesh is not locality-aware: both instances share the traffic.
	eventually(t, "both zones to answer", func() bool {
		got, err := answers(client, 20, "")
		return err == nil && len(got) == 2
	})

	put(t, cp, "/meshes/default/meshloadbalancingstrategies/local-first", `{"type":"MeshLoadBalancingStrategy","mesh":"default","name":"local-first","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"localityAwareness":{"disabled":false}}}]}}`)

	// Round robin over two instances never gives 40 RPCs in a row to one.
	eventually(t, "traffic to stay local", func() bool {
		got, err := answers(client, 40, "")
		return err == nil && got[local.name] == 40
	})
	del(t, cp, "/meshes/default/dataplanes/"+local.name)
	eventually(t, "traffic to fail over", func() bool {
		got, err := answers(client, 20, "")
		return err == nil && got[remote.name] == 20
	})
}

// A MeshFaultInjection aborting 50% of the requests to backend with 503 fails about half of
// a grpc-go client's RPCs with Unavailable (grpc-go's mapping of 503): the client injects
// the faults of its proxyless destination.
func TestMeshFaultInjectionAborts(t *testing.T) {
	cp := cptest.Start(t, "")
	instance(t, cp, startBackend(t, "backend-1", false), "v1")
	client := grpcClient(t, cp)
	eventually(t, "the backend to answer", func() bool { _, err := call(client, 0); return err == nil })

	put(t, cp, "/meshes/default/meshfaultinjections/half-aborts", `{"type":"MeshFaultInjection","mesh":"default","name":"half-aborts","spec":{
 "targetRef":{"kind":"MeshService","name":"backend"},
 "rules":[{"default":{"http":[{"abort":{"httpStatus":503,"percentage":50}}]}}]}}`)

	// failures counts injected aborts among n RPCs; any other error is fatal.
	failures := func(n int) int {
		failed := 0
		for range n {
			_, err := call(client, 0)
			switch {
			case err == nil:
			case status.Code(err) == codes.Unavailable:
				failed++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		return failed
	}
	// Without faults 20 RPCs in a row succeed; with 50% aborts that has probability 1e-6.
	eventually(t, "the faults to apply", func() bool { return failures(20) > 0 })

	// Binomial(1000, 0.5): mean 500, sd 15.8; [400, 600] is over 6 sd on each side.
	const n = 1000
	got := failures(n)
	t.Logf("%d of %d RPCs aborted", got, n)
	if got < 400 || got > 600 {
		t.Fatalf("%d of %d RPCs aborted, want about 50%%", got, n)
	}
}

// A MeshCircuitBreaker's failure-percentage outlier detection ejects an instance whose RPCs
// all fail, so that traffic moves to the healthy one: grpc-go runs outlier detection itself.
func TestMeshCircuitBreakerOutlierDetection(t *testing.T) {
	cp := cptest.Start(t, "", cptest.BareDefaultMesh())
	good, bad := startBackend(t, "backend-good", false), startBackend(t, "backend-bad", false)
	bad.failAll.Store(true)
	instance(t, cp, good, "v1")
	instance(t, cp, bad, "v1")
	client := grpcClient(t, cp)
	// Round robin: the good instance answers and the bad one fails its share.
	succeeded, failed := false, false
	eventually(t, "both instances to be reached", func() bool {
		if _, err := call(client, 0); err != nil {
			failed = failed || strings.Contains(err.Error(), "failing backend")
		} else {
			succeeded = true
		}
		return succeeded && failed
	})

	put(t, cp, "/meshes/default/meshcircuitbreakers/eject-failing", `{"type":"MeshCircuitBreaker","mesh":"default","name":"eject-failing","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"outlierDetection":{
  "interval":"100ms","baseEjectionTime":"30s","maxEjectionPercent":50,
  "detectors":{"failurePercentage":{"minimumHosts":2,"requestVolume":5,"threshold":50}}}}}]}}`)

	// Round robin over both never gives 20 successes in a row; after the ejection, all go to
	// the good instance.
	eventually(t, "the failing instance to be ejected", func() bool {
		got, err := answers(client, 20, "")
		return err == nil && got[good.name] == 20
	})
	before := bad.calls.Load()
	if got, err := answers(client, 100, ""); err != nil || got[good.name] != 100 {
		t.Fatalf("after ejection: %v, %v", got, err)
	}
	if n := bad.calls.Load() - before; n != 0 {
		t.Errorf("the ejected instance still got %d RPCs", n)
	}
}

// grpc-go does no active health checking, but it must still accept clusters that carry a
// MeshHealthCheck's health_checks: with one applied, a later MeshCircuitBreaker limit on
// the same cluster still reaches the client (a NACKed cluster would never change again).
func TestMeshHealthCheckAcceptedByGRPCClients(t *testing.T) {
	cp := cptest.Start(t, "", cptest.BareDefaultMesh())
	b := startBackend(t, "backend-1", false)
	instance(t, cp, b, "v1")
	client := grpcClient(t, cp)
	eventually(t, "the backend to answer", func() bool { _, err := call(client, 0); return err == nil })

	put(t, cp, "/meshes/default/meshhealthchecks/backend-health", `{"type":"MeshHealthCheck","mesh":"default","name":"backend-health","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"interval":"1s","grpc":{},"tcp":{}}}]}}`)
	put(t, cp, "/meshes/default/meshcircuitbreakers/one-at-a-time", `{"type":"MeshCircuitBreaker","mesh":"default","name":"one-at-a-time","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"connectionLimits":{"maxRequests":1}}}]}}`)
	eventually(t, "the limit to apply next to the health check", func() bool {
		_, err := whileBusy(t, client, b)
		return status.Code(err) == codes.Unavailable
	})
	if _, err := call(client, 0); err != nil {
		t.Fatalf("a lone RPC failed: %v", err)
	}
}
