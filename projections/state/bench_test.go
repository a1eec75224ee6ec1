package state_test

import (
	"fmt"
	"testing"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// BenchmarkApply measures folding one Dataplane event into the read model (decode + index),
// the per-event cost of every projection replay.
func BenchmarkApply(b *testing.B) {
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		b.Fatal(err)
	}
	view := state.New(reg)
	data := func(i int) []byte {
		return fmt.Appendf(nil, `{"type":"Dataplane","mesh":"default","name":"dp-%d","creationTime":"2026-01-01T00:00:00Z","modificationTime":"2026-01-01T00:00:00Z",
 "networking":{"address":"10.0.0.1","inbound":[{"port":%d,"tags":{"kuma.io/service":"svc-%d","kuma.io/protocol":"http"}}]}}`, i%1000, 10000+i%1000, i%50)
	}
	docs := make([][]byte, 1000)
	for i := range docs {
		docs[i] = data(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := events.Record{
			Key:      events.Key{Scope: events.ZoneScope("default"), Type: "Dataplane", Mesh: "default", Name: fmt.Sprintf("dp-%d", i%1000)},
			Sequence: uint64(i + 1),
			Event:    events.Event{Type: events.TypeResourceUpserted, Revision: 1, Data: docs[i%1000]},
		}
		if err := view.Apply(rec); err != nil {
			b.Fatal(err)
		}
	}
}
