package manager_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/services/manager"
)

// A new mesh gets Kuma's initial policies with Kuma's names and values, attributed to the
// control plane and correlated with the mesh's creation; skipCreatingInitialPolicies is honoured.
func TestInitialPolicies(t *testing.T) {
	f := newFixture(t)
	f.mgr.InitialPolicies = true
	for _, doc := range []string{
		`{"type":"Mesh","name":"demo"}`,
		`{"type":"Mesh","name":"no-retry","skipCreatingInitialPolicies":["MeshRetry"]}`,
		`{"type":"Mesh","name":"bare","skipCreatingInitialPolicies":["*"]}`,
	} {
		if err := f.apply(t, doc); err != nil {
			t.Fatal(err)
		}
	}
	names := func(mesh string) []string {
		var out []string
		for _, typ := range []string{"MeshTimeout", "MeshRetry", "MeshCircuitBreaker"} {
			for _, e := range f.view.List(typ, state.Filter{Mesh: mesh}) {
				out = append(out, typ+"/"+e.Key.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	want := []string{"MeshCircuitBreaker/mesh-circuit-breaker-all-demo", "MeshRetry/mesh-retry-all-demo",
		"MeshTimeout/mesh-gateways-timeout-all-demo", "MeshTimeout/mesh-timeout-all-demo"}
	if got := names("demo"); !slices.Equal(got, want) {
		t.Errorf("demo: got %v, want %v", got, want)
	}
	if got := names("no-retry"); len(got) != 3 || slices.Contains(got, "MeshRetry/mesh-retry-all-no-retry") {
		t.Errorf("no-retry: got %v", got)
	}
	if got := names("bare"); len(got) != 0 {
		t.Errorf("bare: got %v", got)
	}

	e, ok := f.view.Get("MeshTimeout", "demo", "mesh-timeout-all-demo")
	if !ok {
		t.Fatal("mesh-timeout-all-demo missing")
	}
	spec, _ := json.Marshal(e.Resource.Spec)
	var s struct {
		To []struct {
			Default struct {
				ConnectionTimeout string `json:"connectionTimeout"`
				HTTP              struct {
					RequestTimeout string `json:"requestTimeout"`
				} `json:"http"`
			} `json:"default"`
		} `json:"to"`
	}
	if err := json.Unmarshal(spec, &s); err != nil || len(s.To) != 1 ||
		s.To[0].Default.ConnectionTimeout != "5s" || s.To[0].Default.HTTP.RequestTimeout != "15s" {
		t.Errorf("mesh-timeout-all-demo spec = %s (%v)", spec, err)
	}

	hist, err := f.store.History(context.Background(), f.mgr.Key(e.Resource.Desc, "demo", "mesh-timeout-all-demo"))
	if err != nil || len(hist) != 1 {
		t.Fatalf("history: %v %v", hist, err)
	}
	meshDesc, _ := f.reg.ByName(manager.MeshType)
	meshHist, err := f.store.History(context.Background(), f.mgr.Key(meshDesc, "", "demo"))
	if err != nil || len(meshHist) != 1 {
		t.Fatalf("mesh history: %v %v", meshHist, err)
	}
	if ev := hist[0].Event; ev.Actor != "system:control-plane" || ev.CorrelationID != meshHist[0].Event.CorrelationID {
		t.Errorf("initial policy event actor=%q correlation=%q, mesh correlation %q",
			ev.Actor, ev.CorrelationID, meshHist[0].Event.CorrelationID)
	}
}
