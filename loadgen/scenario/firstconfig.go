package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// FirstConfig measures how long a proxy waits for its complete config (LDS, CDS, and EDS
// for every cluster CDS named, with endpoints for its outbounds) after opening its stream:
// first for N proxies connecting together (Ramp at a time), then for Joins dataplanes
// created and connected one at a time while the N stay connected.
func FirstConfig(ctx context.Context, env *Env) (*stats.Report, error) {
	t, stop, err := env.target(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	s, err := openSession(ctx, env, t, env.Opts.N)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	r := &stats.Report{Scenario: "first-config", Header: stats.SummaryHeader}
	lat, all, err := s.connectAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := s.settle(ctx); err != nil {
		return nil, err
	}
	joins, err := s.joins(ctx, env.Opts.Joins)
	if err != nil {
		return nil, err
	}
	fc, js := stats.Summarize(lat), stats.Summarize(joins)
	r.Rows = [][]string{fc.Row("first config, N connecting"), js.Row("first config, one joining")}
	r.Set(fc.Fields("first_config"))
	r.Set(js.Fields("join"))
	r.Set(map[string]any{"n": env.Opts.N, "all_configured_ms": stats.Ms(all), "setup_ms": stats.Ms(s.setupTook),
		"ramp": env.Opts.Ramp, "outbounds": env.Opts.Outbounds, "spread": env.Opts.Spread})
	r.Notes = append(r.Notes,
		fmt.Sprintf("%d proxies configured in %s (%d connecting at once); %d dataplanes created in %s",
			env.Opts.N, all.Round(time.Millisecond), env.Opts.Ramp, env.Opts.N, s.setupTook.Round(time.Millisecond)),
		"latency = ADS stream open -> LDS+CDS+EDS held for every outbound (with endpoints)")
	s.health(r)
	return r, nil
}

// joins creates and connects k extra dataplanes one after the other.
func (s *session) joins(ctx context.Context, k int) ([]time.Duration, error) {
	var out []time.Duration
	for j := range k {
		i := s.topo.N + j
		d, err := s.join(ctx, fmt.Sprintf("join-%05d", j), i)
		if err != nil {
			return out, fmt.Errorf("join %d: %w", j, err)
		}
		out = append(out, d)
	}
	return out, nil
}
