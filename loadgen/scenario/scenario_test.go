package scenario

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

func testEnv(t *testing.T, cp *cptest.CP, delta bool) *Env {
	t.Helper()
	o := DefaultOptions()
	o.API, o.XDS, o.CAFile, o.CPPID = cp.URL, cp.DPAddress, cp.CACertFile, os.Getpid()
	o.N, o.Spread, o.Outbounds, o.Ramp, o.Joins, o.Changes, o.Concurrency = 24, 3, 2, 8, 2, 3, 4
	o.PerConn, o.Delta, o.ValidateResources = 5, delta, true
	o.Duration, o.Timeout, o.ChangeTimeout = 0, 2*time.Minute, 30*time.Second
	o.Sizes, o.SVG = []int{12, 24}, filepath.Join(t.TempDir(), "sweep.svg")
	return &Env{Opts: o, Out: io.Discard, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

func num(t *testing.T, f map[string]any, key string) float64 {
	t.Helper()
	switch v := f[key].(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case float64:
		return v
	}
	t.Fatalf("field %s = %#v, not a number (fields %v)", key, f[key], f)
	return 0
}

// ordered checks min-free summaries: 0 <= p50 <= p90 <= p99 <= max.
func ordered(t *testing.T, f map[string]any, prefix string) {
	t.Helper()
	p50, p90, p99, mx := num(t, f, prefix+"_p50_ms"), num(t, f, prefix+"_p90_ms"), num(t, f, prefix+"_p99_ms"), num(t, f, prefix+"_max_ms")
	if !(0 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= mx) || mx > 60_000 {
		t.Errorf("%s percentiles not sane: p50 %v p90 %v p99 %v max %v", prefix, p50, p90, p99, mx)
	}
}

func healthy(t *testing.T, f map[string]any) {
	t.Helper()
	if num(t, f, "streams_failed") != 0 || num(t, f, "nacks") != 0 {
		t.Errorf("proxies failed: %v streams ended, %v NACKs", f["streams_failed"], f["nacks"])
	}
}

// cleanedUp checks the scenario removed its mesh.
func cleanedUp(t *testing.T, cp *cptest.CP, mesh string) {
	t.Helper()
	c := kumaapi.New(cp.URL, 1)
	defer c.Close()
	if _, err := c.ListDataplanes(context.Background(), mesh, 1); !errors.Is(err, kumaapi.ErrNotFound) {
		// Listing a missing mesh's dataplanes is 404 on Kuma and jetmesh; an empty list
		// would mean the mesh survived.
		total, _ := c.ListDataplanes(context.Background(), mesh, 1)
		t.Errorf("mesh %s left behind (list error %v, %d dataplanes)", mesh, err, total)
	}
}

func TestScenariosAgainstInProcessCP(t *testing.T) {
	cp := cptest.Start(t, "")
	for _, delta := range []bool{false, true} {
		name := "sotw"
		if delta {
			name = "delta"
		}
		t.Run(name, func(t *testing.T) {
			env := testEnv(t, cp, delta)
			ctx := context.Background()
			var out strings.Builder
			env.Out = &out

			r, err := Run(ctx, "first-config", env)
			if err != nil {
				t.Fatal(err)
			}
			f := r.Fields
			if num(t, f, "first_config_count") != 24 || num(t, f, "join_count") != 2 {
				t.Errorf("configured %v of 24 and %v of 2 joins", f["first_config_count"], f["join_count"])
			}
			ordered(t, f, "first_config")
			ordered(t, f, "join")
			if all, p99 := num(t, f, "all_configured_ms"), num(t, f, "first_config_max_ms"); all < p99 {
				t.Errorf("all configured after %vms, before the slowest proxy (%vms)", all, p99)
			}
			healthy(t, f)
			cleanedUp(t, cp, env.Opts.Mesh)

			for _, kind := range []string{"endpoints", "mtp"} {
				env.Opts.Kind = kind
				r, err = Run(ctx, "propagation", env)
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				f = r.Fields
				wantAffected := 3.0 // spread: the service's providers
				if kind == "endpoints" {
					wantAffected = 6 // outbounds x spread: the service's consumers
				}
				if num(t, f, "changes") != 3 || num(t, f, "affected") != wantAffected || num(t, f, "change_each_count") != 3*wantAffected {
					t.Errorf("%s: %v changes reaching %v proxies (%v samples), want 3 reaching %v", kind, f["changes"], f["affected"], f["change_each_count"], wantAffected)
				}
				ordered(t, f, "change_last")
				ordered(t, f, "change_each")
				healthy(t, f)
				cleanedUp(t, cp, env.Opts.Mesh)
			}

			r, err = Run(ctx, "churn", env)
			if err != nil {
				t.Fatal(err)
			}
			if f = r.Fields; num(t, f, "join_last_count") != 3 || num(t, f, "leave_last_count") != 3 || num(t, f, "consumers") != 6 {
				t.Errorf("churn: %v", f)
			}
			ordered(t, f, "join_last")
			ordered(t, f, "leave_last")
			healthy(t, f)
			cleanedUp(t, cp, env.Opts.Mesh)

			if !strings.Contains(out.String(), `"scenario":"churn"`) || !strings.Contains(out.String(), "p99 ms") {
				t.Errorf("output lacks the table or the JSON line:\n%s", out.String())
			}
		})
	}
}

func TestAPIResourcesAndSweep(t *testing.T) {
	cp := cptest.Start(t, "")
	env := testEnv(t, cp, false)
	ctx := context.Background()
	env.Opts.Duration = 300 * time.Millisecond // the measured window of the api phases
	r, err := Run(ctx, "api", env)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Fields; num(t, f, "writes_per_s") <= 0 || num(t, f, "reads_per_s") <= 0 || num(t, f, "write_count") < 1 {
		t.Errorf("api: %v", f)
	}
	cleanedUp(t, cp, env.Opts.Mesh)

	env.Opts.Duration = 0
	r, err = Run(ctx, "resources", env)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Fields; num(t, f, "rss_after_bytes") <= 0 || num(t, f, "connect_cpu_s") < 0 {
		t.Errorf("resources: %v", f)
	}
	cleanedUp(t, cp, env.Opts.Mesh)

	r, err = Run(ctx, "sweep", env)
	if err != nil {
		t.Fatal(err)
	}
	points, _ := r.Fields["points"].([]sweepPoint)
	if len(points) != 2 || points[0].N != 12 || points[1].N != 24 {
		t.Fatalf("sweep points: %+v", r.Fields["points"])
	}
	for _, p := range points {
		// The affected proxies per change do not grow with the mesh.
		if p.EndpointsAff != 6 || p.MTPAff != 3 || p.EndpointsP99 <= 0 && p.MTPP99 <= 0 {
			t.Errorf("sweep point %+v", p)
		}
	}
	svg, err := os.ReadFile(env.Opts.SVG)
	if err != nil || !strings.Contains(string(svg), "<polyline") {
		t.Errorf("sweep SVG: %v", err)
	}
	cleanedUp(t, cp, env.Opts.Mesh)
	line, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	replotted := filepath.Join(t.TempDir(), "again.svg")
	if err := PlotSweep(line, replotted); err != nil {
		t.Fatal(err)
	}
	if again, err := os.ReadFile(replotted); err != nil || strings.Count(string(again), "<polyline") != 4 {
		t.Errorf("replotted SVG: %v", err)
	}

}

func TestTopology(t *testing.T) {
	for _, n := range []int{1000, 5000, 10000} {
		topo := Topology{Mesh: "m", N: n, Spread: 10, Outbounds: 2}
		if got := len(topo.Providers(7)); got != 10 {
			t.Errorf("n=%d: %d providers, want 10", n, got)
		}
		if got := len(topo.Consumers(7)); got != 20 {
			t.Errorf("n=%d: %d consumers, want 20", n, got)
		}
	}
	topo := Topology{Mesh: "m", N: 1, Spread: 10, Outbounds: 2}
	if got := topo.OutboundsOf(0); len(got) != 0 {
		t.Errorf("a lone service consumes %v", got)
	}
	if Address(70000, 0) == Address(70000, 1) || Address(1, 0) == Address(257, 0) {
		t.Error("addresses collide")
	}
}
