package snapshots

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies"
)

// recorder is a Publisher that remembers what was published per node.
type recorder struct {
	mu       sync.Mutex
	sets     map[string]int
	versions map[string]map[string]string
	last     map[string]map[string][]types.Resource
}

func (r *recorder) SetSnapshot(_ context.Context, node string, byType map[string][]types.Resource, v map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets[node]++
	r.versions[node] = v
	r.last[node] = byType
	return nil
}

// resources returns the resources of a type last published for node.
func (r *recorder) resources(node, typeURL string) []types.Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[node][typeURL]
}

func (r *recorder) ClearSnapshot(string) {}

func (r *recorder) count(node string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sets[node]
}

const scopeZone = "default"

type harness struct {
	t   *testing.T
	p   *Projector
	rec *recorder
	seq uint64
}

func newHarness(t *testing.T) *harness {
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{sets: map[string]int{}, versions: map[string]map[string]string{}, last: map[string]map[string][]types.Resource{}}
	p := New(reg, Generate, rec, scopeZone, slog.New(slog.DiscardHandler))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	h := &harness{t: t, p: p, rec: rec}
	h.apply("Mesh", "", "default", `{"type":"Mesh","name":"default"}`)
	return h
}

func (h *harness) apply(typ, mesh, name, data string) {
	h.t.Helper()
	h.seq++
	rec := events.Record{Key: events.Key{Scope: events.ZoneScope(scopeZone), Type: typ, Mesh: mesh, Name: name}, Sequence: h.seq,
		Event: events.Event{Type: events.TypeResourceUpserted, Revision: 1, Data: []byte(data)}}
	if data == "" {
		rec.Event.Type = events.TypeResourceDeleted
	}
	if err := h.p.Apply(rec); err != nil {
		h.t.Fatal(err)
	}
}

func dp(name string, port int, provides, consumes string) string {
	out := ""
	if consumes != "" {
		out = fmt.Sprintf(`,"outbound":[{"port":10001,"tags":{"kuma.io/service":%q}}]`, consumes)
	}
	return fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,"networking":{"address":"127.0.0.1",
 "inbound":[{"port":%d,"tags":{"kuma.io/service":%q}}]%s}}`, name, port, provides, out)
}

// settle waits until no regeneration is pending or running, so counts can be compared.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !h.p.Idle() {
		if time.Now().After(deadline) {
			h.t.Fatal("projector never settled")
		}
		time.Sleep(time.Millisecond) // polling step of a deadline-bound wait
	}
}

func (h *harness) waitCount(node string, atLeast int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.rec.count(node) < atLeast {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %d snapshots, want >= %d", node, h.rec.count(node), atLeast)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A change regenerates the proxies it affects and leaves the others alone.
func TestOnlyAffectedProxiesAreRegenerated(t *testing.T) {
	h := newHarness(t)
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "backend"))
	h.apply("Dataplane", "default", "b", dp("b", 18002, "b", "other"))
	h.apply("Dataplane", "default", "backend-1", dp("backend-1", 18003, "backend", ""))
	h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
	h.p.Connect(Client{NodeID: "default.b", Mesh: "default", Name: "b"})
	h.waitCount("default.a", 1)
	h.waitCount("default.b", 1)
	h.settle()
	a, b := h.rec.count("default.a"), h.rec.count("default.b")
	aVersions := h.rec.versions["default.a"]

	h.apply("Dataplane", "default", "backend-2", dp("backend-2", 18004, "backend", ""))
	h.waitCount("default.a", a+1)
	h.settle()
	if got := h.rec.count("default.b"); got != b {
		t.Fatalf("b consumes nothing that changed but was regenerated (%d -> %d)", b, got)
	}
	if h.rec.versions["default.a"][resourceEndpointType] == aVersions[resourceEndpointType] {
		t.Fatalf("a's endpoints version did not change: %v", h.rec.versions["default.a"])
	}
	if h.rec.versions["default.a"][resourceListenerType] != aVersions[resourceListenerType] {
		t.Fatalf("a's listeners changed although only endpoints did: %v -> %v", aVersions, h.rec.versions["default.a"])
	}

	// A mesh-wide change reaches everyone in the mesh.
	a, b = h.rec.count("default.a"), h.rec.count("default.b")
	h.apply("MeshTrafficPermission", "default", "allow", `{"type":"MeshTrafficPermission","mesh":"default","name":"allow","spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`)
	h.waitCount("default.a", a+1)
	h.waitCount("default.b", b+1)
}

// Disconnected proxies cost nothing: no snapshot is built for them.
func TestDisconnectedProxiesAreNotGenerated(t *testing.T) {
	h := newHarness(t)
	h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "backend"))
	h.waitCount("default.a", 1)
	h.p.Disconnect("default.a")
	before := h.rec.count("default.a")
	h.apply("Dataplane", "default", "backend-1", dp("backend-1", 18003, "backend", ""))
	h.settle()
	if got := h.rec.count("default.a"); got != before {
		t.Fatalf("a disconnected but was regenerated (%d -> %d)", before, got)
	}
}

const (
	resourceEndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	resourceListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
)

// A targetRef policy reaches the proxies of its mesh and changes their config; proxies of
// other meshes are not regenerated.
func TestPolicyChangesStayInTheirMesh(t *testing.T) {
	h := newHarness(t)
	h.apply("Mesh", "", "other", `{"type":"Mesh","name":"other"}`)
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "backend"))
	h.apply("Dataplane", "other", "x", strings.Replace(dp("x", 18001, "x", "backend"), `"mesh":"default"`, `"mesh":"other"`, 1))
	h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
	h.p.Connect(Client{NodeID: "other.x", Mesh: "other", Name: "x"})
	h.waitCount("default.a", 1)
	h.waitCount("other.x", 1)
	h.settle()
	a, x := h.rec.count("default.a"), h.rec.count("other.x")
	before := h.rec.versions["default.a"][resourceListenerType]

	h.apply("MeshTimeout", "default", "t", `{"type":"MeshTimeout","mesh":"default","name":"t","spec":{"to":[{"targetRef":{"kind":"Mesh"},"default":{"idleTimeout":"1m"}}]}}`)
	h.waitCount("default.a", a+1)
	h.settle()
	if got := h.rec.count("other.x"); got != x {
		t.Fatalf("a policy of mesh default regenerated a proxy of mesh other (%d -> %d)", x, got)
	}
	if h.rec.versions["default.a"][resourceListenerType] == before {
		t.Fatal("the MeshTimeout did not change a's listeners")
	}

	// Deleting it restores the config without the policy.
	a = h.rec.count("default.a")
	h.apply("MeshTimeout", "default", "t", "")
	h.waitCount("default.a", a+1)
	h.settle()
	if got := h.rec.versions["default.a"][resourceListenerType]; got != before {
		t.Fatalf("listeners after delete %s, want %s", got, before)
	}
}

// A route to a service the proxy has no outbound for brings that service's endpoints into
// the proxy's config, and new instances of it reach the proxy.
func TestRouteBackendsFollowEndpoints(t *testing.T) {
	h := newHarness(t)
	// An HTTP outbound: routes only apply to HTTP traffic.
	h.apply("Dataplane", "default", "a", strings.Replace(dp("a", 18001, "a", "backend"),
		`"kuma.io/service":"backend"`, `"kuma.io/service":"backend","kuma.io/protocol":"http"`, 1))
	h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
	h.apply("MeshHTTPRoute", "default", "r", `{"type":"MeshHTTPRoute","mesh":"default","name":"r","spec":{"to":[{
 "targetRef":{"kind":"MeshService","name":"backend"},
 "rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/pay"}}],"default":{"backendRefs":[{"kind":"MeshService","name":"payments"}]}}]}]}}`)
	h.waitCount("default.a", 1)
	h.settle()
	before := h.rec.versions["default.a"][resourceEndpointType]
	n := h.rec.count("default.a")

	h.apply("Dataplane", "default", "payments-1", dp("payments-1", 18005, "payments", ""))
	h.waitCount("default.a", n+1)
	h.settle()
	if h.rec.versions["default.a"][resourceEndpointType] == before {
		t.Fatal("a's endpoints did not change when the route's backend got an instance")
	}
}
