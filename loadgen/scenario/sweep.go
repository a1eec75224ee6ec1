package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/plot"
	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// sweepPoint is what the sweep measures at one mesh size.
type sweepPoint struct {
	N            int     `json:"n"`
	AllConfMs    float64 `json:"all_configured_ms"`
	FirstP99Ms   float64 `json:"first_config_p99_ms"`
	JoinP99Ms    float64 `json:"join_p99_ms"`
	EndpointsP50 float64 `json:"endpoints_change_p50_ms"`
	EndpointsP99 float64 `json:"endpoints_change_p99_ms"`
	EndpointsAff int     `json:"endpoints_affected"`
	MTPP50       float64 `json:"mtp_change_p50_ms"`
	MTPP99       float64 `json:"mtp_change_p99_ms"`
	MTPAff       int     `json:"mtp_affected"`
	RSSPerDP     int64   `json:"rss_per_dp_bytes,omitempty"`
	Load         string  `json:"load"`
}

// Sweep measures, for each mesh size in Sizes, the first config, then K changes of each kind
// to one service (whose affected proxies stay the same in number whatever the size), so the
// curve shows whether a change costs in proportion to the proxies it affects or to the mesh.
// A control plane the tool starts is started afresh for each size. It writes an SVG plot.
func Sweep(ctx context.Context, env *Env) (*stats.Report, error) {
	var points []sweepPoint
	for _, n := range env.Opts.Sizes {
		p, err := sweepOne(ctx, env, n)
		if err != nil {
			return nil, fmt.Errorf("%d dataplanes: %w", n, err)
		}
		env.Log.Info("sweep point", "n", n, "endpointsP99ms", p.EndpointsP99, "mtpP99ms", p.MTPP99)
		points = append(points, p)
	}
	r := &stats.Report{Scenario: "sweep", Header: []string{"dataplanes", "all configured ms", "first p99 ms", "join p99 ms",
		"EDS change p50/p99 ms (affected)", "MTP change p50/p99 ms (affected)", "RSS/DP KiB", "load"}}
	for _, p := range points {
		r.Rows = append(r.Rows, []string{fmt.Sprint(p.N), fmt.Sprintf("%.0f", p.AllConfMs), fmt.Sprintf("%.1f", p.FirstP99Ms),
			fmt.Sprintf("%.1f", p.JoinP99Ms),
			fmt.Sprintf("%.1f / %.1f (%d)", p.EndpointsP50, p.EndpointsP99, p.EndpointsAff),
			fmt.Sprintf("%.1f / %.1f (%d)", p.MTPP50, p.MTPP99, p.MTPAff),
			fmt.Sprintf("%.1f", float64(p.RSSPerDP)/1024), p.Load})
	}
	r.Set(map[string]any{"points": points, "changes": env.Opts.Changes, "outbounds": env.Opts.Outbounds, "spread": env.Opts.Spread})
	r.Notes = append(r.Notes, "change latency = API response -> last affected proxy holding the change (per change; p50/p99 over K changes)")
	if env.Opts.SVG != "" {
		if err := writeSweepSVG(env.Opts.SVG, points); err != nil {
			return nil, err
		}
		r.Notes = append(r.Notes, "plot written to "+env.Opts.SVG)
	}
	return r, nil
}

func sweepOne(ctx context.Context, env *Env, n int) (sweepPoint, error) {
	p := sweepPoint{N: n, Load: loadAvg()}
	t, stop, err := env.target(ctx)
	if err != nil {
		return p, err
	}
	defer stop()
	s, err := openSession(ctx, env, t, n)
	if err != nil {
		return p, err
	}
	defer s.close(ctx)
	var before usage
	if t.PID != 0 {
		if before, err = readUsage(t.PID); err != nil {
			return p, err
		}
	}
	lat, all, err := s.connectAll(ctx)
	if err != nil {
		return p, fmt.Errorf("connect: %w", err)
	}
	if t.PID != 0 {
		after, err := readUsage(t.PID)
		if err != nil {
			return p, err
		}
		p.RSSPerDP = (after.RSS - before.RSS) / int64(n)
	}
	if err := s.settle(ctx); err != nil {
		return p, err
	}
	joins, err := s.joins(ctx, env.Opts.Joins)
	if err != nil {
		return p, err
	}
	p.AllConfMs, p.FirstP99Ms, p.JoinP99Ms = stats.Ms(all), stats.Ms(stats.Percentile(lat, 99)), stats.Ms(stats.Percentile(joins, 99))
	eds, err := s.propagate(ctx, "endpoints", env.Opts.Changes)
	if err != nil {
		return p, err
	}
	p.EndpointsP50, p.EndpointsP99 = stats.Ms(stats.Percentile(eds.last, 50)), stats.Ms(stats.Percentile(eds.last, 99))
	p.EndpointsAff = eds.affected
	mtp, err := s.propagate(ctx, "mtp", env.Opts.Changes)
	if err != nil {
		return p, err
	}
	p.MTPP50, p.MTPP99, p.MTPAff = stats.Ms(stats.Percentile(mtp.last, 50)), stats.Ms(stats.Percentile(mtp.last, 99)), mtp.affected
	return p, nil
}

// PlotSweep redraws the SVG of a sweep from its JSON line (to re-render without re-running).
func PlotSweep(jsonLine []byte, path string) error {
	var line struct {
		Scenario string       `json:"scenario"`
		Points   []sweepPoint `json:"points"`
	}
	if err := json.Unmarshal(jsonLine, &line); err != nil {
		return fmt.Errorf("sweep JSON line: %w", err)
	}
	if line.Scenario != "sweep" || len(line.Points) == 0 {
		return fmt.Errorf("not a sweep JSON line with points")
	}
	return writeSweepSVG(path, line.Points)
}

func writeSweepSVG(path string, points []sweepPoint) error {
	series := []plot.Series{{Name: "EDS change p50"}, {Name: "EDS change p99"}, {Name: "MTP change p50"}, {Name: "MTP change p99"}}
	for _, p := range points {
		x := float64(p.N)
		series[0].Points = append(series[0].Points, plot.Point{X: x, Y: p.EndpointsP50})
		series[1].Points = append(series[1].Points, plot.Point{X: x, Y: p.EndpointsP99})
		series[2].Points = append(series[2].Points, plot.Point{X: x, Y: p.MTPP50})
		series[3].Points = append(series[3].Points, plot.Point{X: x, Y: p.MTPP99})
	}
	c := plot.Chart{Title: fmt.Sprintf("jetmesh: change -> last affected proxy (%s)", time.Now().UTC().Format("2006-01-02")),
		XLabel: "dataplanes in the mesh (affected proxies per change stay constant)", YLabel: "milliseconds", Series: series}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := c.WriteSVG(f); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Close()
}
