package dpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
	"github.com/jetmesh/jetmesh/xds/server"
)

// Node metadata keys kuma-dp sends (Kuma 2.x pkg/core/xds/metadata.go).
const (
	metaResource  = "dataplane.resource"
	metaProxyType = "dataplane.proxyType"
	metaAdminPort = "dataplane.admin.port"
	metaVersion   = "version"
)

// subscriptionLimit is how many subscriptions an insight keeps (KUMA_METRICS_DATAPLANE_SUBSCRIPTION_LIMIT).
const subscriptionLimit = 2

// LifecycleConfig tunes dataplane lifecycle handling.
type LifecycleConfig struct {
	// DeregistrationDelay: a direct-mode dataplane is deleted this long after its last stream
	// closed, unless it reconnects (KUMA_XDS_DATAPLANE_DEREGISTRATION_DELAY, 10s).
	DeregistrationDelay time.Duration
	// StatusFlushInterval: how often ACK/NACK counters are written to insights
	// (KUMA_XDS_SERVER_DATAPLANE_STATUS_FLUSH_INTERVAL, 10s).
	StatusFlushInterval time.Duration
	// CleanupAge: a dataplane that registered itself (direct mode) and has been offline this
	// long is deleted; it covers proxies that died without a graceful disconnect while the CP
	// was down (KUMA_RUNTIME_UNIVERSAL_DATAPLANE_CLEANUP_AGE, 72h). 0 turns it off.
	CleanupAge time.Duration
}

// DefaultLifecycleConfig returns Kuma's defaults.
func DefaultLifecycleConfig() LifecycleConfig {
	return LifecycleConfig{DeregistrationDelay: 10 * time.Second, StatusFlushInterval: 10 * time.Second, CleanupAge: 72 * time.Hour}
}

// Lifecycle turns proxy streams into events: direct-mode registration and deregistration,
// and DataplaneInsight subscriptions (connect, status, disconnect).
type Lifecycle struct {
	cfg        LifecycleConfig
	mgr        *manager.Manager
	instanceID string
	log        *slog.Logger

	writeMu  sync.Mutex // serialises insight read-modify-writes
	insights insightQueue

	mu     sync.Mutex
	direct map[string]bool          // node id -> registered from node metadata
	timers map[string]*time.Timer   // node id -> pending deregistration
	dirty  map[int64]*server.Stream // streams whose counters changed since the last flush
	subs   map[int64]string         // stream id -> subscription id
	cancel context.CancelFunc
	done   chan struct{}
}

// NewLifecycle returns a lifecycle writing through mgr.
func NewLifecycle(cfg LifecycleConfig, mgr *manager.Manager, instanceID string, log *slog.Logger) *Lifecycle {
	l := &Lifecycle{cfg: cfg, mgr: mgr, instanceID: instanceID, log: log,
		direct: map[string]bool{}, timers: map[string]*time.Timer{}, dirty: map[int64]*server.Stream{},
		subs: map[int64]string{}}
	l.insights.write = func(ctx context.Context, w insightWrite) error {
		return l.updateInsight(ctx, w.mesh, w.name, w.fn)
	}
	l.insights.onErr = func(w insightWrite, err error) {
		l.log.Warn("record dataplane insight failed", "mesh", w.mesh, "name", w.name, "record", w.what, "err", err)
	}
	return l
}

// Start closes subscriptions a previous process left open (it died without writing them)
// and starts the status flusher.
func (l *Lifecycle) Start(ctx context.Context) error {
	if err := l.closeStaleSubscriptions(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	l.insights.start()
	go l.flushLoop(runCtx)
	return nil
}

// Stop ends the flusher and pending deregistrations.
func (l *Lifecycle) Stop(ctx context.Context) error {
	l.mu.Lock()
	for id, t := range l.timers {
		t.Stop()
		delete(l.timers, id)
	}
	l.mu.Unlock()
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	select {
	case <-l.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return l.insights.stop(ctx)
}

// OnConnect registers the dataplane (direct mode) or checks that it exists (indirect mode),
// then records the subscription.
func (l *Lifecycle) OnConnect(ctx context.Context, s *server.Stream) error {
	mesh, name, err := bootstrap.ParseProxyID(s.Node.GetId())
	if err != nil {
		return err
	}
	md := s.Node.GetMetadata().GetFields()
	switch pt := md[metaProxyType].GetStringValue(); pt {
	case "", "dataplane":
	case "ingress", "egress":
		return l.connectZoneProxy(ctx, s, zoneProxyTypes[pt], name, md[metaResource].GetStringValue())
	default:
		return fmt.Errorf("proxy type %q is not served by this control plane yet", pt)
	}
	actor := fmt.Sprintf("dataplane:%s/%s", mesh, name)
	if doc := md[metaResource].GetStringValue(); doc != "" {
		if err := l.register(ctx, mesh, name, doc, actor); err != nil {
			return err
		}
	} else if _, ok := l.mgr.View().Get(manager.DataplaneType, mesh, name); !ok {
		return fmt.Errorf("dataplane %s/%s not found: create it with kumactl apply, or start the proxy with --dataplane-file", mesh, name)
	}
	l.mu.Lock()
	if t := l.timers[s.Node.GetId()]; t != nil {
		t.Stop() // it came back before its deregistration
		delete(l.timers, s.Node.GetId())
	}
	subID := uuid.NewString()
	l.subs[s.ID] = subID
	l.mu.Unlock()
	// Read now: the observer trims the node's metadata once the proxy is connected.
	version := versionOf(md[metaVersion])
	l.insights.record(insightWrite{mesh: mesh, name: name, what: "connect", fn: func(in *core.DataplaneInsight) {
		sub := core.DiscoverySubscription{
			ID: subID, ControlPlaneInstanceID: l.instanceID, ConnectTime: core.NewTimestamp(s.ConnectTime.UTC()),
			Status:  &core.DiscoverySubscriptionStatus{Total: &core.ResponseStats{}},
			Version: version,
		}
		in.Subscriptions = append(in.Subscriptions, sub)
		if n := len(in.Subscriptions); n > subscriptionLimit {
			in.Subscriptions = in.Subscriptions[n-subscriptionLimit:]
		}
	}})
	return nil
}

// zoneProxyTypes are the resource types of zone proxies by kuma-dp's --proxy-type.
var zoneProxyTypes = map[string]string{"ingress": "ZoneIngress", "egress": "ZoneEgress"}

// ZoneProxyType is a stream's zone proxy resource type ("ZoneIngress", "ZoneEgress"), or ""
// for a dataplane.
func ZoneProxyType(s *server.Stream) string {
	return zoneProxyTypes[s.Node.GetMetadata().GetFields()[metaProxyType].GetStringValue()]
}

// connectZoneProxy registers a zone ingress or egress carried in node metadata, or checks that
// it exists, and opens its insight subscription (what kumactl inspect zoneingresses and
// zoneegresses show). Zone proxies are long-lived infrastructure: they are not deregistered
// when they leave.
func (l *Lifecycle) connectZoneProxy(ctx context.Context, s *server.Stream, typ, name, doc string) error {
	if err := l.registerZoneProxy(ctx, typ, name, doc); err != nil {
		return err
	}
	subID := uuid.NewString()
	l.mu.Lock()
	l.subs[s.ID] = subID
	l.mu.Unlock()
	md := s.Node.GetMetadata().GetFields()
	return l.updateZoneProxyInsight(ctx, typ, name, func(subs []core.DiscoverySubscription) []core.DiscoverySubscription {
		subs = append(subs, core.DiscoverySubscription{
			ID: subID, ControlPlaneInstanceID: l.instanceID, ConnectTime: core.NewTimestamp(s.ConnectTime.UTC()),
			Status:  &core.DiscoverySubscriptionStatus{Total: &core.ResponseStats{}},
			Version: versionOf(md[metaVersion]),
		})
		if n := len(subs); n > subscriptionLimit {
			subs = subs[n-subscriptionLimit:]
		}
		return subs
	})
}

// OnZoneProxyDisconnect closes a zone ingress's or egress's subscription.
func (l *Lifecycle) OnZoneProxyDisconnect(s *server.Stream) {
	_, name, err := bootstrap.ParseProxyID(s.Node.GetId())
	if err != nil {
		return
	}
	l.mu.Lock()
	subID := l.subs[s.ID]
	delete(l.subs, s.ID)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := core.NewTimestamp(time.Now().UTC())
	err = l.updateZoneProxyInsight(ctx, ZoneProxyType(s), name, func(subs []core.DiscoverySubscription) []core.DiscoverySubscription {
		for i := range subs {
			if subs[i].ID == subID {
				subs[i].DisconnectTime = now
				fillStatus(&subs[i], s)
			}
		}
		return subs
	})
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		l.log.Warn("record zone proxy disconnect failed", "node", s.Node.GetId(), "err", err)
	}
}

// updateZoneProxyInsight rewrites the subscriptions of a ZoneIngressInsight or
// ZoneEgressInsight (both are a list of subscriptions plus metadata).
func (l *Lifecycle) updateZoneProxyInsight(ctx context.Context, typ, name string,
	fn func([]core.DiscoverySubscription) []core.DiscoverySubscription) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	desc, ok := l.mgr.Registry().ByName(typ + "Insight")
	if !ok {
		return fmt.Errorf("%sInsight type not registered", typ)
	}
	var spec resources.Spec
	switch typ {
	case "ZoneIngress":
		in := &core.ZoneIngressInsight{}
		if e, ok := l.mgr.View().Get(desc.Name, "", name); ok {
			if cur, ok := e.Resource.Spec.(*core.ZoneIngressInsight); ok {
				*in = *cur
			}
		}
		in.Subscriptions = fn(append([]core.DiscoverySubscription(nil), in.Subscriptions...))
		spec = in
	default:
		in := &core.ZoneEgressInsight{}
		if e, ok := l.mgr.View().Get(desc.Name, "", name); ok {
			if cur, ok := e.Resource.Spec.(*core.ZoneEgressInsight); ok {
				*in = *cur
			}
		}
		in.Subscriptions = fn(append([]core.DiscoverySubscription(nil), in.Subscriptions...))
		spec = in
	}
	r := &resources.Resource{Desc: desc, Meta: resources.Meta{Name: name}, Spec: spec}
	_, err := l.mgr.Apply(ctx, r, manager.Who{Actor: "control-plane:" + l.instanceID, System: true})
	return err
}

func (l *Lifecycle) registerZoneProxy(ctx context.Context, typ, name, doc string) error {
	if doc == "" {
		if _, ok := l.mgr.View().Get(typ, "", name); !ok {
			return fmt.Errorf("%s %s not found: create it with kumactl apply, or start the proxy with --dataplane-file", typ, name)
		}
		return nil
	}
	desc, _ := l.mgr.Registry().ByName(typ)
	zi, err := resources.DecodeAs(desc, []byte(doc))
	if err != nil {
		return fmt.Errorf("%s in node metadata: %w", typ, err)
	}
	if zi.Meta.Name == "" {
		zi.Meta.Name = name
	}
	if zi.Meta.Name != name {
		return fmt.Errorf("%s in node metadata is %s but the node id says %s", typ, zi.Meta.Name, name)
	}
	if e, ok := l.mgr.View().Get(typ, "", name); ok {
		// Keep what the control plane computed (zone, availableServices).
		if cur, ok := e.Resource.Spec.(*core.ZoneIngress); ok {
			if in, ok := zi.Spec.(*core.ZoneIngress); ok {
				in.Zone, in.AvailableServices = cur.Zone, cur.AvailableServices
			}
		}
	}
	if _, err := l.mgr.Apply(ctx, zi, manager.Who{Actor: strings.ToLower(typ) + ":" + name}); err != nil {
		return fmt.Errorf("register %s %s: %w", typ, name, err)
	}
	return nil
}

// register creates or updates a Dataplane carried in node metadata (direct mode).
func (l *Lifecycle) register(ctx context.Context, mesh, name, doc, actor string) error {
	desc, _ := l.mgr.Registry().ByName(manager.DataplaneType)
	dp, err := resources.DecodeAs(desc, []byte(doc))
	if err != nil {
		return fmt.Errorf("dataplane in node metadata: %w", err)
	}
	if dp.Meta.Mesh == "" {
		dp.Meta.Mesh = mesh
	}
	if dp.Meta.Name == "" {
		dp.Meta.Name = name
	}
	if dp.Meta.Mesh != mesh || dp.Meta.Name != name {
		return fmt.Errorf("dataplane in node metadata is %s/%s but the node id says %s/%s", dp.Meta.Mesh, dp.Meta.Name, mesh, name)
	}
	if _, err := l.mgr.Apply(ctx, dp, manager.Who{Actor: actor}); err != nil {
		return fmt.Errorf("register dataplane %s/%s: %w", mesh, name, err)
	}
	l.mu.Lock()
	l.direct[mesh+"."+name] = true
	l.mu.Unlock()
	return nil
}

// OnStatus marks the stream for the next status flush.
func (l *Lifecycle) OnStatus(s *server.Stream) {
	l.mu.Lock()
	l.dirty[s.ID] = s
	l.mu.Unlock()
}

// OnDisconnect records the disconnect and schedules deregistration of direct-mode dataplanes.
func (l *Lifecycle) OnDisconnect(s *server.Stream) {
	id := s.Node.GetId()
	mesh, name, err := bootstrap.ParseProxyID(id)
	if err != nil {
		return
	}
	l.mu.Lock()
	delete(l.dirty, s.ID)
	subID := l.subs[s.ID]
	delete(l.subs, s.ID)
	direct := l.direct[id]
	l.mu.Unlock()
	now := time.Now().UTC()
	l.insights.record(insightWrite{mesh: mesh, name: name, what: "disconnect", fn: func(in *core.DataplaneInsight) {
		for i := range in.Subscriptions {
			if in.Subscriptions[i].ID == subID {
				in.Subscriptions[i].DisconnectTime = core.NewTimestamp(now)
				fillStatus(&in.Subscriptions[i], s)
			}
		}
	}})
	if !direct {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.timers[id]; t != nil {
		t.Stop()
	}
	l.timers[id] = time.AfterFunc(l.cfg.DeregistrationDelay, func() { l.deregister(id, mesh, name) })
}

func (l *Lifecycle) deregister(id, mesh, name string) {
	l.mu.Lock()
	delete(l.timers, id)
	delete(l.direct, id)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, _ := l.mgr.Registry().ByName(manager.DataplaneType)
	err := l.mgr.Delete(ctx, desc, mesh, name, manager.Who{Actor: fmt.Sprintf("dataplane:%s/%s", mesh, name), System: true})
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		l.log.Warn("deregister dataplane failed", "node", id, "err", err)
		return
	}
	l.log.Info("dataplane deregistered", "mesh", mesh, "name", name)
}

func (l *Lifecycle) flushLoop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.cfg.StatusFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.flush()
			l.cleanup(ctx, time.Now())
		}
	}
}

// flush queues the counters of every stream that changed since the last flush.
func (l *Lifecycle) flush() {
	l.mu.Lock()
	dirty := l.dirty
	l.dirty = map[int64]*server.Stream{}
	subs := make(map[int64]string, len(dirty))
	for id := range dirty {
		subs[id] = l.subs[id]
	}
	l.mu.Unlock()
	for id, s := range dirty {
		mesh, name, err := bootstrap.ParseProxyID(s.Node.GetId())
		if err != nil {
			continue
		}
		subID := subs[id]
		l.insights.record(insightWrite{mesh: mesh, name: name, what: "status", fn: func(in *core.DataplaneInsight) {
			for i := range in.Subscriptions {
				if in.Subscriptions[i].ID == subID {
					fillStatus(&in.Subscriptions[i], s)
				}
			}
		}})
	}
}

func fillStatus(sub *core.DiscoverySubscription, s *server.Stream) {
	total, byType, last := s.Stats()
	sub.Status = &core.DiscoverySubscriptionStatus{Total: stats(total)}
	for typeURL, c := range byType {
		switch typeURL {
		case resource.ClusterType:
			sub.Status.CDS = stats(c)
		case resource.EndpointType:
			sub.Status.EDS = stats(c)
		case resource.ListenerType:
			sub.Status.LDS = stats(c)
		case resource.RouteType:
			sub.Status.RDS = stats(c)
		}
	}
	if !last.IsZero() {
		sub.Status.LastUpdateTime = core.NewTimestamp(last.UTC())
	}
}

func stats(c server.Counters) *core.ResponseStats {
	return &core.ResponseStats{ResponsesSent: core.Uint64(c.Sent), ResponsesAcknowledged: core.Uint64(c.Acked),
		ResponsesRejected: core.Uint64(c.Nacked)}
}

// updateInsight applies fn to a dataplane's insight and writes it as a system event.
func (l *Lifecycle) updateInsight(ctx context.Context, mesh, name string, fn func(*core.DataplaneInsight)) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	desc, ok := l.mgr.Registry().ByName(manager.DataplaneType + "Insight")
	if !ok {
		return fmt.Errorf("DataplaneInsight type not registered")
	}
	in := &core.DataplaneInsight{}
	if e, ok := l.mgr.View().Get(desc.Name, mesh, name); ok {
		if cur, ok := e.Resource.Spec.(*core.DataplaneInsight); ok {
			copied := *cur
			copied.Subscriptions = append([]core.DiscoverySubscription(nil), cur.Subscriptions...)
			in = &copied
		}
	}
	fn(in)
	r := &resources.Resource{Desc: desc, Meta: resources.Meta{Mesh: mesh, Name: name}, Spec: in}
	_, err := l.mgr.Apply(ctx, r, manager.Who{Actor: "control-plane:" + l.instanceID, System: true})
	return err
}

// closeStaleSubscriptions marks subscriptions without a disconnect time as disconnected: they
// belong to a process that stopped without recording it, and would show proxies Online.
func (l *Lifecycle) closeStaleSubscriptions(ctx context.Context) error {
	now := core.NewTimestamp(time.Now().UTC())
	closeOpen := func(subs []core.DiscoverySubscription) []core.DiscoverySubscription {
		for i := range subs {
			if subs[i].DisconnectTime == nil {
				subs[i].DisconnectTime = now
			}
		}
		return subs
	}
	for _, e := range l.mgr.View().List(manager.DataplaneType+"Insight", state.Filter{}) {
		in, ok := e.Resource.Spec.(*core.DataplaneInsight)
		if !ok || e.Feed() != "" || !hasOpen(in.Subscriptions) {
			continue
		}
		err := l.updateInsight(ctx, e.Key.Mesh, e.Key.Name, func(in *core.DataplaneInsight) {
			in.Subscriptions = closeOpen(in.Subscriptions)
		})
		if err != nil {
			return fmt.Errorf("close stale subscriptions of %s/%s: %w", e.Key.Mesh, e.Key.Name, err)
		}
	}
	// Zone ingresses and egresses too: they would show Online forever otherwise.
	for _, typ := range []string{"ZoneIngress", "ZoneEgress"} {
		for _, e := range l.mgr.View().List(typ+"Insight", state.Filter{}) {
			if e.Feed() != "" || l.mgr.View().Foreign(e.Key) || !hasOpen(zoneProxySubscriptions(e.Resource.Spec)) {
				continue
			}
			if err := l.updateZoneProxyInsight(ctx, typ, e.Key.Name, closeOpen); err != nil {
				return fmt.Errorf("close stale subscriptions of %s %s: %w", typ, e.Key.Name, err)
			}
		}
	}
	return nil
}

// zoneProxySubscriptions are the subscriptions of a ZoneIngressInsight or ZoneEgressInsight.
func zoneProxySubscriptions(spec any) []core.DiscoverySubscription {
	switch in := spec.(type) {
	case *core.ZoneIngressInsight:
		return in.Subscriptions
	case *core.ZoneEgressInsight:
		return in.Subscriptions
	}
	return nil
}

func hasOpen(subs []core.DiscoverySubscription) bool {
	for _, s := range subs {
		if s.DisconnectTime == nil {
			return true
		}
	}
	return false
}

// versionOf reads kuma-dp's "version" metadata struct.
func versionOf(v *structpb.Value) *core.DataplaneVersion {
	f := v.GetStructValue().GetFields()
	if len(f) == 0 {
		return nil
	}
	dp := f["kumaDp"].GetStructValue().GetFields()
	ev := f["envoy"].GetStructValue().GetFields()
	out := &core.DataplaneVersion{}
	if len(dp) > 0 {
		out.KumaDp = &core.KumaDpVersion{Version: dp["version"].GetStringValue(), GitTag: dp["gitTag"].GetStringValue(),
			GitCommit: dp["gitCommit"].GetStringValue(), BuildDate: dp["buildDate"].GetStringValue()}
	}
	if len(ev) > 0 {
		out.Envoy = &core.EnvoyVersion{Version: ev["version"].GetStringValue(), Build: ev["build"].GetStringValue(),
			KumaDpCompatible: ev["kumaDpCompatible"].GetBoolValue()}
	}
	return out
}

// adminPort reads dataplane.admin.port (a string in kuma-dp's metadata).
func adminPort(s *server.Stream) uint32 { return portField(s, metaAdminPort) }

// portField reads a port from the node metadata, where kuma-dp writes it as a string.
func portField(s *server.Stream, key string) uint32 {
	v := s.Node.GetMetadata().GetFields()[key]
	if n, err := strconv.ParseUint(v.GetStringValue(), 10, 16); err == nil {
		return uint32(n)
	}
	return uint32(v.GetNumberValue())
}

// cleanup deletes self-registered dataplanes that have been offline longer than CleanupAge.
// Dataplanes created through the API are the operator's and stay.
func (l *Lifecycle) cleanup(ctx context.Context, now time.Time) {
	if l.cfg.CleanupAge <= 0 {
		return
	}
	desc, _ := l.mgr.Registry().ByName(manager.DataplaneType)
	for _, e := range l.mgr.View().List(manager.DataplaneType, state.Filter{}) {
		mesh, name := e.Key.Mesh, e.Key.Name
		if e.Actor != fmt.Sprintf("dataplane:%s/%s", mesh, name) {
			continue
		}
		ie, ok := l.mgr.View().Get(desc.Name+"Insight", mesh, name)
		if !ok {
			continue
		}
		in, _ := ie.Resource.Spec.(*core.DataplaneInsight)
		if in == nil || hasOpen(in.Subscriptions) || len(in.Subscriptions) == 0 {
			continue
		}
		last := in.Subscriptions[len(in.Subscriptions)-1].DisconnectTime
		if last == nil || now.Sub(last.Time) < l.cfg.CleanupAge {
			continue
		}
		err := l.mgr.Delete(ctx, desc, mesh, name, manager.Who{Actor: "control-plane:" + l.instanceID, System: true})
		if err != nil && !errors.Is(err, events.ErrNotFound) {
			l.log.Warn("clean up offline dataplane failed", "mesh", mesh, "name", name, "err", err)
			continue
		}
		l.log.Info("offline dataplane cleaned up", "mesh", mesh, "name", name, "offlineSince", last.Time)
	}
}
