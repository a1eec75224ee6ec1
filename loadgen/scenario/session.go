package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/proxy"
	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// session is one simulated mesh on one control plane: the mesh and N dataplanes created
// through the API, and a fleet of proxies. close removes everything it created.
type session struct {
	env    *Env
	target Target
	topo   Topology
	api    *kumaapi.Client
	// global takes the mesh and policy writes: the same client as api on a single control
	// plane, the global's in multi-zone (a zone refuses them; its proxies are measured).
	global *kumaapi.Client
	fleet  *proxy.Fleet
	w      *watch

	mu      sync.Mutex
	proxies []*proxy.Proxy // by dataplane index, once connected
	// extraProxies are connected beyond the N (counted in the health figures).
	extraProxies []*proxy.Proxy
	extraDPs     []string // dataplanes created beyond the N
	policies     []string // MeshTrafficPermissions created

	setupTook time.Duration
}

// openSession creates the mesh (builtin mTLS, so traffic permissions take effect) and the
// N dataplanes with C concurrent API clients.
func openSession(ctx context.Context, env *Env, t Target, n int) (*session, error) {
	return openZoneSession(ctx, env, t, n, nil)
}

// openZoneSession is openSession on a zone control plane whose mesh and policies are written
// on the global (nil: on the target itself). It waits until the mesh reached the target and
// every control plane in also (the other zones) before creating the dataplanes.
func openZoneSession(ctx context.Context, env *Env, t Target, n int, global *kumaapi.Client, also ...*kumaapi.Client) (*session, error) {
	topo := env.Opts.topology(n)
	s := &session{env: env, target: t, topo: topo, api: env.client(t), w: &watch{}, proxies: make([]*proxy.Proxy, n)}
	s.global = s.api
	if global != nil {
		s.global = global
	}
	fleet, err := proxy.NewFleet(env.fleetConfig(t), s.w.observe, env.Log)
	if err != nil {
		return nil, err
	}
	s.fleet = fleet
	if _, err := s.api.Index(ctx); err != nil {
		_ = fleet.Close()
		return nil, fmt.Errorf("control plane API: %w", err)
	}
	start := time.Now()
	if err := s.global.PutMesh(ctx, kumaapi.Mesh{Name: topo.Mesh, MTLS: kumaapi.BuiltinMTLS()}); err != nil {
		_ = fleet.Close()
		return nil, fmt.Errorf("create mesh: %w", err)
	}
	if global != nil {
		for _, c := range append([]*kumaapi.Client{s.api}, also...) {
			if err := waitMesh(ctx, c, topo.Mesh, env.Opts.ChangeTimeout); err != nil {
				s.close(ctx)
				return nil, err
			}
		}
	}
	err = parallel(ctx, n, env.Opts.Concurrency, func(ctx context.Context, i int) error {
		return s.api.PutDataplane(ctx, topo.Dataplane(i, 0))
	})
	s.setupTook = time.Since(start)
	if err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("create dataplanes: %w", err)
	}
	env.Log.Info("mesh created", "mesh", topo.Mesh, "dataplanes", n, "took", s.setupTook)
	return s, nil
}

// connectAll connects the N proxies, at most Ramp of them configuring at once, and returns
// each one's stream-open-to-complete-config latency and the time until all were complete.
func (s *session) connectAll(ctx context.Context) ([]time.Duration, time.Duration, error) {
	n := s.topo.N
	complete := s.w.sink(n)
	defer s.w.unsink()
	start := time.Now()
	var lat []time.Duration
	next, inflight := 0, 0
	for len(lat) < n {
		for inflight < s.env.Opts.Ramp && next < n {
			p, err := s.fleet.Connect(s.topo.Identity(next))
			if err != nil {
				return lat, time.Since(start), err
			}
			s.mu.Lock()
			s.proxies[next] = p
			s.mu.Unlock()
			next++
			inflight++
		}
		select {
		case p := <-complete:
			inflight--
			lat = append(lat, p.CompleteAt().Sub(p.OpenedAt()))
		case <-ctx.Done():
			return lat, time.Since(start), fmt.Errorf("%d of %d proxies configured: %w", len(lat), n, ctx.Err())
		}
	}
	return lat, time.Since(start), nil
}

// settle waits out Settle, a measurement choice: changes are then made to a control plane
// in its steady state rather than while it writes the insights of proxies that just came.
func (s *session) settle(ctx context.Context) error {
	if s.env.Opts.Settle <= 0 {
		return nil
	}
	s.env.Log.Info("settling", "for", s.env.Opts.Settle)
	select {
	case <-time.After(s.env.Opts.Settle):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join creates one more dataplane through the API and connects its proxy, returning the
// stream-open-to-complete-config latency.
func (s *session) join(ctx context.Context, name string, i int) (time.Duration, error) {
	t := s.topo
	dp := t.dataplane(name, Address(i, 0), t.ServiceOf(i), t.OutboundsOf(i))
	s.mu.Lock()
	s.extraDPs = append(s.extraDPs, name)
	s.mu.Unlock()
	if err := s.api.PutDataplane(ctx, dp); err != nil {
		return 0, fmt.Errorf("create dataplane %s: %w", name, err)
	}
	id := t.Identity(i)
	id.Name = name
	complete := s.w.sink(1)
	defer s.w.unsink()
	p, err := s.fleet.Connect(id)
	if err != nil {
		return 0, err
	}
	select {
	case <-complete:
		return p.CompleteAt().Sub(p.OpenedAt()), nil
	case <-p.Done():
		return 0, fmt.Errorf("proxy %s: %w", p.NodeID(), p.Err())
	case <-ctx.Done():
		return 0, fmt.Errorf("proxy %s never configured: %w", p.NodeID(), ctx.Err())
	}
}

func (s *session) proxy(i int) *proxy.Proxy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proxies[i]
}

func (s *session) proxiesOf(idx []int) []*proxy.Proxy {
	out := make([]*proxy.Proxy, 0, len(idx))
	for _, i := range idx {
		if p := s.proxy(i); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// change applies one change through the API with tracking armed on the affected proxies,
// and returns when the last of them held it (relative to the API's response), each proxy's
// latency and the API call's own latency.
func (s *session) change(ctx context.Context, affected []*proxy.Proxy, typeURL string, cond func(*proxy.Proxy) bool,
	apply func(context.Context) error) (last time.Duration, per []time.Duration, apiTook time.Duration, err error) {
	tr := s.w.arm(affected, typeURL, cond)
	defer s.w.disarm(tr)
	t0 := time.Now()
	if err := apply(ctx); err != nil {
		return 0, nil, 0, err
	}
	t1 := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.env.Opts.ChangeTimeout)
	defer cancel()
	times, err := tr.wait(wctx)
	return latest(times, t1), each(times, t1), t1.Sub(t0), err
}

// close disconnects the proxies and deletes what the session created, even when ctx has
// ended (the scenario's time bound must not leave the mesh behind).
func (s *session) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := s.fleet.Close(); err != nil {
		s.env.Log.Warn("close proxies failed", "err", err)
	}
	mesh := s.topo.Mesh
	for _, name := range s.policies {
		if err := s.global.DeletePolicy(cctx, "meshtrafficpermissions", mesh, name); err != nil {
			s.env.Log.Warn("delete policy failed", "name", name, "err", err)
		}
	}
	names := append([]string(nil), s.extraDPs...)
	for i := range s.topo.N {
		names = append(names, DataplaneName(i))
	}
	deleteAll(cctx, s.env, s.api, mesh, names)
	if s.global != s.api {
		// The global refuses to delete a mesh with dataplanes; the zone's deletions reach it
		// through replication, a moment later.
		wctx, cancelWait := context.WithTimeout(cctx, time.Minute)
		err := poll(wctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
			n, err := s.global.ListDataplanes(ctx, mesh, 1)
			return n == 0, err
		}, "zone's dataplanes deleted on the global")
		cancelWait()
		if err != nil {
			s.env.Log.Warn("dataplanes remain on the global", "mesh", mesh, "err", err)
		}
	}
	if err := s.global.DeleteMesh(cctx, mesh); err != nil {
		s.env.Log.Warn("delete mesh failed", "mesh", mesh, "err", err)
	}
	s.api.Close()
}

// waitMesh polls a (zone) control plane until the mesh, written elsewhere, has reached it.
func waitMesh(ctx context.Context, c *kumaapi.Client, mesh string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return poll(ctx, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, err := c.GetMesh(ctx, mesh)
		if errors.Is(err, kumaapi.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}, fmt.Sprintf("mesh %s on the zone", mesh))
}

// poll calls cond every step until it holds, fails, or ctx ends (the deadline-bound wait for
// state that has no notification).
func poll(ctx context.Context, step time.Duration, cond func(context.Context) (bool, error), what string) error {
	tick := time.NewTicker(step)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
	}
}

// deleteAll deletes dataplanes, carrying on past failures so that one does not leave the
// rest behind.
func deleteAll(ctx context.Context, env *Env, api *kumaapi.Client, mesh string, names []string) {
	var failed atomic.Int64
	_ = parallel(ctx, len(names), env.Opts.Concurrency, func(ctx context.Context, i int) error {
		if err := api.DeleteDataplane(ctx, mesh, names[i]); err != nil {
			if failed.Add(1) == 1 {
				env.Log.Warn("delete dataplane failed", "name", names[i], "err", err)
			}
		}
		return nil
	})
	if n := failed.Load(); n > 0 {
		env.Log.Warn("some dataplanes could not be deleted", "mesh", mesh, "failed", n)
	}
}

// fleetErrors counts proxies whose stream ended with an error, and NACKs.
func (s *session) fleetErrors() (ended, nacks int, lastNack string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range append(slices.Clone(s.proxies), s.extraProxies...) {
		if p == nil {
			continue
		}
		if p.Err() != nil {
			ended++
		}
		_, n, last := p.Counts()
		nacks += n
		if last != "" {
			lastNack = last
		}
	}
	return ended, nacks, lastNack
}

// health adds the fleet's error counts to a report.
func (s *session) health(r *stats.Report) {
	ended, nacks, last := s.fleetErrors()
	r.Set(map[string]any{"streams_failed": ended, "nacks": nacks, "conns": s.fleet.Conns()})
	if ended > 0 || nacks > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("WARNING: %d streams failed, %d NACKs (last: %s)", ended, nacks, last))
	}
}

var errNoPID = errors.New("the control plane's pid is unknown: pass --cp-pid, or let the tool start it")
