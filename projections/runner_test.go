package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/natsd"
)

var scope = events.ZoneScope("default")

func startNATS(t *testing.T, dir string, port int) *natsd.Server {
	t.Helper()
	cfg := natsd.DefaultConfig()
	cfg.Port, cfg.StoreDir = port, dir
	srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return srv
}

func meshEvent(name string, rev uint64, expected uint64) events.Change {
	return events.Change{
		Key: events.Key{Scope: scope, Type: "Mesh", Name: name}, Op: events.OpUpsert,
		ExpectedSequence: expected, Revision: rev, Actor: "test",
		Data: []byte(fmt.Sprintf(`{"type":"Mesh","name":%q,"creationTime":"2026-01-01T00:00:00Z","modificationTime":"2026-01-01T00:00:00Z"}`, name)),
	}
}

func waitFor(t *testing.T, view *state.State, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := view.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
}

// The runner catches up with an existing log before Start returns, follows new events, and
// resumes without loss when the NATS server goes away and comes back.
func TestRunnerCatchesUpFollowsAndResumes(t *testing.T) {
	dir := t.TempDir()
	srv := startNATS(t, dir, natsd.RandomPort)
	_, portStr, _ := net.SplitHostPort(srv.ClientURL()[len("nats://"):])
	port, _ := strconv.Atoi(portStr)
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	store, err := jsstore.New(ctx, js, jsstore.ScopeConfig("T", scope), "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := store.Append(ctx, meshEvent(fmt.Sprintf("before-%d", i), 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		t.Fatal(err)
	}
	view := state.New(reg)
	runner := projections.NewRunner("state", store, view, slog.New(slog.DiscardHandler))
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = runner.Stop(context.Background()) }()
	if got := view.Count("Mesh", ""); got != 3 {
		t.Fatalf("after Start: %d meshes, want 3 (Start must return caught up)", got)
	}

	rec, err := store.Append(ctx, meshEvent("live", 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, view, rec.Sequence)
	if _, ok := view.Get("Mesh", "", "live"); !ok {
		t.Fatal("followed event missing")
	}

	// Take the server away and bring it back on the same port and directory.
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	srv2 := startNATS(t, dir, port)
	defer func() { _ = srv2.Stop(context.Background()) }()
	var last events.Record
	deadline := time.Now().Add(20 * time.Second)
	for {
		last, err = store.Append(ctx, meshEvent("after-restart", 1, 0))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the client reconnects in the background
	}
	if err != nil {
		t.Fatalf("append after restart: %v", err)
	}
	waitFor(t, view, last.Sequence)
	if got := view.Count("Mesh", ""); got != 5 {
		t.Fatalf("after restart: %d meshes, want 5", got)
	}
	if err := runner.Err(); err != nil {
		t.Fatalf("runner stopped: %v", err)
	}
}

// A tombstone removes the resource; applying it keeps the sequence moving.
func TestStateAppliesTombstones(t *testing.T) {
	reg, _ := resources.NewRegistry(core.Descriptors()...)
	view := state.New(reg)
	up := meshEvent("m", 1, 0)
	if err := view.Apply(events.Record{Key: up.Key, Sequence: 1, Event: events.Event{Type: events.TypeResourceUpserted, Revision: 1, Data: up.Data}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := view.Get("Mesh", "", "m"); !ok {
		t.Fatal("upsert not applied")
	}
	if err := view.Apply(events.Record{Key: up.Key, Sequence: 2, Event: events.Event{Type: events.TypeResourceDeleted, Revision: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := view.Get("Mesh", "", "m"); ok || view.Sequence() != 2 {
		t.Fatalf("tombstone not applied: seq %d", view.Sequence())
	}
	// An event of a type this CP does not know advances the sequence but stays out.
	if err := view.Apply(events.Record{Key: events.Key{Scope: scope, Type: "FutureType", Name: "x"}, Sequence: 3,
		Event: events.Event{Type: events.TypeResourceUpserted, Revision: 1, Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if view.Sequence() != 3 || view.Count("FutureType", "") != 0 {
		t.Fatal("unknown type handling")
	}
}
