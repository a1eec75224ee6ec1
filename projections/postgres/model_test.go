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

// handRecord builds a stored record without a store.
func handRecord(seq uint64, k events.Key, rev uint64, del bool) events.Record {
	ev := events.Event{
		SpecVersion: events.SpecVersion, ID: fmt.Sprintf("%s-%d", k.Name, seq), Source: "test",
		Type: events.TypeResourceUpserted, Subject: k.Subject(), Revision: rev,
		Time: time.Date(2026, 11, 22, 10, 0, int(seq), 0, time.UTC), Actor: "user:admin",
		Origin: k.Scope.Origin(), CorrelationID: "c1",
	}
	if del {
		ev.Type = events.TypeResourceDeleted
	} else {
		ev.Data = resourceJSON(k, rev)
	}
	return events.Record{Key: k, Sequence: seq, Event: ev}
}

// Upserts, deletes and re-creates end up as the live set; the audit log keeps every event with
// its attributes; labels, spec and times are split out of the resource JSON.
func TestApplyProjectsLiveSet(t *testing.T) {
	p := newTestDB(t).migrated(t)
	m, err := postgres.New(testCtx(t), p, "pg")
	if err != nil {
		t.Fatal(err)
	}
	a := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission", Mesh: "default", Name: "a"}
	b := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission", Mesh: "default", Name: "b"}
	g := events.Key{Type: "Mesh", Name: "default"} // global scope, empty mesh
	recs := []events.Record{
		handRecord(1, a, 1, false), handRecord(2, b, 1, false), handRecord(3, a, 2, false),
		handRecord(4, b, 2, true), handRecord(5, g, 1, false), handRecord(7, a, 3, true), // 6: a gap, as after compaction
		handRecord(8, a, 4, false),
	}
	for _, r := range recs {
		if err := m.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	if m.Sequence() != 8 {
		t.Errorf("Sequence() = %d, want 8", m.Sequence())
	}
	checkLive(t, p, recs)
	checkEvents(t, p, recs)

	rows := resourceRows(t, p)
	ra := rows["zone-1/MeshTrafficPermission/default/a"]
	if ra.Labels != `{"rev": "4"}` || ra.Spec != `{"rev": 4, "targetRef": {"kind": "Mesh"}}` ||
		ra.Create != "2026-01-01 00:00:00+00" || ra.Actor != "user:admin" {
		t.Errorf("row a: %+v", ra)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(ra.Resource), &res); err != nil || res["name"] != "a" {
		t.Errorf("resource JSON %s (%v)", ra.Resource, err)
	}

	var typ, origin, subject, corr string
	var data *string
	if err := p.QueryRow(testCtx(t), `SELECT type, origin, subject, correlation_id, data::text
		FROM events WHERE sequence = 7`).Scan(&typ, &origin, &subject, &corr, &data); err != nil {
		t.Fatal(err)
	}
	if typ != events.TypeResourceDeleted || origin != "zone:zone-1" || subject != a.Subject() || corr != "c1" || data != nil {
		t.Errorf("tombstone row: %s %s %s %s %v", typ, origin, subject, corr, data)
	}
}

// Applying a record the database already holds changes nothing, whether the Runner filters it
// (sequence <= Sequence()) or a second model instance with a stale view sends it anyway.
func TestApplyIsExactlyOnce(t *testing.T) {
	db := newTestDB(t)
	p := db.migrated(t)
	ctx := testCtx(t)
	s := newStore(t)
	recs := ops(t, s, 20)

	m, err := postgres.New(ctx, p, "pg")
	if err != nil {
		t.Fatal(err)
	}
	// A second instance loaded now has a stale checkpoint (0) once m has applied everything.
	stale, err := postgres.New(ctx, db.pool(t), "pg")
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewRunner("pg", s, m, slog.New(slog.DiscardHandler))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The store's Read repeats everything from 1: the runner must skip what was applied.
	if _, err := s.Read(ctx, 1, func(rec events.Record) error {
		if rec.Sequence > m.Sequence() {
			t.Errorf("record %d not applied by Start", rec.Sequence)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r2 := projections.NewRunner("pg", s, m, slog.New(slog.DiscardHandler))
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r2.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The stale instance gets every record again, past the Runner: the database's checkpoint,
	// checked in the transaction, turns each into a no-op.
	for _, rec := range recs {
		if err := stale.Apply(rec); err != nil {
			t.Fatalf("re-apply %d: %v", rec.Sequence, err)
		}
	}
	if stale.Sequence() != m.Sequence() {
		t.Errorf("stale model at %d after re-applying, want %d", stale.Sequence(), m.Sequence())
	}
	checkLive(t, p, recs)
	checkEvents(t, p, recs)
}

// A crash between events (the pool goes away mid-way) loses and duplicates nothing: a new
// model resumes from the checkpoint and a Runner catches it up from the JetStream log.
func TestCrashResumesFromCheckpoint(t *testing.T) {
	db := newTestDB(t)
	db.migrated(t)
	ctx := testCtx(t)
	s := newStore(t)
	recs := ops(t, s, 30)

	p1 := db.pool(t)
	m1, err := postgres.New(ctx, p1, "pg")
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[:12] {
		if err := m1.Apply(rec); err != nil {
			t.Fatal(err)
		}
	}
	p1.Close() // the crash
	if err := m1.Apply(recs[12]); err == nil {
		t.Fatal("Apply on a closed pool succeeded")
	}

	p2 := db.pool(t)
	m2, err := postgres.New(ctx, p2, "pg")
	if err != nil {
		t.Fatal(err)
	}
	if m2.Sequence() != recs[11].Sequence {
		t.Fatalf("resumed at %d, want the checkpoint %d", m2.Sequence(), recs[11].Sequence)
	}
	checkEvents(t, p2, recs[:12])
	r := projections.NewRunner("pg", s, m2, slog.New(slog.DiscardHandler))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	checkLive(t, p2, recs)
	checkEvents(t, p2, recs)

	// The runner keeps following: a new event reaches PostgreSQL.
	k := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission", Mesh: "default", Name: "late"}
	late, err := s.Append(ctx, events.Change{Key: k, Op: events.OpUpsert, Revision: 1, Data: resourceJSON(k, 1)})
	if err != nil {
		t.Fatal(err)
	}
	all := append(recs, late)
	deadline := time.Now().Add(20 * time.Second)
	for m2.Sequence() < all[len(all)-1].Sequence && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, p2, all)
	checkLive(t, p2, all)
}

// Wiping the schema and running again rebuilds exactly the same rows from the log.
func TestWipeAndRebuildGivesSameRows(t *testing.T) {
	db := newTestDB(t)
	ctx := testCtx(t)
	s := newStore(t)
	recs := ops(t, s, 40)
	build := func() map[string]row {
		p := db.migrated(t)
		m, err := postgres.New(ctx, p, "pg")
		if err != nil {
			t.Fatal(err)
		}
		if m.Sequence() != 0 {
			t.Fatalf("fresh schema: checkpoint %d", m.Sequence())
		}
		r := projections.NewRunner("pg", s, m, slog.New(slog.DiscardHandler))
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		checkLive(t, p, recs)
		checkEvents(t, p, recs)
		rows := resourceRows(t, p)
		p.Close()
		return rows
	}
	first := build()
	db.exec(t, "DROP SCHEMA "+db.schema+" CASCADE")
	db.exec(t, "CREATE SCHEMA "+db.schema)
	if diff := cmp.Diff(first, build()); diff != "" {
		t.Errorf("rebuilt rows differ (-first +rebuilt):\n%s", diff)
	}
}
