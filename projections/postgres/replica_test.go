package postgres_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// feedRecord is one record of a stream in the replica tests.
type feedRecord struct {
	stream string // "" for the CP's own log
	rec    events.Record
}

// replicaCase is a CP (its scope) and what its own log and replicated streams deliver, in
// delivery order, with each stream numbering its own sequences from 1.
func replicaCase(local events.Scope, steps []struct {
	stream string
	key    events.Key
	del    bool
}) []feedRecord {
	seqs := map[string]uint64{}
	revs := map[events.Key]uint64{}
	var out []feedRecord
	for i, s := range steps {
		seqs[s.stream]++
		revs[s.key]++
		rec := handRecord(seqs[s.stream], s.key, revs[s.key], s.del)
		if !s.del {
			rec.Event.Data = dataplaneJSON(s.key, i)
		}
		out = append(out, feedRecord{stream: s.stream, rec: rec})
	}
	return out
}

// Replicated streams list in PostgreSQL exactly as in the in-memory model, whichever side the
// CP is on: another zone's dataplanes under "<name>.<zone>" with its origin, zone and display
// name labels; this CP's own resources echoed back by a stream skipped (the own log rules);
// the same sequence numbers in several streams kept apart; deletes and dropped streams gone.
func TestReplicasListAsMemory(t *testing.T) {
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		t.Fatal(err)
	}
	desc, _ := reg.ByName("Dataplane")
	dp := func(zone, mesh, name string) events.Key {
		return events.Key{Scope: events.ZoneScope(zone), Type: "Dataplane", Mesh: mesh, Name: name}
	}
	type step = struct {
		stream string
		key    events.Key
		del    bool
	}
	for _, c := range []struct {
		name  string
		local events.Scope
		steps []step
		drop  string // a stream dropped at the end (a deleted zone)
	}{{
		name:  "global",
		local: events.GlobalScope,
		steps: []step{
			{"JETMESH_ZONE_zone-1", dp("zone-1", "default", "backend-1"), false},
			{"JETMESH_ZONE_zone-2", dp("zone-2", "default", "backend-1"), false},
			{"JETMESH_ZONE_zone-2", dp("zone-2", "demo", "web"), false},
			{"JETMESH_ZONE_zone-1", dp("zone-1", "default", "backend-2"), false},
			{"JETMESH_ZONE_zone-1", dp("zone-1", "default", "backend-1"), false}, // revision 2
			{"JETMESH_ZONE_zone-1", dp("zone-1", "default", "backend-2"), true},
		},
		drop: "JETMESH_ZONE_zone-2",
	}, {
		name:  "zone",
		local: events.ZoneScope("zone-1"),
		steps: []step{
			{"", dp("zone-1", "default", "backend-1"), false},
			{"JETMESH_ZONE_PROXIES", dp("zone-1", "default", "backend-1"), false}, // echo of our own
			{"JETMESH_ZONE_PROXIES", dp("zone-2", "default", "backend-1"), false},
			{"", dp("zone-1", "default", "web"), false},
			{"JETMESH_ZONE_PROXIES", dp("zone-3", "default", "api"), false},
			{"JETMESH_ZONE_PROXIES", dp("zone-3", "default", "api"), true},
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			p := newTestDB(t).migrated(t)
			view := state.NewScoped(reg, c.local)
			own, err := postgres.New(testCtx(t), p, "resources")
			if err != nil {
				t.Fatal(err)
			}
			pg := map[string]*postgres.Model{"": own}
			for _, s := range c.steps {
				if _, ok := pg[s.stream]; !ok {
					if pg[s.stream], err = postgres.NewReplica(testCtx(t), p, s.stream, c.local); err != nil {
						t.Fatal(err)
					}
				}
			}
			recs := replicaCase(c.local, c.steps)
			for _, r := range recs {
				mem := view.Apply
				if r.stream != "" {
					mem = view.Feed(r.stream).Apply
				}
				if err := mem(r.rec); err != nil {
					t.Fatalf("memory: %v", err)
				}
				if err := pg[r.stream].Apply(r.rec); err != nil {
					t.Fatalf("postgres: %v", err)
				}
			}
			for stream, m := range pg {
				if stream != "" && m.Sequence() != view.FeedSequences()[stream] {
					t.Errorf("%s: postgres at %d, memory at %d", stream, m.Sequence(), view.FeedSequences()[stream])
				}
			}
			lists := postgres.NewResources(p)
			compare := func(when string, atLeast int) {
				t.Helper()
				var want []string
				for _, e := range view.List("Dataplane", state.Filter{}) {
					b, _ := json.Marshal(e.Resource)
					want = append(want, string(b))
				}
				page, err := lists.List(testCtx(t), postgres.ListQuery{Type: "Dataplane"})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, raw := range page.Items {
					r, err := resources.DecodeAs(desc, raw)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := json.Marshal(r)
					got = append(got, string(b))
				}
				if page.Total != len(want) || !slices.Equal(got, want) {
					t.Errorf("%s: postgres lists (%d)\n%s\nmemory lists\n%s", when, page.Total, fmt.Sprint(got), fmt.Sprint(want))
				}
				if len(want) < atLeast {
					t.Errorf("%s: the case lists %d dataplanes, want at least %d", when, len(want), atLeast)
				}
			}
			compare("after apply", 3)

			// Each replicated resource's history comes from its stream, as its log holds it.
			audit := postgres.NewAudit(p)
			for _, r := range recs {
				if r.stream == "" || r.rec.Key.Scope == c.local {
					continue
				}
				hist, err := audit.ReplicaHistory(testCtx(t), r.stream, r.rec.Key)
				if err != nil {
					t.Fatal(err)
				}
				var want []uint64
				for _, o := range recs {
					if o.stream == r.stream && o.rec.Key == r.rec.Key {
						want = append(want, o.rec.Sequence)
					}
				}
				var got []uint64
				for _, h := range hist {
					got = append(got, h.Sequence)
					if h.Key != r.rec.Key {
						t.Errorf("history of %s holds %s", r.rec.Key, h.Key)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("history of %s from %s: sequences %v, want %v", r.rec.Key, r.stream, got, want)
				}
			}

			if c.drop != "" {
				view.DropFeed(c.drop)
				if err := pg[c.drop].Drop(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				compare("after dropping "+c.drop, 1)
				var left int
				if err := p.QueryRow(testCtx(t), `SELECT (SELECT count(*) FROM replica_events WHERE stream = $1) +
					(SELECT count(*) FROM checkpoint WHERE projection = 'replica:' || $1)`, c.drop).Scan(&left); err != nil {
					t.Fatal(err)
				}
				if left != 0 {
					t.Errorf("%d rows of %s left after Drop", left, c.drop)
				}
			}
			if err := own.Drop(testCtx(t)); err == nil {
				t.Error("dropping the own log's model succeeded")
			}
		})
	}
}
