package state_test

import (
	"fmt"
	"testing"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// A replicated stream's entries are listed under "<name>.<zone>" with their zone's labels,
// its sequence is followed apart from the own log's, and dropping the feed forgets both.
func TestFeedEntriesAndDrop(t *testing.T) {
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
	must(feed.Apply(rec("zone-1", "dp-1", 3, true)))
	must(feed.Apply(rec("zone-1", "dp-2", 4, false))) // an update replaces, it does not add
	list := view.List("Dataplane", state.Filter{})
	if len(list) != 1 || list[0].Name != "dp-2.zone-1" || list[0].Feed() != "zone-1" ||
		list[0].Resource.Meta.Labels[resources.LabelDisplayName] != "dp-2" ||
		list[0].Resource.Meta.Labels[resources.LabelZone] != "zone-1" {
		t.Fatalf("listed %+v, want dp-2.zone-1 from feed zone-1 with its zone labels", list)
	}
	if got := view.FeedSequences(); len(got) != 1 || got["zone-1"] != 4 || view.Sequence() != 0 {
		t.Fatalf("feed sequences %v, own %d; want zone-1 at 4, own at 0", got, view.Sequence())
	}
	view.DropFeed("zone-1")
	if list := view.List("Dataplane", state.Filter{}); len(list) != 0 || len(view.FeedSequences()) != 0 {
		t.Fatalf("after the feed was dropped: %d entries, feeds %v", len(list), view.FeedSequences())
	}
}
