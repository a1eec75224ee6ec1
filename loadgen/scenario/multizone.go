package scenario

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/proxy"
	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// Zone names of the control planes the tool starts itself.
const (
	ZoneA = "zone-a"
	ZoneB = "zone-b"
)

// MultiZone measures a multi-zone deployment as its users see it, in two parts:
//
//   - global -> zone: N proxies connected to zone A; K MeshTrafficPermissions, each on one
//     service, written on the global's API. Latency: the global's API response -> the last of
//     the service's providers in zone A holding the permission in its listeners (the mesh,
//     written on the global too, has builtin mTLS so the permission shapes the RBAC).
//   - cross-zone endpoint (when there is a zone B): zone B gets a ZoneIngress advertising
//     IngressAddress; one consumer in zone A has outbounds to K services that exist nowhere
//     yet; K times a dataplane of one of them joins zone B. Latency: zone B's API response ->
//     the consumer's EDS for that service listing zone B's ingress. This path includes zone
//     B's ingress updater, which recomputes the ingress's available services on an interval
//     (1 s, as Kuma's KUMA_MULTIZONE_ZONE_INGRESS_UPDATE_INTERVAL), so it is bounded below by
//     that interval's phase, not by the replication alone.
func MultiZone(ctx context.Context, env *Env) (*stats.Report, error) {
	mz, stop, err := env.multiZoneTarget(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	global := kumaapi.New(mz.GlobalAPI, env.Opts.Concurrency*2)
	defer global.Close()
	var zoneB *kumaapi.Client
	var others []*kumaapi.Client
	if len(mz.Zones) > 1 {
		zoneB = env.client(mz.Zones[1])
		defer zoneB.Close()
		others = append(others, zoneB)
	}
	s, err := openZoneSession(ctx, env, mz.Zones[0], env.Opts.N, global, others...)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	if _, _, err := s.connectAll(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := s.settle(ctx); err != nil {
		return nil, err
	}
	res, err := s.propagate(ctx, "mtp", env.Opts.Changes)
	if err != nil {
		return nil, fmt.Errorf("global -> zone: %w", err)
	}
	var xz changeResult
	if zoneB != nil {
		if xz, err = s.crossZone(ctx, zoneB, env.Opts.Changes); err != nil {
			return nil, fmt.Errorf("cross-zone: %w", err)
		}
	}
	r := multiZoneReport(env, res, xz, zoneB != nil)
	s.health(r)
	return r, nil
}

func multiZoneReport(env *Env, res, xz changeResult, crossZone bool) *stats.Report {
	last, per, api := stats.Summarize(res.last), stats.Summarize(res.per), stats.Summarize(res.api)
	r := &stats.Report{Scenario: "multizone", Header: stats.SummaryHeader, Rows: [][]string{
		last.Row("global change -> last zone proxy"), per.Row("global change -> each zone proxy"), api.Row("global API PUT"),
	}}
	r.Set(last.Fields("change_last"))
	r.Set(per.Fields("change_each"))
	r.Set(api.Fields("api"))
	r.Set(map[string]any{"n": env.Opts.N, "kind": "mtp", "changes": len(res.last), "affected": res.affected,
		"outbounds": env.Opts.Outbounds, "spread": env.Opts.Spread, "cross_zone": crossZone})
	r.Notes = append(r.Notes, fmt.Sprintf("%d MeshTrafficPermissions written on the global, each affecting %d of the %d proxies of zone A; latency from the global API's response",
		len(res.last), res.affected, env.Opts.N))
	if !crossZone {
		r.Notes = append(r.Notes, "no zone B (--zone-b-api): cross-zone endpoints not measured")
		return r
	}
	xl, xa, xi, xr := stats.Summarize(xz.last), stats.Summarize(xz.api), stats.Summarize(xz.ingress), stats.Summarize(xz.replication)
	r.Rows = append(r.Rows, xl.Row("zone B join -> zone A consumer EDS"), xi.Row("  of which: join -> zone B ingress offers it"),
		xr.Row("  of which: ingress offers it -> consumer EDS"), xa.Row("zone B API PUT"))
	r.Set(xl.Fields("cross_zone"))
	r.Set(xi.Fields("cross_zone_ingress"))
	r.Set(xr.Fields("cross_zone_replication"))
	r.Set(xa.Fields("cross_zone_api"))
	r.Notes = append(r.Notes, fmt.Sprintf("%d dataplanes joined zone B, each a new service; latency from zone B's API response until zone A's consumer lists zone B's ingress %s (includes zone B's 1 s ingress update interval)",
		len(xz.last), env.Opts.IngressAddress))
	return r
}

// multiZoneTarget returns the global and zones to measure, starting them if none were given.
func (e *Env) multiZoneTarget(ctx context.Context) (MultiZoneTarget, func(), error) {
	o := e.Opts
	if o.GlobalAPI != "" {
		ca := o.ZoneCAFile
		if ca == "" {
			ca = o.CAFile
		}
		mz := MultiZoneTarget{GlobalAPI: o.GlobalAPI, Zones: []Target{{API: o.ZoneAPI, XDS: o.ZoneXDS, CAFile: ca, PID: o.CPPID}}}
		if o.ZoneBAPI != "" {
			mz.Zones = append(mz.Zones, Target{API: o.ZoneBAPI})
		}
		return mz, func() {}, nil
	}
	if e.LaunchMultiZone == nil {
		return MultiZoneTarget{}, nil, fmt.Errorf("no --global-api given and no way to start control planes")
	}
	mz, err := e.LaunchMultiZone(ctx, []string{ZoneA, ZoneB})
	if err != nil {
		return MultiZoneTarget{}, nil, fmt.Errorf("start global and zones: %w", err)
	}
	if len(mz.Zones) == 0 {
		return MultiZoneTarget{}, nil, fmt.Errorf("start global and zones: no zone started")
	}
	stop := func() {
		if mz.Stop == nil {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := mz.Stop(sctx); err != nil {
			e.Log.Warn("stop control planes failed", "err", err)
		}
	}
	return mz, stop, nil
}

// crossZone creates zone B's ingress and zone A's consumer, then makes k dataplanes of new
// services join zone B one after the other, each measured until the consumer's EDS lists
// the ingress for that service. It removes what it created in zone B before returning.
func (s *session) crossZone(ctx context.Context, zoneB *kumaapi.Client, k int) (changeResult, error) {
	res := changeResult{kind: "cross-zone"}
	host, port, err := splitHostPort(s.env.Opts.IngressAddress)
	if err != nil {
		return res, fmt.Errorf("ingress address: %w", err)
	}
	ingress := kumaapi.ZoneIngress{Name: s.topo.Mesh + "-ingress", Networking: kumaapi.ZoneIngressNetworking{
		Address: host, Port: port, AdvertisedAddress: host, AdvertisedPort: port}}
	var providers []string
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		deleteAll(cctx, s.env, zoneB, s.topo.Mesh, providers)
		if err := zoneB.DeleteZoneIngress(cctx, ingress.Name); err != nil {
			s.env.Log.Warn("delete zone ingress failed", "name", ingress.Name, "err", err)
		}
	}()
	if err := zoneB.PutZoneIngress(ctx, ingress); err != nil {
		return res, fmt.Errorf("create zone ingress in zone B: %w", err)
	}

	services := make([]string, k)
	for c := range k {
		services[c] = crossZoneService(c)
	}
	consumer, err := s.connectConsumer(ctx, "xz-consumer", services)
	if err != nil {
		return res, err
	}
	endpoint := s.env.Opts.IngressAddress
	for c, svc := range services {
		name := fmt.Sprintf("xz-provider-%05d", c)
		dp := s.topo.dataplaneOf(name, Address(s.topo.N+crossZoneBase+1+c, 0), svc, nil)
		providers = append(providers, name)
		// Zone B's ingress starts offering the service when its updater next runs: watched on
		// zone B's API, it splits the latency into that wait and the replication after it.
		wctx, cancelWatch := context.WithCancel(ctx)
		offered := make(chan time.Time, 1)
		go func() { offered <- watchOffer(wctx, zoneB, ingress.Name, s.topo.Mesh, svc) }()
		var respAt time.Time
		last, _, apiTook, err := s.change(ctx, []*proxy.Proxy{consumer}, proxy.EndpointType,
			func(p *proxy.Proxy) bool { return slices.Contains(p.Endpoints(svc), endpoint) },
			func(ctx context.Context) error {
				err := zoneB.PutDataplane(ctx, dp)
				respAt = time.Now()
				return err
			})
		cancelWatch()
		seen := <-offered
		if err != nil {
			return res, fmt.Errorf("join %d (%s): %w", c, svc, err)
		}
		res.last, res.api, res.affected = append(res.last, last), append(res.api, apiTook), 1
		if !seen.IsZero() {
			lag := max(0, seen.Sub(respAt))
			res.ingress, res.replication = append(res.ingress, lag), append(res.replication, max(0, last-lag))
		}
	}
	return res, nil
}

// watchOffer polls zone B's ingress until it offers the service and returns when it first
// saw it (zero if ctx ended first).
func watchOffer(ctx context.Context, zoneB *kumaapi.Client, ingress, mesh, svc string) time.Time {
	var at time.Time
	_ = poll(ctx, 5*time.Millisecond, func(ctx context.Context) (bool, error) {
		zi, err := zoneB.GetZoneIngress(ctx, ingress)
		if err == nil && zi.Offers(mesh, svc) {
			at = time.Now()
			return true, nil
		}
		return false, nil // transient errors: keep watching until ctx ends
	}, "ingress offers "+svc)
	return at
}

// crossZoneBase offsets the addresses of the cross-zone dataplanes from the mesh's.
const crossZoneBase = 50000

func crossZoneService(c int) string { return fmt.Sprintf("xz-svc-%05d", c) }

// connectConsumer creates a dataplane in the session's zone consuming services and connects
// its proxy; it returns once the proxy holds listeners and clusters (the services have no
// endpoints yet, so its config is not "complete" in the first-config sense).
func (s *session) connectConsumer(ctx context.Context, name string, services []string) (*proxy.Proxy, error) {
	dp := s.topo.dataplaneOf(name, Address(s.topo.N+crossZoneBase, 0), name, services)
	s.mu.Lock()
	s.extraDPs = append(s.extraDPs, name)
	s.mu.Unlock()
	if err := s.api.PutDataplane(ctx, dp); err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", name, err)
	}
	p, err := s.fleet.Connect(proxy.Identity{Mesh: s.topo.Mesh, Name: name, Service: name})
	if err != nil {
		return nil, fmt.Errorf("connect consumer %s: %w", name, err)
	}
	s.mu.Lock()
	s.extraProxies = append(s.extraProxies, p)
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, s.env.Opts.ChangeTimeout)
	defer cancel()
	err = poll(wctx, 10*time.Millisecond, func(context.Context) (bool, error) {
		select {
		case <-p.Done():
			return false, fmt.Errorf("stream ended: %w", p.Err())
		default:
		}
		return len(p.Names(proxy.ListenerType)) > 0 && len(p.Names(proxy.ClusterType)) > 0, nil
	}, "consumer "+p.NodeID()+" configured")
	return p, err
}

func splitHostPort(addr string) (string, uint32, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 || host == "" {
		return "", 0, fmt.Errorf("%q: want host:port", addr)
	}
	return host, uint32(port), nil
}
