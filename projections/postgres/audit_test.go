package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/postgres"
)

// auditOps appends a mix of meshes, policies in two meshes, deletes and several actors.
func auditOps(t *testing.T, s events.Store, n int) []events.Record {
	t.Helper()
	ctx := testCtx(t)
	last := map[string]events.Record{}
	var out []events.Record
	for i := range n {
		k := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission",
			Mesh: []string{"default", "demo"}[i%2], Name: fmt.Sprintf("mtp-%d", (i*7)%5)}
		if i%9 == 4 {
			k = events.Key{Scope: events.ZoneScope("zone-1"), Type: "Mesh", Name: []string{"default", "demo"}[i%2]}
		}
		prev := last[keyString(k)]
		c := events.Change{Key: k, Op: events.OpUpsert, ExpectedSequence: prev.Sequence,
			Revision: prev.Event.Revision + 1, Actor: fmt.Sprintf("user:u%d", i%3),
			CorrelationID: fmt.Sprintf("c-%d", i), Reason: []string{"", "revert to revision 1"}[i%2]}
		if prev.Sequence != 0 && !prev.Event.Deleted() && i%4 == 0 {
			c.Op = events.OpDelete
		} else {
			c.Data = resourceJSON(k, c.Revision)
		}
		rec, err := s.Append(ctx, c)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last[keyString(k)] = rec
		out = append(out, rec)
	}
	return out
}

// normalized makes records comparable across stores: PostgreSQL's jsonb keeps the data's
// content, not its key order.
func normalized(t *testing.T, recs []events.Record) []events.Record {
	t.Helper()
	out := make([]events.Record, len(recs))
	for i, r := range recs {
		if len(r.Event.Data) > 0 {
			var v any
			if err := json.Unmarshal(r.Event.Data, &v); err != nil {
				t.Fatal(err)
			}
			r.Event.Data, _ = json.Marshal(v)
		}
		out[i] = r
	}
	return out
}

// scan answers q the way the event log does: Match over a read from q.From, up to q.Limit.
func scan(recs []events.Record, q events.Query, newest bool) []events.Record {
	var out []events.Record
	for _, r := range recs {
		if r.Sequence >= q.From && q.Match(r) {
			out = append(out, r)
		}
	}
	if newest {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// The audit queries answer exactly what a scan of the log with events.Query.Match answers,
// attributes and all, for every filter and their combinations.
func TestAuditQueriesEqualLogScan(t *testing.T) {
	p := newTestDB(t).migrated(t)
	s := newStore(t)
	recs := auditOps(t, s, 120)
	m, err := postgres.New(testCtx(t), p, "pg")
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewRunner("pg", s, m, slog.New(slog.DiscardHandler))
	if err := r.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })

	mid := recs[60].Event.Time
	audit := postgres.NewAudit(p)
	for name, q := range map[string]events.Query{
		"all":              {},
		"mesh":             {Mesh: "demo"},
		"mesh+type Mesh":   {Mesh: "demo", Type: "Mesh"},
		"mesh+type policy": {Mesh: "demo", Type: "MeshTrafficPermission"},
		"mesh+name":        {Mesh: "default", Name: "mtp-2"},
		"mesh+own name":    {Mesh: "default", Name: "default"},
		"type":             {Type: "Mesh"},
		"name":             {Name: "mtp-3"},
		"actor":            {Actor: "user:u1"},
		"actor+time range": {Actor: "user:u2", Since: recs[20].Event.Time, Until: mid},
		"zone":             {Zone: "zone-1"},
		"zone global":      {Zone: "global"},
		"zone other":       {Zone: "zone-2"},
		"since":            {Since: mid},
		"since finer":      {Since: mid.Add(500 * time.Nanosecond)},
		"until":            {Until: mid},
		"until finer":      {Until: mid.Add(-500 * time.Nanosecond)},
		"page":             {From: recs[30].Sequence, Limit: 7},
		"mesh page":        {Mesh: "demo", From: recs[50].Sequence, Limit: 5},
		"everything at once": {Mesh: "demo", Type: "MeshTrafficPermission", Name: "mtp-1", Actor: "user:u0",
			Zone: "zone-1", Since: recs[1].Event.Time, Until: mid, Limit: 3},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := audit.Events(testCtx(t), q)
			if err != nil {
				t.Fatal(err)
			}
			want := scan(recs, q, false)
			if diff := cmp.Diff(normalized(t, want), normalized(t, got)); diff != "" {
				t.Errorf("Events(%+v) differs from the log (-log +postgres):\n%s", q, diff)
			}
			q.Limit = 4
			latest, err := audit.Latest(testCtx(t), q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(normalized(t, scan(recs, q, true)), normalized(t, latest)); diff != "" {
				t.Errorf("Latest(%+v) differs from the log (-log +postgres):\n%s", q, diff)
			}
		})
	}

	for _, k := range []events.Key{recs[0].Key, recs[4].Key, {Scope: events.ZoneScope("zone-1"), Type: "Mesh", Name: "never"}} {
		want, err := s.History(testCtx(t), k)
		if err != nil && len(want) != 0 {
			t.Fatal(err)
		}
		got, err := audit.History(testCtx(t), k)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(normalized(t, want), normalized(t, got)); diff != "" {
			t.Errorf("History(%s) differs from the log (-log +postgres):\n%s", k, diff)
		}
	}
}

// Tables wiped under a running projection — emptied, or the schema dropped — are rebuilt
// from the log without a restart: the next apply notices the checkpoint went back (or the
// tables are gone), the runner resyncs, and the model replays from sequence 1.
func TestWipedTablesAreRebuilt(t *testing.T) {
	db := newTestDB(t)
	p := db.migrated(t)
	s := newStore(t)
	recs := ops(t, s, 30)
	m, err := postgres.New(testCtx(t), p, "pg")
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewRunner("pg", s, m, slog.New(slog.DiscardHandler))
	r.RetryApply = true
	if err := r.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	converged := func(recs []events.Record) {
		t.Helper()
		last := recs[len(recs)-1].Sequence
		var n int64
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := p.QueryRow(testCtx(t), `SELECT count(*) FROM events`).Scan(&n)
			if err == nil && n == int64(len(recs)) && m.Sequence() == last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not rebuilt: %d events (err %v), model at %d, want %d up to %d", n, err, m.Sequence(), len(recs), last)
			}
			time.Sleep(10 * time.Millisecond) // polling step of a deadline-bound wait
		}
		checkLive(t, p, recs)
		checkEvents(t, p, recs)
		if err := m.Verify(testCtx(t)); err != nil {
			t.Errorf("after the rebuild: %v", err)
		}
	}
	for _, wipe := range []string{
		// Emptied, e.g. restored from an empty backup:
		fmt.Sprintf("TRUNCATE %[1]s.events, %[1]s.resources, %[1]s.checkpoint", db.schema),
		"DROP SCHEMA " + db.schema + " CASCADE", // gone altogether
	} {
		db.exec(t, wipe)
		// Until the next event, readers learn from Verify not to trust the tables.
		if err := m.Verify(testCtx(t)); err == nil {
			t.Errorf("after %q: Verify says the tables are current", wipe)
		}
		recs = append(recs, ops2(t, s, recs, 5)...)
		converged(recs)
	}
}

// ops2 continues ops: n more upserts of new names after recs.
func ops2(t *testing.T, s events.Store, recs []events.Record, n int) []events.Record {
	t.Helper()
	var out []events.Record
	for i := range n {
		k := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission", Mesh: "default",
			Name: fmt.Sprintf("more-%d-%d", len(recs), i)}
		rec, err := s.Append(testCtx(t), events.Change{Key: k, Op: events.OpUpsert, Revision: 1,
			Actor: "user:admin", Data: resourceJSON(k, 1)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// ApplyBatch writes what Apply writes, skips what the database already holds (overlapping
// batches, a stale instance) and advances the checkpoint to the batch's last record.
func TestApplyBatch(t *testing.T) {
	p := newTestDB(t).migrated(t)
	m, err := postgres.New(testCtx(t), p, "pg")
	if err != nil {
		t.Fatal(err)
	}
	a := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission", Mesh: "default", Name: "a"}
	b := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission", Mesh: "default", Name: "b"}
	recs := []events.Record{
		handRecord(1, a, 1, false), handRecord(2, b, 1, false), handRecord(3, a, 2, false),
		handRecord(4, b, 2, true), handRecord(5, a, 3, false), handRecord(7, b, 3, false),
	}
	for _, r := range recs[:2] {
		if err := m.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.ApplyBatch(recs[1:4]); err != nil { // overlaps sequence 2
		t.Fatal(err)
	}
	stale, err := postgres.New(testCtx(t), p, "pg") // at 4 now
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyBatch(recs[2:]); err != nil { // overlaps 3 and 4
		t.Fatal(err)
	}
	if err := stale.ApplyBatch(recs); err != nil { // everything again: a no-op
		t.Fatal(err)
	}
	if m.Sequence() != 7 || stale.Sequence() != 7 {
		t.Errorf("sequences %d and %d, want 7", m.Sequence(), stale.Sequence())
	}
	checkLive(t, p, recs)
	checkEvents(t, p, recs)
}
