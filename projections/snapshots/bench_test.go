package snapshots

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies"
)

// countingPublisher counts published snapshots.
type countingPublisher struct{ sets atomic.Int64 }

func (c *countingPublisher) SetSnapshot(context.Context, string, map[string][]types.Resource, map[string]string) error {
	c.sets.Add(1)
	return nil
}

func (c *countingPublisher) ClearSnapshot(string) {}

// benchMesh is jetmesh-bench's topology: n connected sidecars, 10 per service, each consuming
// the next two services, so one service has 10 providers and 20 consumers at every size.
type benchMesh struct {
	p        *Projector
	pub      *countingPublisher
	seq      uint64
	n        int
	services int
}

func newBenchMesh(b *testing.B, n int) *benchMesh {
	b.Helper()
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		b.Fatal(err)
	}
	m := &benchMesh{pub: &countingPublisher{}, n: n, services: n / 10}
	m.p = New(reg, Generate, m.pub, scopeZone, slog.New(slog.DiscardHandler))
	m.apply(b, "Mesh", "", "default", `{"type":"Mesh","name":"default","mtls":{"enabledBackend":"ca-1","backends":[{"name":"ca-1","type":"builtin"}]}}`)
	for i := range n {
		m.apply(b, "Dataplane", "default", fmt.Sprintf("dp-%d", i), m.dataplane(i, 0))
		m.p.Connect(Client{NodeID: fmt.Sprintf("default.dp-%d", i), Mesh: "default", Name: fmt.Sprintf("dp-%d", i)})
	}
	m.drain()
	return m
}

func (m *benchMesh) dataplane(i, gen int) string {
	s := i % m.services
	return fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":"dp-%d","networking":{"address":"10.%d.%d.%d",
 "inbound":[{"port":20000,"servicePort":8080,"tags":{"kuma.io/service":"svc-%d","kuma.io/protocol":"http"}}],
 "outbound":[{"port":10001,"tags":{"kuma.io/service":"svc-%d"}},{"port":10002,"tags":{"kuma.io/service":"svc-%d"}}]}}`,
		i, gen, (i>>8)&255, i&255, s, (s+1)%m.services, (s+2)%m.services)
}

func (m *benchMesh) apply(b *testing.B, typ, mesh, name, data string) {
	m.seq++
	rec := events.Record{Key: events.Key{Scope: events.ZoneScope(scopeZone), Type: typ, Mesh: mesh, Name: name}, Sequence: m.seq,
		Event: events.Event{Type: events.TypeResourceUpserted, Revision: 1, Data: []byte(data)}}
	if err := m.p.Apply(rec); err != nil {
		b.Fatal(err)
	}
}

// drain runs one regeneration round synchronously, as the loop would.
func (m *benchMesh) drain() {
	for _, in := range m.p.takeDirty() {
		m.p.rebuild(context.Background(), in)
	}
}

// BenchmarkPolicyChange: a MeshTrafficPermission for one service (10 proxies) changes; the
// projection marks and regenerates what it must. regenerated/op shows how many proxies it
// rebuilt: it should not grow with the mesh.
func BenchmarkPolicyChange(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("dataplanes=%d", n), func(b *testing.B) {
			m := newBenchMesh(b, n)
			before := m.pub.sets.Load()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				svc := (i * 7919) % m.services
				m.apply(b, "MeshTrafficPermission", "default", fmt.Sprintf("mtp-%d", svc), fmt.Sprintf(
					`{"type":"MeshTrafficPermission","mesh":"default","name":"mtp-%d","spec":{"targetRef":{"kind":"MeshSubset","tags":{"kuma.io/service":"svc-%d"}},"from":[{"targetRef":{"kind":"MeshSubset","tags":{"kuma.io/service":"client-%d"}},"default":{"action":"Allow"}}]}}`,
					svc, svc, i))
				m.drain()
				i++
			}
			b.ReportMetric(float64(m.pub.sets.Load()-before)/float64(i), "regenerated/op")
		})
	}
}

// BenchmarkEndpointChange: one provider of a service moves (20 consumers and itself affected).
func BenchmarkEndpointChange(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("dataplanes=%d", n), func(b *testing.B) {
			m := newBenchMesh(b, n)
			before := m.pub.sets.Load()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				dp := (i * 7919) % n
				m.apply(b, "Dataplane", "default", fmt.Sprintf("dp-%d", dp), m.dataplane(dp, 1+i%2))
				m.drain()
				i++
			}
			b.ReportMetric(float64(m.pub.sets.Load()-before)/float64(i), "regenerated/op")
		})
	}
}
