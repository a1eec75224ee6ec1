package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// API measures REST throughput: C clients write dataplanes for Duration, then read them
// (GET by name, and a page of the list) for Duration. The written dataplanes are deleted.
func API(ctx context.Context, env *Env) (*stats.Report, error) {
	t, stop, err := env.target(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	api := env.client(t)
	defer api.Close()
	mesh := env.Opts.Mesh
	if err := api.PutMesh(ctx, kumaapi.Mesh{Name: mesh}); err != nil {
		return nil, fmt.Errorf("create mesh: %w", err)
	}
	topo := env.Opts.topology(1)
	var mu sync.Mutex
	var written []string
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		deleteAll(cctx, env, api, mesh, written)
		if err := api.DeleteMesh(cctx, mesh); err != nil {
			env.Log.Warn("delete mesh failed", "err", err)
		}
	}()
	writes, wTook, err := load(ctx, env.Opts.Concurrency, env.Opts.Duration, func(ctx context.Context, c, seq int) error {
		name := fmt.Sprintf("api-%03d-%06d", c, seq)
		mu.Lock()
		written = append(written, name)
		idx := len(written)
		mu.Unlock()
		return api.PutDataplane(ctx, topo.dataplane(name, Address(idx, 0), idx%50, []int{(idx + 1) % 50}))
	})
	if err != nil {
		return nil, fmt.Errorf("writes: %w", err)
	}
	reads, rTook, err := load(ctx, env.Opts.Concurrency, env.Opts.Duration, func(ctx context.Context, c, seq int) error {
		if seq%10 == 9 {
			_, err := api.ListDataplanes(ctx, mesh, 100)
			return err
		}
		mu.Lock()
		name := written[rand.IntN(len(written))]
		mu.Unlock()
		_, err := api.GetDataplane(ctx, mesh, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reads: %w", err)
	}
	ws, rs := stats.Summarize(writes), stats.Summarize(reads)
	wps, rps := float64(len(writes))/wTook.Seconds(), float64(len(reads))/rTook.Seconds()
	r := &stats.Report{Scenario: "api", Header: append(stats.SummaryHeader, "per second"), Rows: [][]string{
		append(ws.Row("PUT dataplane"), fmt.Sprintf("%.0f", wps)),
		append(rs.Row("GET dataplane (1 in 10: list page)"), fmt.Sprintf("%.0f", rps)),
	}}
	r.Set(ws.Fields("write"))
	r.Set(rs.Fields("read"))
	r.Set(map[string]any{"writes_per_s": int(wps), "reads_per_s": int(rps), "clients": env.Opts.Concurrency,
		"duration_s": env.Opts.Duration.Seconds()})
	r.Notes = append(r.Notes, fmt.Sprintf("%d concurrent clients, %s per phase, keep-alive connections", env.Opts.Concurrency, env.Opts.Duration))
	return r, nil
}

// load runs fn on c clients until d has passed, returning each call's latency and the time
// it really took. The first error stops it.
func load(ctx context.Context, c int, d time.Duration, fn func(ctx context.Context, client, seq int) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var first error
	var wg sync.WaitGroup
	for client := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				t0 := time.Now()
				if err := fn(ctx, client, seq); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					break
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, time.Since(start), first
}
