package manager_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/natsd"
	"github.com/jetmesh/jetmesh/xds/policies"
)

var scope = events.ZoneScope("default")

type fixture struct {
	reg   *resources.Registry
	store events.Store
	view  *state.State
	mgr   *manager.Manager
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := natsd.DefaultConfig()
	cfg.Port, cfg.StoreDir = natsd.RandomPort, t.TempDir()
	log := slog.New(slog.DiscardHandler)
	srv, err := natsd.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	nc, err := srv.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	store, err := jsstore.New(ctx, js, jsstore.ScopeConfig("T", scope), "test", log)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		t.Fatal(err)
	}
	view := state.New(reg)
	runner := projections.NewRunner("state", store, view, log)
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Stop(context.Background()) })
	env := resources.Env{Mode: resources.ModeZone, Zone: "default", Environment: "universal"}
	return &fixture{reg: reg, store: store, view: view, mgr: manager.New(reg, store, view, env, scope, log)}
}

func (f *fixture) apply(t *testing.T, doc string) error {
	t.Helper()
	r, err := f.reg.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	_, err = f.mgr.Apply(context.Background(), r, manager.Who{Actor: "test"})
	return err
}

// snapshot renders a read model as comparable data: every live resource with its revision,
// sequence and JSON.
func snapshot(t *testing.T, reg *resources.Registry, v *state.State) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range reg.All() {
		for _, e := range v.List(d.Name, state.Filter{}) {
			b, err := json.Marshal(e.Resource)
			if err != nil {
				t.Fatal(err)
			}
			out[e.Key.Subject()] = fmt.Sprintf("rev=%d seq=%d %s", e.Revision, e.Sequence, b)
		}
	}
	return out
}

// Rebuilding the read model from sequence 1 gives exactly the live state, after thousands of
// random operations including deletes, re-creates and cascading mesh deletes.
func TestRebuildEqualsLive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	meshes := []string{"m0", "m1", "m2"}
	const ops = 2000
	for i := range ops {
		mesh := meshes[rng.IntN(len(meshes))]
		name := fmt.Sprintf("r%d", rng.IntN(12))
		var err error
		switch op := rng.IntN(10); {
		case op < 1:
			err = f.apply(t, fmt.Sprintf(`{"type":"Mesh","name":%q,"labels":{"v":"%d"}}`, mesh, i))
		case op < 5:
			err = f.apply(t, fmt.Sprintf(`{"type":"Dataplane","mesh":%q,"name":%q,"networking":{"address":"10.0.0.%d",
 "inbound":[{"port":%d,"tags":{"kuma.io/service":"svc-%d"}}]}}`, mesh, name, rng.IntN(250)+1, 1000+rng.IntN(1000), rng.IntN(5)))
		case op < 7:
			err = f.apply(t, fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":%q,"name":%q,"spec":{"targetRef":{"kind":"Mesh"},
 "from":[{"targetRef":{"kind":"Mesh"},"default":{"action":%q}}]}}`, mesh, name, []string{"Allow", "Deny"}[rng.IntN(2)]))
		case op < 9:
			desc, _ := f.reg.ByName([]string{"Dataplane", "MeshTrafficPermission"}[rng.IntN(2)])
			err = f.mgr.Delete(ctx, desc, mesh, name, manager.Who{Actor: "test"})
		default:
			desc, _ := f.reg.ByName("Mesh")
			err = f.mgr.Delete(ctx, desc, "", mesh, manager.Who{Actor: "test"})
		}
		var mnf *manager.MeshNotFoundError
		var verr *resources.ValidationError
		if err != nil && !errors.Is(err, events.ErrNotFound) && !errors.As(err, &mnf) && !errors.As(err, &verr) {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	live := snapshot(t, f.reg, f.view)
	if len(live) == 0 {
		t.Fatal("the random operations left nothing alive; the test would prove nothing")
	}

	rebuilt := state.New(f.reg)
	last, err := f.store.Read(ctx, 1, rebuilt.Apply)
	if err != nil {
		t.Fatal(err)
	}
	if last != f.view.Sequence() {
		t.Fatalf("replay ended at %d, live is at %d", last, f.view.Sequence())
	}
	if diff := cmp.Diff(live, snapshot(t, f.reg, rebuilt)); diff != "" {
		t.Fatalf("rebuilt state differs from live (-live +rebuilt):\n%s", diff)
	}
	t.Logf("%d operations, %d live resources, %d events", ops, len(live), last)
}
