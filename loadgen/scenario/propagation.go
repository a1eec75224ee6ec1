package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/proxy"
	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// Propagation connects N proxies, then makes K changes one after the other, each to one
// service, and measures from the API's response until the last affected proxy holds the
// change, as seen in the resources it received.
func Propagation(ctx context.Context, env *Env) (*stats.Report, error) {
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
	if _, _, err := s.connectAll(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := s.settle(ctx); err != nil {
		return nil, err
	}
	res, err := s.propagate(ctx, env.Opts.Kind, env.Opts.Changes)
	if err != nil {
		return nil, err
	}
	r := res.report("propagation", env)
	s.health(r)
	return r, nil
}

// changeResult is a series of changes.
type changeResult struct {
	kind     string
	last     []time.Duration // per change: API response -> last affected proxy
	per      []time.Duration // per affected proxy and change
	api      []time.Duration // API call latency
	affected int             // affected proxies of the last change
	// cross-zone joins only: until zone B's ingress offered the service (seen on its API),
	// and from then until the consumer held the endpoint.
	ingress, replication []time.Duration
}

func (c changeResult) report(name string, env *Env) *stats.Report {
	last, per, api := stats.Summarize(c.last), stats.Summarize(c.per), stats.Summarize(c.api)
	r := &stats.Report{Scenario: name, Header: stats.SummaryHeader, Rows: [][]string{
		last.Row("change -> last affected proxy"), per.Row("change -> each affected proxy"), api.Row("API PUT"),
	}}
	r.Set(last.Fields("change_last"))
	r.Set(per.Fields("change_each"))
	r.Set(api.Fields("api"))
	r.Set(map[string]any{"n": env.Opts.N, "kind": c.kind, "changes": len(c.last), "affected": c.affected,
		"outbounds": env.Opts.Outbounds, "spread": env.Opts.Spread})
	r.Notes = append(r.Notes, fmt.Sprintf("%d changes of kind %q, each affecting %d of %d proxies; latency from the API's response",
		len(c.last), c.kind, c.affected, env.Opts.N))
	return r
}

// propagate makes k changes of a kind and records how they reach the affected proxies.
func (s *session) propagate(ctx context.Context, kind string, k int) (changeResult, error) {
	res := changeResult{kind: kind}
	runID := time.Now().UnixNano()
	for c := range k {
		svc := (c * 7919) % s.topo.Services() // spread the changes over the services
		var (
			affected []*proxy.Proxy
			typeURL  string
			cond     func(*proxy.Proxy) bool
			apply    func(context.Context) error
		)
		switch kind {
		case "mtp":
			// A permission for the service's inbounds, from a service named uniquely for this
			// change: its providers' listeners must carry that name.
			marker := fmt.Sprintf("bench-from-%d-%d", runID, c)
			name := "bench-" + ServiceName(svc)
			affected, typeURL = s.proxiesOf(s.topo.Providers(svc)), proxy.ListenerType
			cond = func(p *proxy.Proxy) bool { return p.Contains(proxy.ListenerType, []byte(marker)) }
			apply = func(ctx context.Context) error {
				s.addPolicy(name)
				return s.global.PutPolicy(ctx, "meshtrafficpermissions", kumaapi.MeshTrafficPermission(s.topo.Mesh, name, ServiceName(svc), marker))
			}
		case "endpoints":
			// One provider of the service moves to a new address: every consumer's load
			// assignment for the service must list it.
			providers := s.topo.Providers(svc)
			round := c / s.topo.Services()
			i := providers[round%len(providers)]
			gen := (round/len(providers))%2 + 1 // alternates each time this provider moves
			addr := Address(i, gen) + ":"
			cluster := ServiceName(svc)
			affected, typeURL = s.proxiesOf(s.topo.Consumers(svc)), proxy.EndpointType
			cond = func(p *proxy.Proxy) bool { return hasPrefix(p.Endpoints(cluster), addr) }
			apply = func(ctx context.Context) error { return s.api.PutDataplane(ctx, s.topo.Dataplane(i, gen)) }
		default:
			return res, fmt.Errorf("unknown kind of change %q", kind)
		}
		last, per, apiTook, err := s.change(ctx, affected, typeURL, cond, apply)
		if err != nil {
			return res, fmt.Errorf("change %d (%s, %s): %w", c, kind, ServiceName(svc), err)
		}
		res.last, res.per, res.api = append(res.last, last), append(res.per, per...), append(res.api, apiTook)
		res.affected = len(affected)
	}
	return res, nil
}

func (s *session) addPolicy(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.policies, name) {
		s.policies = append(s.policies, name)
	}
}

func hasPrefix(list []string, prefix string) bool {
	for _, e := range list {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// Churn connects N proxies, then K times adds a dataplane to one service and removes it
// again, measuring until every consumer's EDS shows it, and then no longer shows it.
func Churn(ctx context.Context, env *Env) (*stats.Report, error) {
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
	if _, _, err := s.connectAll(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := s.settle(ctx); err != nil {
		return nil, err
	}
	var up, down changeResult
	for c := range env.Opts.Changes {
		svc := (c * 7919) % s.topo.Services()
		i := s.topo.N + env.Opts.Joins + c // an index no other dataplane uses: a fresh address
		name := fmt.Sprintf("churn-%05d", c)
		addr, cluster := Address(i, 0)+":", ServiceName(svc)
		consumers := s.proxiesOf(s.topo.Consumers(svc))
		dp := s.topo.dataplane(name, Address(i, 0), svc, nil)
		s.mu.Lock()
		s.extraDPs = append(s.extraDPs, name)
		s.mu.Unlock()
		last, per, apiTook, err := s.change(ctx, consumers, proxy.EndpointType,
			func(p *proxy.Proxy) bool { return hasPrefix(p.Endpoints(cluster), addr) },
			func(ctx context.Context) error { return s.api.PutDataplane(ctx, dp) })
		if err != nil {
			return nil, fmt.Errorf("churn %d join: %w", c, err)
		}
		up.last, up.per, up.api, up.affected = append(up.last, last), append(up.per, per...), append(up.api, apiTook), len(consumers)
		last, per, apiTook, err = s.change(ctx, consumers, proxy.EndpointType,
			func(p *proxy.Proxy) bool { return !hasPrefix(p.Endpoints(cluster), addr) },
			func(ctx context.Context) error { return s.api.DeleteDataplane(ctx, s.topo.Mesh, name) })
		if err != nil {
			return nil, fmt.Errorf("churn %d leave: %w", c, err)
		}
		down.last, down.per, down.api, down.affected = append(down.last, last), append(down.per, per...), append(down.api, apiTook), len(consumers)
	}
	ul, ue, dl, de := stats.Summarize(up.last), stats.Summarize(up.per), stats.Summarize(down.last), stats.Summarize(down.per)
	r := &stats.Report{Scenario: "churn", Header: stats.SummaryHeader, Rows: [][]string{
		ul.Row("endpoint added -> last consumer"), ue.Row("endpoint added -> each consumer"),
		dl.Row("endpoint removed -> last consumer"), de.Row("endpoint removed -> each consumer"),
	}}
	r.Set(ul.Fields("join_last"))
	r.Set(dl.Fields("leave_last"))
	r.Set(map[string]any{"n": env.Opts.N, "changes": env.Opts.Changes, "consumers": up.affected})
	r.Notes = append(r.Notes, fmt.Sprintf("%d dataplanes came and went, each seen by %d consumers", env.Opts.Changes, up.affected))
	s.health(r)
	return r, nil
}
