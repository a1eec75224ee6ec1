package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/services/natsd"
)

// batchModel records how records arrived: in batches (catch-up) or one by one (live tail).
type batchModel struct {
	mu      sync.Mutex
	seq     uint64
	batches []int // sizes of the batches received
	singles int
	applied []uint64
}

func (m *batchModel) add(rec events.Record) {
	m.applied = append(m.applied, rec.Sequence)
	m.seq = rec.Sequence
}

func (m *batchModel) Apply(rec events.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.singles++
	m.add(rec)
	return nil
}

func (m *batchModel) ApplyBatch(recs []events.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches = append(m.batches, len(recs))
	for _, r := range recs {
		m.add(r)
	}
	return nil
}

func (m *batchModel) Sequence() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// A BatchModel catches up in batches of at most 500 and then follows the log, every record
// exactly once and in order.
func TestRunnerCatchesUpInBatches(t *testing.T) {
	srv := startNATS(t, t.TempDir(), natsd.RandomPort)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	nc, err := srv.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	store, err := jsstore.New(ctx, js, jsstore.ScopeConfig("B", scope), "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1200 {
		if _, err := store.Append(ctx, meshEvent(fmt.Sprintf("m-%d", i), 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	m := &batchModel{}
	r := projections.NewRunner("batch", store, m, slog.New(slog.DiscardHandler))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	for i := range 3 {
		if _, err := store.Append(ctx, meshEvent(fmt.Sprintf("live-%d", i), 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Sequence() < 1203 {
		if time.Now().After(deadline) {
			t.Fatalf("runner at %d, want 1203", m.Sequence())
		}
		time.Sleep(5 * time.Millisecond) // polling step of a deadline-bound wait
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Start catches up in 500, 500, 200; the live events come one by one, or in a small batch
	// when they were appended before the follow loop's own catch-up read.
	if len(m.batches) < 3 || fmt.Sprint(m.batches[:3]) != "[500 500 200]" {
		t.Errorf("catch-up batches %v, want [500 500 200 ...]", m.batches)
	}
	total := m.singles
	for _, n := range m.batches {
		total += n
	}
	if total != 1203 {
		t.Errorf("%d records applied (batches %v, %d singles), want 1203", total, m.batches, m.singles)
	}
	for i, seq := range m.applied {
		if seq != uint64(i+1) {
			t.Fatalf("record %d has sequence %d: not every record exactly once in order", i, seq)
		}
	}
}
