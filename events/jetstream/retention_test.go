package jetstream

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/events/storetest"
)

func revisions(recs []events.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Event.Revision
	}
	return out
}

// HistoryMaxEvents keeps the newest N events of every resource: older revisions go, the
// current one (or the tombstone) never does, writes keep their concurrency checks, and a
// lower limit applied to an existing stream trims it.
func TestHistoryMaxEvents(t *testing.T) {
	ts := startServer(t, t.TempDir())
	cfg := testConfig()
	cfg.HistoryMaxEvents = 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, ts.js, cfg, storetest.Source, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	busy := chain(t, s, key("busy"), events.Record{}, 5)
	quiet := chain(t, s, key("quiet"), events.Record{}, 1)
	gone := chain(t, s, key("gone"), events.Record{}, 4)
	goneDel := tombstone(t, s, gone[3])

	if got := revisions(history(t, s, key("busy"))); len(got) != 3 || got[0] != 3 || got[2] != 5 {
		t.Errorf("busy history revisions %v, want [3 4 5]", got)
	}
	if got := revisions(history(t, s, key("quiet"))); len(got) != 1 || got[0] != 1 {
		t.Errorf("quiet history revisions %v, want [1]", got)
	}
	if got := history(t, s, key("gone")); len(got) != 3 || got[2].Sequence != goneDel.Sequence {
		t.Errorf("gone history %v, want 3 events ending with the tombstone", revisions(got))
	}
	if last, err := s.Last(testCtx(t), key("busy")); err != nil || last.Sequence != busy[4].Sequence {
		t.Fatalf("Last(busy) = %d, %v; want the current revision %d", last.Sequence, err, busy[4].Sequence)
	}
	// Optimistic concurrency is unaffected: a stale expected sequence still conflicts.
	if _, err := s.Append(testCtx(t), events.Change{Key: key("busy"), Op: events.OpUpsert,
		ExpectedSequence: busy[3].Sequence, Revision: 5, Data: []byte(`{}`)}); err == nil {
		t.Fatal("stale write accepted")
	}
	chain(t, s, key("busy"), busy[4], 1)

	// Tightening the limit on the existing stream trims every resource to its newest event.
	cfg.HistoryMaxEvents = 1
	s1, err := New(ctx, ts.js, cfg, storetest.Source, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint64{"busy": 6, "quiet": quiet[0].Event.Revision, "gone": goneDel.Event.Revision} {
		if got := revisions(history(t, s1, key(name))); len(got) != 1 || got[0] != want {
			t.Errorf("%s after limit 1: revisions %v, want [%d]", name, got, want)
		}
	}
}
