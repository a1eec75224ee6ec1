package zonesync

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// AvailableServices computes what a zone's ingresses offer other zones: one entry per mesh and
// distinct tag set of the zone's healthy inbounds, with how many instances carry it. Entries
// are sorted (mesh, then tags) so an unchanged zone yields an identical list and no event.
func AvailableServices(dataplanes []*state.Entry) []core.AvailableService {
	type group struct {
		svc core.AvailableService
		key string
	}
	groups := map[string]*group{}
	for _, e := range dataplanes {
		spec, ok := e.Resource.Spec.(*core.Dataplane)
		if !ok || spec.IsBuiltinGateway() {
			continue
		}
		mesh := e.Resource.Meta.Mesh
		eps := generate.BuildEndpoints(generate.Topology{Mesh: generate.Mesh{Name: mesh},
			Dataplanes: []generate.Dataplane{{Meta: e.Resource.Meta, Spec: spec}}})
		for _, list := range eps {
			for _, ep := range list {
				key := mesh + "\x00" + tagKey(ep.Tags)
				g := groups[key]
				if g == nil {
					g = &group{svc: core.AvailableService{Mesh: mesh, Tags: maps.Clone(ep.Tags)}, key: key}
					groups[key] = g
				}
				g.svc.Instances++
			}
		}
	}
	keys := slices.Sorted(maps.Keys(groups))
	out := make([]core.AvailableService, 0, len(keys))
	for _, k := range keys {
		out = append(out, groups[k].svc)
	}
	return out
}

func tagKey(tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(tags[k])
		b.WriteByte(';')
	}
	return b.String()
}

// IngressUpdater keeps the availableServices (and zone) of this zone's ZoneIngresses current,
// so that other zones route to this zone's services through them. Like Kuma, it recomputes on
// an interval (KUMA_MULTIZONE_ZONE_INGRESS_UPDATE_INTERVAL, 1s) and writes only changes.
type IngressUpdater struct {
	mgr      *manager.Manager
	zone     string
	interval time.Duration
	log      *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

// NewIngressUpdater returns an updater for the ingresses of zone.
func NewIngressUpdater(mgr *manager.Manager, zone string, interval time.Duration, log *slog.Logger) *IngressUpdater {
	if interval <= 0 {
		interval = time.Second
	}
	return &IngressUpdater{mgr: mgr, zone: zone, interval: interval, log: log}
}

// Start runs the update loop.
func (u *IngressUpdater) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.done = cancel, make(chan struct{})
	go func() {
		defer close(u.done)
		t := time.NewTicker(u.interval)
		defer t.Stop()
		for {
			if err := u.Update(ctx); err != nil && ctx.Err() == nil {
				u.log.Warn("zone ingress update failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Stop ends the loop.
func (u *IngressUpdater) Stop(ctx context.Context) error {
	if u.cancel == nil {
		return nil
	}
	u.cancel()
	select {
	case <-u.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update writes every own ZoneIngress whose services or zone are out of date.
func (u *IngressUpdater) Update(ctx context.Context) error {
	view := u.mgr.View()
	var own []*state.Entry
	for _, e := range view.List(manager.DataplaneType, state.Filter{}) {
		if e.Feed() == "" {
			own = append(own, e)
		}
	}
	services := AvailableServices(own)
	for _, e := range view.List("ZoneIngress", state.Filter{}) {
		if e.Feed() != "" || view.Foreign(e.Key) {
			continue // another zone's ingress
		}
		cur, ok := e.Resource.Spec.(*core.ZoneIngress)
		if !ok {
			continue
		}
		if cur.Zone == u.zone && reflect.DeepEqual(normalize(cur.AvailableServices), services) {
			continue
		}
		next := *cur
		next.Zone, next.AvailableServices = u.zone, services
		r := &resources.Resource{Desc: e.Resource.Desc, Meta: resources.Meta{Name: e.Name, Labels: e.Resource.Meta.Labels}, Spec: &next}
		if _, err := u.mgr.Apply(ctx, r, manager.Who{Actor: "control-plane:zone-ingress-updater", System: true}); err != nil {
			return fmt.Errorf("update zone ingress %s: %w", e.Name, err)
		}
		u.log.Debug("zone ingress services updated", "ingress", e.Name, "services", len(services))
	}
	return nil
}

// normalize makes a stored list comparable with a computed one (nil and empty are equal).
func normalize(s []core.AvailableService) []core.AvailableService {
	if s == nil {
		return []core.AvailableService{}
	}
	out := slices.Clone(s)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Mesh != out[j].Mesh {
			return out[i].Mesh < out[j].Mesh
		}
		return tagKey(out[i].Tags) < tagKey(out[j].Tags)
	})
	return out
}
