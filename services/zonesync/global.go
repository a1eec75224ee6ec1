package zonesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/natsd"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// Resource types the global manages for zones.
const (
	ZoneType        = "Zone"
	ZoneInsightType = "ZoneInsight"
)

// Links is what the global needs from its NATS server: which zones are linked, and a way to
// cut one off.
type Links interface {
	LeafLinks() (map[string]bool, error)
	KickLeaf(user string)
}

// GlobalConfig configures the global side.
type GlobalConfig struct {
	// Interval between reconciliations (link status, zone list). Offline zones are noticed
	// within about one interval.
	Interval time.Duration
	// InstanceID names this global CP in ZoneInsight subscriptions.
	InstanceID string
	// StallAfter: a mirror behind its origin that has not moved for this long is recreated.
	StallAfter time.Duration
}

// DefaultStallAfter is GlobalConfig.StallAfter's default.
const DefaultStallAfter = 5 * time.Second

// Watchdog returns the replication watchdog (for GET /_replication).
func (g *Global) Watchdog() *Watchdog { return g.dog }

// zonePositions asks each linked zone's JetStream for its log's last sequence.
func (g *Global) zonePositions(ctx context.Context) map[string]uint64 {
	out := map[string]uint64{}
	for _, z := range g.onlineZones() {
		js, err := jetstream.NewWithDomain(g.nc, z)
		if err != nil {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		s, err := js.Stream(qctx, ZoneStream(z))
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(qctx); err == nil {
				out[ZoneStream(z)] = info.State.LastSeq
			}
		}
		cancel()
	}
	return out
}

func (g *Global) onlineZones() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.online))
	for z := range g.online {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// Global runs the global control plane's side: it authenticates zone links, creates a Zone
// the first time one connects, records connects and disconnects in ZoneInsight, mirrors
// every zone's log into the global's domain and folds it into the read model, and removes a
// zone's copies when the Zone is deleted.
type Global struct {
	cfg   GlobalConfig
	nc    *nats.Conn
	js    jetstream.JetStream
	dog   *Watchdog
	links Links
	mgr   *manager.Manager
	view  *state.State
	keys  atomic.Pointer[Keys]
	log   *slog.Logger
	// Models, when set before Start, are more read models each zone's feed folds into (the
	// in-memory model always is); those that are Droppers forget a deleted zone.
	Models []Model

	mu      sync.Mutex
	zones   map[string]*zoneFeed // zones whose log is mirrored and folded in
	online  map[string]time.Time // linked zones and when they connected
	subID   map[string]string    // the open ZoneInsight subscription of each linked zone
	refused map[string]Refusal   // the last refused link attempt per user, for operators
	cancel  context.CancelFunc
	done    chan struct{}
}

type zoneFeed struct {
	runners []*projections.Runner
	models  []projections.Model
}

// Keys returns the zone token keyring in force; it is asked at every link attempt, so key
// rotation and revocation take effect at the next connect.
type Keys func() (*tokens.Signer, error)

// NewGlobal returns the global side; links may be set later with SetLinks (the NATS server
// that calls Authenticate is created after this) and keys with SetKeys.
func NewGlobal(cfg GlobalConfig, nc *nats.Conn, js jetstream.JetStream, mgr *manager.Manager, keys Keys,
	log *slog.Logger) *Global {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = DefaultStallAfter
	}
	g := &Global{cfg: cfg, nc: nc, js: js, mgr: mgr, view: mgr.View(), log: log,
		zones: map[string]*zoneFeed{}, online: map[string]time.Time{}, subID: map[string]string{},
		refused: map[string]Refusal{}}
	if keys != nil {
		g.keys.Store(&keys)
	}
	g.dog = NewWatchdog(js, g.zonePositions, cfg.StallAfter, log)
	return g
}

// SetLinks sets the NATS server whose links the global watches.
func (g *Global) SetLinks(l Links) { g.links = l }

// SetKeys sets where zone tokens are verified (the log's keys, once the read model is up).
func (g *Global) SetKeys(k Keys) { g.keys.Store(&k) }

// Authenticate implements natsd.LeafListen.Authenticate: the link's user is the zone name and
// its password a zone token with scope "cp" for that zone; a disabled zone is refused.
func (g *Global) Authenticate(user, password string) (natsd.LeafGrant, error) {
	if err := ValidateZoneName(user); err != nil {
		return natsd.LeafGrant{}, err
	}
	keys := g.keys.Load()
	if keys == nil {
		return natsd.LeafGrant{}, errors.New("global control plane is starting")
	}
	signer, err := (*keys)()
	if err != nil {
		return natsd.LeafGrant{}, err
	}
	// kumactl 2.14 only issues zone tokens for ingress and egress (its --scope refuses cp):
	// a token of any zone scope links that zone's CP, so Kuma's own tooling works; a token
	// from POST /tokens/zone with scope cp is the narrower credential for the CP alone.
	claims, err := signer.VerifyZone(password, tokens.ScopeCP, tokens.ScopeIngress, tokens.ScopeEgress)
	if err != nil {
		return natsd.LeafGrant{}, err
	}
	if claims.Zone != user {
		return natsd.LeafGrant{}, fmt.Errorf("%w: token is for zone %q, link is for %q", tokens.ErrInvalidToken, claims.Zone, user)
	}
	if !zoneEnabled(g.view, user) {
		return natsd.LeafGrant{}, fmt.Errorf("zone %q is disabled", user)
	}
	grant := Grant(user)
	if claims.ExpiresAt != nil {
		grant.Expires = claims.ExpiresAt.Time
	}
	return grant, nil
}

// Refusal is a refused zone link attempt.
type Refusal struct {
	Count  int       `json:"count"`
	Last   time.Time `json:"last"`
	Reason string    `json:"reason"`
}

// OnRefused records a refused link (natsd.LeafListen.OnRefused).
func (g *Global) OnRefused(user string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.refused[user]
	// A refused zone retries every second; log the first refusal, a changed reason, and
	// then once a minute.
	if r.Count%60 == 0 || r.Reason != err.Error() {
		g.log.Warn("zone link refused", "zone", user, "err", err, "attempts", r.Count+1)
	}
	r.Count++
	r.Last, r.Reason = time.Now().UTC(), err.Error()
	g.refused[user] = r
}

// Refused returns the refused link attempts by zone.
func (g *Global) Refused() map[string]Refusal {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.refused)
}

// StatusHandler serves GET /_replication on the global: every mirror's position and the
// refused zone links.
func (g *Global) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": g.dog.Status(), "refusedLinks": g.Refused()})
	})
}

// zoneEnabled is false only for a Zone that exists with enabled: false.
func zoneEnabled(view *state.State, zone string) bool {
	e, ok := view.Get(ZoneType, "", zone)
	if !ok {
		return true
	}
	z, ok := e.Resource.Spec.(*core.Zone)
	return !ok || z.IsEnabled()
}

// Online reports whether a zone's link is up.
func (g *Global) Online(zone string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.online[zone]
	return ok
}

// DeleteGuard refuses deleting a zone that is still connected, as Kuma does.
func (g *Global) DeleteGuard(_ context.Context, desc *resources.Descriptor, _, name string) error {
	if desc.Name != ZoneType || !g.Online(name) {
		return nil
	}
	var v resources.ValidationError
	v.AddViolationf(resources.FieldPath("zone"), "unable to delete Zone, Zone CP is still connected, please shut it down first")
	return v.OrNil()
}

// Start creates the streams, resumes every known zone's feed and starts reconciling.
func (g *Global) Start(ctx context.Context) error {
	if _, err := jsstore.New(ctx, g.js, proxiesConfig(g.knownZones()), "jetmesh://global", g.log); err != nil {
		return fmt.Errorf("zone sync: %w", err)
	}
	for _, z := range g.knownZones() {
		if err := g.startFeed(ctx, z); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan struct{})
	go g.loop(runCtx)
	return nil
}

// Stop ends reconciliation and the zone feeds.
func (g *Global) Stop(ctx context.Context) error {
	if g.cancel == nil {
		return nil
	}
	g.cancel()
	select {
	case <-g.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	feeds := g.zones
	g.zones = map[string]*zoneFeed{}
	g.mu.Unlock()
	var errs []error
	for _, f := range feeds {
		errs = append(errs, f.stop(ctx))
	}
	// Record that this global no longer serves the links: a restarted global reopens them.
	g.mu.Lock()
	online := g.online
	g.online = map[string]time.Time{}
	g.mu.Unlock()
	for z := range online {
		errs = append(errs, g.recordDisconnect(ctx, z))
	}
	return errors.Join(errs...)
}

// stop ends the feed's runners.
func (f *zoneFeed) stop(ctx context.Context) error {
	var errs []error
	for _, r := range f.runners {
		errs = append(errs, r.Stop(ctx))
	}
	return errors.Join(errs...)
}

func (g *Global) knownZones() []string {
	var out []string
	for _, e := range g.view.List(ZoneType, state.Filter{}) {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

func (g *Global) loop(ctx context.Context) {
	defer close(g.done)
	t := time.NewTicker(g.cfg.Interval)
	defer t.Stop()
	for {
		if err := g.reconcile(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("zone sync reconcile failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcile brings the world in line with the links and the Zone resources.
func (g *Global) reconcile(ctx context.Context) error {
	if g.links == nil {
		return nil
	}
	linked, err := g.links.LeafLinks()
	if err != nil {
		return err
	}
	var errs []error
	for zone := range linked {
		if !zoneEnabled(g.view, zone) {
			g.log.Info("disconnecting disabled zone", "zone", zone)
			g.links.KickLeaf(zone)
			delete(linked, zone)
		}
	}
	g.mu.Lock()
	var gone []string
	for z := range g.online {
		if !linked[z] {
			gone = append(gone, z)
		}
	}
	g.mu.Unlock()
	for _, z := range gone {
		g.log.Info("zone disconnected", "zone", z)
		errs = append(errs, g.recordDisconnect(ctx, z))
	}
	for zone := range linked {
		if !g.Online(zone) {
			g.log.Info("zone connected", "zone", zone)
			errs = append(errs, g.zoneConnected(ctx, zone))
		}
		errs = append(errs, publishPositions(ctx, g.nc, g.js, zone))
	}
	known := map[string]bool{}
	for _, z := range g.knownZones() {
		known[z] = true
		if err := g.startFeed(ctx, z); err != nil {
			errs = append(errs, err)
		}
	}
	g.mu.Lock()
	var removed []string
	for z := range g.zones {
		if !known[z] {
			removed = append(removed, z)
		}
	}
	g.mu.Unlock()
	for _, z := range removed {
		errs = append(errs, g.removeZone(ctx, z))
	}
	errs = append(errs, g.dog.Check(ctx))
	return errors.Join(errs...)
}

// zoneConnected creates the Zone on first contact and opens a ZoneInsight subscription.
func (g *Global) zoneConnected(ctx context.Context, zone string) error {
	who := manager.Who{Actor: "zone:" + zone, System: true}
	if _, ok := g.view.Get(ZoneType, "", zone); !ok {
		desc, _ := g.mgr.Registry().ByName(ZoneType)
		enabled := true
		r := &resources.Resource{Desc: desc, Meta: resources.Meta{Name: zone}, Spec: &core.Zone{Enabled: &enabled}}
		if _, err := g.mgr.Apply(ctx, r, who); err != nil {
			return fmt.Errorf("create zone %s: %w", zone, err)
		}
	}
	now := time.Now().UTC()
	id := uuid.NewString()
	err := g.updateInsight(ctx, zone, func(in *core.ZoneInsight) {
		in.Subscriptions = append(in.Subscriptions, core.KDSSubscription{
			ID: id, GlobalInstanceID: g.cfg.InstanceID, ConnectTime: core.NewTimestamp(now),
			AuthTokenProvided: true,
			Status:            &core.KDSSubscriptionStatus{LastUpdateTime: core.NewTimestamp(now)},
		})
		// Kuma keeps the last few subscriptions; so do we.
		if n := len(in.Subscriptions); n > 5 {
			in.Subscriptions = in.Subscriptions[n-5:]
		}
	})
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.online[zone], g.subID[zone] = now, id
	g.mu.Unlock()
	return g.startFeed(ctx, zone)
}

func (g *Global) recordDisconnect(ctx context.Context, zone string) error {
	g.mu.Lock()
	id := g.subID[zone]
	delete(g.online, zone)
	delete(g.subID, zone)
	g.mu.Unlock()
	if _, ok := g.view.Get(ZoneType, "", zone); !ok {
		return nil // deleted meanwhile; its insight went with it
	}
	now := core.NewTimestamp(time.Now().UTC())
	return g.updateInsight(ctx, zone, func(in *core.ZoneInsight) {
		for i := range in.Subscriptions {
			s := &in.Subscriptions[i]
			if s.DisconnectTime == nil && (id == "" || s.ID == id) {
				s.DisconnectTime = now
			}
		}
	})
}

func (g *Global) updateInsight(ctx context.Context, zone string, fn func(*core.ZoneInsight)) error {
	desc, ok := g.mgr.Registry().ByName(ZoneInsightType)
	if !ok {
		return errors.New("ZoneInsight type not registered")
	}
	in := &core.ZoneInsight{}
	if e, ok := g.view.Get(ZoneInsightType, "", zone); ok {
		if cur, ok := e.Resource.Spec.(*core.ZoneInsight); ok {
			copied := *cur
			copied.Subscriptions = append([]core.KDSSubscription(nil), cur.Subscriptions...)
			in = &copied
		}
	}
	fn(in)
	r := &resources.Resource{Desc: desc, Meta: resources.Meta{Name: zone}, Spec: in}
	if _, err := g.mgr.Apply(ctx, r, manager.Who{Actor: "control-plane:" + g.cfg.InstanceID, System: true}); err != nil {
		return fmt.Errorf("zone insight %s: %w", zone, err)
	}
	return nil
}

// startFeed mirrors a zone's log and folds it into the read model, once per zone.
func (g *Global) startFeed(ctx context.Context, zone string) error {
	g.mu.Lock()
	_, running := g.zones[zone]
	g.mu.Unlock()
	if running {
		return nil
	}
	store, err := jsstore.New(ctx, g.js, zoneMirror(zone), "jetmesh://global", g.log)
	if err != nil {
		return fmt.Errorf("mirror zone %s: %w", zone, err)
	}
	g.dog.Watch(ZoneStream(zone), "zone "+zone+" "+ZoneStream(zone), zoneMirror(zone))
	g.mgr.AddReplica(ZoneStream(zone), store)
	if _, err := jsstore.New(ctx, g.js, proxiesConfig(append(g.knownZones(), zone)), "jetmesh://global", g.log); err != nil {
		return fmt.Errorf("zone proxies stream: %w", err)
	}
	f := &zoneFeed{}
	models := append([]Model{func(context.Context, string) (projections.Model, error) {
		return g.view.Feed(ZoneStream(zone)), nil
	}}, g.Models...)
	for i, model := range models {
		m, err := model(ctx, ZoneStream(zone))
		if err == nil {
			name := "zone-" + zone
			if i > 0 {
				name = fmt.Sprintf("%s-%d", name, i)
			}
			r := projections.NewRunner(name, store, m, g.log)
			// Replicated copies apply the origin's validation already; a copy that does not
			// decode is skipped by the state model's own rules, never blocks the feed.
			r.RetryApply = true
			f.models, f.runners = append(f.models, m), append(f.runners, r)
			err = r.Start(ctx)
		}
		if err != nil {
			_ = f.stop(ctx)
			return fmt.Errorf("zone %s feed: %w", zone, err)
		}
	}
	g.mu.Lock()
	g.zones[zone] = f
	g.mu.Unlock()
	g.log.Info("zone feed started", "zone", zone)
	return nil
}

// removeZone forgets a deleted zone: its feed, its mirror and its copies in the read model.
// The zones drop its ingresses because the Zone is gone from the global's log.
func (g *Global) removeZone(ctx context.Context, zone string) error {
	g.mu.Lock()
	f := g.zones[zone]
	delete(g.zones, zone)
	g.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.stop(ctx); err != nil {
		return err
	}
	g.dog.Forget(ZoneStream(zone))
	g.view.DropFeed(ZoneStream(zone))
	for _, m := range f.models {
		if d, ok := m.(Dropper); ok {
			if err := d.Drop(ctx); err != nil {
				return fmt.Errorf("forget zone %s: %w", zone, err)
			}
		}
	}
	if _, err := jsstore.New(ctx, g.js, proxiesConfig(g.knownZones()), "jetmesh://global", g.log); err != nil {
		return fmt.Errorf("zone proxies stream: %w", err)
	}
	if err := g.js.DeleteStream(ctx, ZoneStream(zone)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete mirror of zone %s: %w", zone, err)
	}
	g.log.Info("zone removed", "zone", zone)
	return nil
}
