package state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/natsd"
)

var benchScope = events.ZoneScope("default")

// logWith returns a store holding n Dataplane events over 1000 resources.
func logWith(tb testing.TB, n int) events.Store {
	tb.Helper()
	cfg := natsd.DefaultConfig()
	cfg.Port, cfg.StoreDir, cfg.SyncAlways = natsd.RandomPort, tb.TempDir(), false // setup speed only
	log := slog.New(slog.DiscardHandler)
	srv, err := natsd.New(cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Stop(context.Background()) })
	nc, err := srv.Connect(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	store, err := jsstore.New(ctx, js, jsstore.ScopeConfig("B", benchScope), "bench", log)
	if err != nil {
		tb.Fatal(err)
	}
	last := map[string]events.Record{}
	for i := range n {
		name := fmt.Sprintf("dp-%d", i%1000)
		prev := last[name]
		rec, err := store.Append(ctx, events.Change{
			Key: events.Key{Scope: benchScope, Type: "Dataplane", Mesh: "default", Name: name}, Op: events.OpUpsert,
			ExpectedSequence: prev.Sequence, Revision: prev.Event.Revision + 1, Actor: "bench",
			Data: fmt.Appendf(nil, `{"type":"Dataplane","mesh":"default","name":%q,"creationTime":"2026-01-01T00:00:00Z","modificationTime":"2026-01-01T00:00:00Z","networking":{"address":"10.0.0.1","inbound":[{"port":%d,"tags":{"kuma.io/service":"svc"}}]}}`, name, 1000+i%5000),
		})
		if err != nil {
			tb.Fatal(err)
		}
		last[name] = rec
	}
	return store
}

func registry(tb testing.TB) *resources.Registry {
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

// A checkpoint written and read back gives the same model.
func TestCheckpointRoundTrip(t *testing.T) {
	store := logWith(t, 300)
	reg := registry(t)
	live := state.New(reg)
	if _, err := store.Read(context.Background(), 1, live.Apply); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := live.WriteCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	loaded := state.New(reg)
	seq, id, err := loaded.ReadCheckpoint(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if seq != live.Sequence() || id == "" {
		t.Fatalf("checkpoint at %d (%q), live at %d", seq, id, live.Sequence())
	}
	render := func(v *state.State) map[string]string {
		out := map[string]string{}
		for _, e := range v.List("Dataplane", state.Filter{}) {
			b, err := json.Marshal(e.Resource)
			if err != nil {
				t.Fatal(err)
			}
			out[e.Key.Name] = fmt.Sprintf("%d/%d/%s/%s", e.Sequence, e.Revision, e.Actor, b)
		}
		return out
	}
	if diff := cmp.Diff(render(live), render(loaded)); diff != "" {
		t.Fatalf("loaded checkpoint differs (-live +loaded):\n%s", diff)
	}
}

// restartSizesEnv lists the log sizes of BenchmarkRestart, e.g. "1000,10000,100000"; the
// default keeps CI's smoke run short. docs/audit.md records a run with larger logs.
const restartSizesEnv = "JETMESH_BENCH_RESTART_EVENTS"

func restartSizes(b *testing.B) []int {
	v := os.Getenv(restartSizesEnv)
	if v == "" {
		return []int{1000, 10000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 200 {
			b.Fatalf("%s=%q: want sizes of at least 200, comma-separated", restartSizesEnv, v)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkRestart measures bringing the read model up to date on start: replaying the whole
// log versus loading a checkpoint taken 100 events before the end and replaying the rest. The
// model holds 1000 live resources whatever the log size, as in a mesh whose dataplanes change
// often: the replay grows with the log, the checkpoint with the model.
func BenchmarkRestart(b *testing.B) {
	for _, n := range restartSizes(b) {
		store := logWith(b, n)
		reg := registry(b)
		ctx := context.Background()
		b.Run(fmt.Sprintf("replay/events=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := store.Read(ctx, 1, state.New(reg).Apply); err != nil {
					b.Fatal(err)
				}
			}
		})
		base := state.New(reg)
		stop := uint64(n - 100)
		if _, err := store.Read(ctx, 1, func(r events.Record) error {
			if r.Sequence > stop {
				return nil
			}
			return base.Apply(r)
		}); err != nil {
			b.Fatal(err)
		}
		var cp bytes.Buffer
		if err := base.WriteCheckpoint(&cp); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("checkpoint/events=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				v := state.New(reg)
				seq, _, err := v.ReadCheckpoint(bytes.NewReader(cp.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := store.Read(ctx, seq+1, v.Apply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
