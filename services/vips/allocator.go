package vips

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
)

// Settings are Kuma's dnsServer settings (KUMA_DNS_SERVER_*).
type Settings struct {
	// Domain is the top-level domain of service names ("mesh").
	Domain string
	// CIDR is where virtual IPs come from (240.0.0.0/4).
	CIDR netip.Prefix
	// ServiceVIPEnabled gives every kuma.io/service a "<service>.<domain>" name and address.
	ServiceVIPEnabled bool
	// Port is the port every service answers on at its virtual IP (80).
	Port uint32
}

// DefaultSettings are Kuma 2.14's defaults.
func DefaultSettings() Settings {
	return Settings{Domain: "mesh", CIDR: netip.MustParsePrefix("240.0.0.0/4"), ServiceVIPEnabled: true, Port: 80}
}

// Validate checks the settings as Kuma does.
func (s Settings) Validate() error {
	switch {
	case s.Domain == "" || s.Domain[0] == '.':
		return errors.New("dnsServer.domain: must be set and must not start with a dot")
	case !s.CIDR.IsValid():
		return errors.New("dnsServer.CIDR: must be a valid CIDR")
	case s.Port == 0:
		return errors.New("dnsServer.serviceVipPort: can't be 0")
	}
	return nil
}

// originService is Kuma's origin of service entries.
const originService = "service"

// actor is who the allocator's writes are recorded as.
const actor = "control-plane:vip-allocator"

// Allocator keeps every mesh's Config kuma-<mesh>-dns-vips current with the services the
// read model knows: on the global, the dataplanes and ingresses of every zone, so the table
// is the one all zones receive; on a standalone CP, its own. It recomputes on an interval
// (KUMA_RUNTIME_UNIVERSAL_VIP_REFRESH_INTERVAL, 500ms, skipped while nothing changed) and
// writes only tables that changed; a mesh that is gone, or has no service left, loses its
// Config (a mesh without services has none).
type Allocator struct {
	mgr      *manager.Manager
	settings Settings
	interval time.Duration
	log      *slog.Logger

	lastSeq uint64 // the read model's sequence at the last successful update
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewAllocator returns an allocator writing through mgr.
func NewAllocator(mgr *manager.Manager, s Settings, interval time.Duration, log *slog.Logger) *Allocator {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	return &Allocator{mgr: mgr, settings: s, interval: interval, log: log}
}

// Start runs the allocation loop.
func (a *Allocator) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go func() {
		defer close(a.done)
		t := time.NewTicker(a.interval)
		defer t.Stop()
		for {
			if err := a.Update(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("virtual IP allocation failed", "err", err)
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
func (a *Allocator) Stop(ctx context.Context) error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update allocates once: it writes the tables that differ from the log's and deletes those
// of meshes that are gone.
func (a *Allocator) Update(ctx context.Context) error {
	view := a.mgr.View()
	seq, feeds := view.Sequence(), view.FeedSequences()
	for _, s := range feeds {
		seq += s // any stream moving is a change worth a look
	}
	if seq == a.lastSeq && seq != 0 {
		return nil
	}
	want := Wanted(view, a.settings)
	prev := map[string]Table{}
	configs := map[string]bool{}
	for _, e := range view.List(core.ConfigType.Name, state.Filter{}) {
		mesh, ok := MeshOf(e.Name)
		if !ok || e.Feed() != "" {
			continue
		}
		configs[mesh] = true
		spec, _ := e.Resource.Spec.(*core.Config)
		if spec == nil {
			continue
		}
		t, err := Decode(spec.Config)
		if err != nil {
			a.log.Warn("unreadable virtual IP table, reallocating", "mesh", mesh, "err", err)
			continue
		}
		prev[mesh] = t
	}
	next, allocErr := Allocate(a.settings.CIDR, prev, want)
	var errs []error
	if allocErr != nil {
		errs = append(errs, allocErr)
	}
	who := manager.Who{Actor: actor, System: true}
	for mesh, t := range next {
		old, had := prev[mesh]
		if had && Equal(old, t) || !configs[mesh] && len(t) == 0 {
			continue
		}
		if len(t) == 0 { // the mesh's last service is gone
			if err := a.mgr.Delete(ctx, core.ConfigType, "", ConfigName(mesh), who); err != nil {
				errs = append(errs, fmt.Errorf("delete virtual IPs of mesh %s: %w", mesh, err))
			}
			continue
		}
		doc, err := t.Encode()
		if err != nil {
			return err
		}
		r := &resources.Resource{Desc: core.ConfigType, Meta: resources.Meta{Name: ConfigName(mesh)},
			Spec: &core.Config{Config: doc}}
		if _, err := a.mgr.Apply(ctx, r, who); err != nil {
			errs = append(errs, fmt.Errorf("write virtual IPs of mesh %s: %w", mesh, err))
			continue
		}
		a.log.Info("virtual IPs allocated", "mesh", mesh, "hostnames", len(t))
	}
	for mesh := range configs {
		if _, ok := want[mesh]; ok {
			continue
		}
		if err := a.mgr.Delete(ctx, core.ConfigType, "", ConfigName(mesh), who); err != nil {
			errs = append(errs, fmt.Errorf("delete virtual IPs of mesh %s: %w", mesh, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.lastSeq = seq
	return nil
}

// Wanted is the hostnames every existing mesh's table should hold, from the read model, as
// Kuma's allocator collects them: each kuma.io/service of a dataplane inbound (not ignored,
// not Kuma's serviceless port) and of a zone ingress's available services; and for each of
// those tag sets, the names and ports of the VirtualOutbounds that select it. A service's
// entry also carries its inbounds' ports (the first instance's wins), so "backend.mesh:8080"
// works as well as Kuma's "backend.mesh:80"; Kuma 2.14 adds other ports only through
// VirtualOutbounds.
func Wanted(view *state.State, s Settings) map[string]Want {
	want := map[string]Want{}
	policies := map[string][]*state.Entry{}
	for _, m := range view.List(manager.MeshType, state.Filter{}) {
		want[m.Name] = Want{}
		policies[m.Name] = view.List(core.VirtualOutboundType.Name, state.Filter{Mesh: m.Name})
	}
	// port is the port the service's instances are reached at (an inbound's port; 0 for an
	// ingress's services): besides Kuma's VIP port, the service answers on it at its VIP.
	add := func(mesh string, tags map[string]string, port uint32) {
		w, ok := want[mesh]
		if !ok {
			return
		}
		if svc := tags[resources.TagService]; svc != "" && s.ServiceVIPEnabled {
			e := Entry{Type: Service, Name: svc}
			addOutbound(w, e, Outbound{TagSet: map[string]string{resources.TagService: svc}, Origin: originService})
			if port != 0 && port != s.Port {
				addOutbound(w, e, Outbound{Port: port, TagSet: map[string]string{resources.TagService: svc}, Origin: originService})
			}
		}
		for _, vo := range matching(policies[mesh], tags) {
			spec := vo.Resource.Spec.(*core.VirtualOutbound)
			host, herr := spec.EvalHost(tags)
			port, perr := spec.EvalPort(tags)
			if herr != nil || perr != nil {
				continue // the policy does not fit these tags (Kuma logs and skips)
			}
			addOutbound(w, Entry{Type: FQDN, Name: host},
				Outbound{Port: port, TagSet: spec.FilterTags(tags), Origin: "virtual-outbound:" + vo.Name})
		}
	}
	for _, e := range view.List(manager.DataplaneType, state.Filter{}) {
		spec, ok := e.Resource.Spec.(*core.Dataplane)
		if !ok || spec.Networking == nil {
			continue
		}
		for _, in := range spec.Networking.Inbound {
			if in.State == core.InboundIgnored || in.Port == serviceless {
				continue
			}
			add(e.Resource.Meta.Mesh, in.Tags, in.Port)
		}
	}
	for _, e := range view.List("ZoneIngress", state.Filter{}) {
		zi, ok := e.Resource.Spec.(*core.ZoneIngress)
		if !ok {
			continue
		}
		for _, as := range zi.AvailableServices {
			add(as.Mesh, as.Tags, 0)
		}
	}
	return want
}

// addOutbound adds an outbound to a hostname as Kuma does: one outbound per port, the first
// one kept when another tag set claims the same port (read model order is stable, so the
// outcome is too).
func addOutbound(w Want, e Entry, o Outbound) {
	for _, have := range w[e] {
		if have.Port == o.Port {
			return
		}
	}
	w[e] = append(w[e], o)
	slices.SortStableFunc(w[e], func(a, b Outbound) int { return int(a.Port) - int(b.Port) })
}

// matching returns the VirtualOutbounds whose selectors match tags, best match first (more
// exact tags, then more wildcard tags), then the newest, as Kuma orders them.
func matching(policies []*state.Entry, tags map[string]string) []*state.Entry {
	type ranked struct {
		e               *state.Entry
		exact, wildcard int
	}
	var out []ranked
	for _, e := range policies {
		spec, ok := e.Resource.Spec.(*core.VirtualOutbound)
		if !ok || spec.Conf == nil {
			continue
		}
		if ex, wc, ok := spec.Match(tags); ok {
			out = append(out, ranked{e, ex, wc})
		}
	}
	slices.SortStableFunc(out, func(a, b ranked) int {
		if a.exact != b.exact {
			return b.exact - a.exact
		}
		if a.wildcard != b.wildcard {
			return b.wildcard - a.wildcard
		}
		return b.e.Resource.Meta.CreationTime.Compare(a.e.Resource.Meta.CreationTime)
	})
	res := make([]*state.Entry, len(out))
	for i, r := range out {
		res[i] = r.e
	}
	return res
}

// serviceless is Kuma's reserved inbound port of a dataplane that serves nothing.
const serviceless = 49151
