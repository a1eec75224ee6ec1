package state_test

import (
	"fmt"
	"testing"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// HasReplicated follows the entries of a type that are not the CP's own: set by a replicated
// stream's or another zone's resource, cleared when the last is deleted or its feed dropped.
func TestHasReplicated(t *testing.T) {
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		t.Fatal(err)
	}
	view := state.NewScoped(reg, events.GlobalScope)
	rec := func(zone, name string, seq uint64, del bool) events.Record {
		k := events.Key{Scope: events.ZoneScope(zone), Type: "Dataplane", Mesh: "default", Name: name}
		ev := events.Event{Type: events.TypeResourceUpserted, Revision: 1, Data: fmt.Appendf(nil,
			`{"type":"Dataplane","mesh":"default","name":%q,"networking":{"address":"10.0.0.1","inbound":[{"port":1,"tags":{"kuma.io/service":"a"}}]}}`, name)}
		if del {
			ev = events.Event{Type: events.TypeResourceDeleted, Revision: 2}
		}
		return events.Record{Key: k, Sequence: seq, Event: ev}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	feed := view.Feed("zone-1")
	must(feed.Apply(rec("zone-1", "dp-1", 1, false)))
	must(feed.Apply(rec("zone-1", "dp-2", 2, false)))
	if !view.HasReplicated("Dataplane") || view.HasReplicated("Mesh") {
		t.Fatal("replicated dataplanes not counted, or counted for meshes")
	}
	must(feed.Apply(rec("zone-1", "dp-1", 3, true)))
	must(feed.Apply(rec("zone-1", "dp-2", 4, false))) // an update replaces, it does not add
	must(feed.Apply(rec("zone-1", "dp-2", 5, true)))
	if view.HasReplicated("Dataplane") {
		t.Fatal("still replicated after the last was deleted")
	}
	must(feed.Apply(rec("zone-1", "dp-3", 6, false)))
	view.DropFeed("zone-1")
	if view.HasReplicated("Dataplane") {
		t.Fatal("still replicated after the feed was dropped")
	}
}
