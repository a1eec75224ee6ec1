package jetstream

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
)

// BenchmarkAppend measures one synchronous append (publish + fsync + ack with the default
// SyncAlways server) to distinct keys (create, expected 0) and to one key with optimistic
// concurrency (update, expected = previous sequence).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	data := []byte(`{"type":"Dataplane","mesh":"default","name":"backend","networking":{"address":"10.0.0.1"}}`)

	b.Run("distinct-keys", func(b *testing.B) {
		s := newStore(b, startServer(b, b.TempDir()))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := events.Change{Key: key(fmt.Sprintf("dp-%d", i)), Op: events.OpUpsert, Revision: 1, Data: data}
			if _, err := s.Append(ctx, c); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("one-key-occ", func(b *testing.B) {
		s := newStore(b, startServer(b, b.TempDir()))
		b.ReportAllocs()
		var prev events.Record
		for b.Loop() {
			c := events.Change{Key: key("hot"), Op: events.OpUpsert, ExpectedSequence: prev.Sequence,
				Revision: prev.Event.Revision + 1, Data: data}
			rec, err := s.Append(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			prev = rec
		}
	})
}

// BenchmarkHistory compares History (direct gets, then a consumer past directHistory events)
// with reading the whole history through an ordered consumer filtered on the subject. The
// stream also holds other resources' events, as in production.
func BenchmarkHistory(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 8, 9, 30, 100} {
		s := newStore(b, startServer(b, b.TempDir()))
		k := key("target")
		var prev events.Record
		for i := range n {
			for j := range 10 { // noise on other subjects
				c := events.Change{Key: key(fmt.Sprintf("other-%d-%d", i, j)), Op: events.OpUpsert, Revision: 1, Data: []byte(`{}`)}
				if _, err := s.Append(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			rec, err := s.Append(ctx, events.Change{Key: k, Op: events.OpUpsert, ExpectedSequence: prev.Sequence,
				Revision: prev.Event.Revision + 1, Data: []byte(`{}`)})
			if err != nil {
				b.Fatal(err)
			}
			prev = rec
		}
		b.Run(fmt.Sprintf("History/events=%d", n), func(b *testing.B) {
			for b.Loop() {
				if h, err := s.History(ctx, k); err != nil || len(h) != n {
					b.Fatalf("History = %d events, %v", len(h), err)
				}
			}
		})
		b.Run(fmt.Sprintf("ordered-consumer/events=%d", n), func(b *testing.B) {
			for b.Loop() {
				if h, err := historyByConsumer(ctx, s, k); err != nil || len(h) != n {
					b.Fatalf("historyByConsumer = %d events, %v", len(h), err)
				}
			}
		})
	}
}

// historyByConsumer is the alternative History implementation, kept for the benchmark.
func historyByConsumer(ctx context.Context, s *Store, k events.Key) ([]events.Record, error) {
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{k.Subject()}, InactiveThreshold: consumerIdle,
	})
	if err != nil {
		return nil, err
	}
	defer s.deleteConsumer(ctx, cons)
	pending := cons.CachedInfo().NumPending
	var out []events.Record
	for pending > 0 {
		batch, err := cons.Fetch(int(pending))
		if err != nil {
			return nil, err
		}
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				return nil, err
			}
			rec, err := decode(msg.Subject(), meta.Sequence.Stream, msg.Data())
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
			pending = meta.NumPending
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
