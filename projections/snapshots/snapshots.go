// Package snapshots is the xDS projection: it folds the log into what proxy config depends on
// (meshes, dataplanes, policies), tracks which connected proxies a change affects, and
// regenerates only those, coalescing bursts without adding a fixed delay.
package snapshots

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/services/ca"
	"github.com/jetmesh/jetmesh/services/vips"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// Publisher receives generated snapshots (xds/server.Server implements it).
type Publisher interface {
	SetSnapshot(ctx context.Context, nodeID string, byType map[string][]types.Resource, versions map[string]string) error
	ClearSnapshot(nodeID string)
}

// Client describes a connected proxy: what it is and which flavour of config it needs.
type Client struct {
	NodeID string
	Mesh   string
	Name   string
	// WorkDir is the agent's work directory (node metadata "workdir"), where kuma-dp
	// listens for the access log entries of TCP backends.
	WorkDir   string
	AdminPort uint32
	// GRPC marks grpc-go xDS clients, which consume API listeners named after services.
	GRPC bool
	// Ingress and Egress mark zone proxies (node id ".<name>", Mesh empty).
	Ingress bool
	Egress  bool
	// EmbeddedDNS and BindOutbounds are kuma-dp's features of the same names: it serves the
	// mesh's names itself (from the dynamic config listener), or binds outbounds instead of
	// being transparently redirected.
	EmbeddedDNS   bool
	BindOutbounds bool
	ReusePort     bool
	// DNSPort is where Envoy answers the mesh's names for kuma-dp's CoreDNS
	// (dataplane.dns.port) when kuma-dp runs without the embedded DNS; 0: nowhere.
	DNSPort uint32
}

// Generator builds a proxy's resources and per-type versions from its inputs.
type Generator func(in Input) (map[string][]types.Resource, map[string]string, error)

// Input is everything one proxy's config depends on.
type Input struct {
	Client    Client
	Mesh      *resources.Resource
	Dataplane *resources.Resource
	// Endpoints by kuma.io/service, for the proxy's outbounds and the services routes name.
	Endpoints map[string][]generate.Endpoint
	// Policies are the mesh's targetRef policies by type name, each list sorted by name.
	Policies map[string][]*resources.Resource
	Zone     string
	// Ingress is set, alone, for a zone ingress proxy; Egress for a zone egress.
	Ingress *generate.IngressProxy
	Egress  *generate.EgressProxy
	// CA is the mesh CA when the mesh has mTLS and its CA is in the log; CertValidity is the
	// lifetime of the identity certificates it issues (the backend's dpCert expiration).
	CA           *ca.KeyPair
	CertValidity time.Duration
	// Identity is the proxy's certificate, issued by the projector just before generation.
	Identity *generate.Identity
	// VirtualOutbounds and DNSNames are the mesh's virtual IPs, for a dataplane with
	// transparent proxying.
	VirtualOutbounds []generate.VirtualOutbound
	DNSNames         []generate.DNSName
}

type dataplane struct {
	res       *resources.Resource
	spec      *core.Dataplane
	inbound   []string // kuma.io/service of every inbound (what policies select by)
	provides  []string // services it is an endpoint of
	consumes  []string // services of its outbounds
	endpoints map[string][]generate.Endpoint
}

type meshState struct {
	mesh       *resources.Resource
	dataplanes map[string]*dataplane
	providers  map[string]map[string]bool                // service -> dataplane names with an inbound for it
	consumers  map[string]map[string]bool                // service -> dataplane names with an outbound to it
	policies   map[string]map[string]*resources.Resource // type -> name -> policy
	// routeBackends are the services the mesh's route policies send traffic to.
	routeBackends map[string]bool
	// secrets are the mesh's Secrets by name (the CA's material).
	secrets meshSecrets
	// vipOutbounds and vipNames come from the mesh's virtual IPs (Config kuma-<mesh>-dns-vips);
	// vipServices are the services they lead to. tproxies are the dataplanes with transparent
	// proxying, which consume every one of them.
	vipOutbounds []generate.VirtualOutbound
	vipNames     []generate.DNSName
	vipServices  []string
	tproxies     map[string]bool
}

// Projector is the projection and the regeneration loop.
type Projector struct {
	reg  *resources.Registry
	gen  Generator
	pub  Publisher
	zone string
	log  *slog.Logger

	mu     sync.Mutex
	seq    uint64
	feeds  map[string]uint64 // sequences of replicated streams (see Feed)
	meshes map[string]*meshState
	// ingresses are the ZoneIngresses of every zone (cross-zone entry points) and zones the
	// Zone resources, whose enabled flag decides whether a zone's ingresses are used.
	ingresses map[events.Key]*resources.Resource
	egresses  map[string]*resources.Resource // this zone's ZoneEgresses by name
	zones     map[string]*core.Zone
	clients   map[string]Client          // connected proxies by node id
	byDP      map[string]map[string]bool // "<mesh>/<name>" -> node ids of its connected proxies
	dirty     map[string]bool
	kick      chan struct{}
	busy      bool // a regeneration round is running
	endpoints endpointInterner
	ids       *identities
	// DNS are the dnsServer settings the virtual IPs are served with (domain, VIP port);
	// set before Start.
	DNS vips.Settings

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a projector.
func New(reg *resources.Registry, gen Generator, pub Publisher, zone string, log *slog.Logger) *Projector {
	p := &Projector{reg: reg, gen: gen, pub: pub, zone: zone, log: log, DNS: vips.DefaultSettings(),
		meshes: map[string]*meshState{}, clients: map[string]Client{}, byDP: map[string]map[string]bool{},
		dirty: map[string]bool{}, feeds: map[string]uint64{}, ingresses: map[events.Key]*resources.Resource{},
		egresses: map[string]*resources.Resource{},
		zones:    map[string]*core.Zone{}, kick: make(chan struct{}, 1)}
	p.ids = newIdentities(time.Now, p.markRotation)
	return p
}

// markRotation regenerates a proxy whose certificate reached its rotation point.
func (p *Projector) markRotation(nodeID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.clients[nodeID]; ok {
		p.dirty[nodeID] = true
		p.signal()
	}
}

// Sequence implements projections.Model.
func (p *Projector) Sequence() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

func (p *Projector) meshOf(name string) *meshState {
	m := p.meshes[name]
	if m == nil {
		m = &meshState{dataplanes: map[string]*dataplane{}, providers: map[string]map[string]bool{},
			consumers: map[string]map[string]bool{}, policies: map[string]map[string]*resources.Resource{},
			secrets: meshSecrets{}, tproxies: map[string]bool{}}
		p.meshes[name] = m
	}
	return m
}

// Apply implements projections.Model: it updates the indexes and marks affected proxies.
func (p *Projector) Apply(rec events.Record) error { return p.apply("", rec) }

// Feed is the projector as one replicated stream's model (the global's log mirrored into a
// zone, the other zones' ingresses): each stream has its own sequence.
type Feed struct {
	p    *Projector
	name string
}

// Feed returns the model for a replicated stream.
func (p *Projector) Feed(name string) *Feed { return &Feed{p: p, name: name} }

// Apply implements projections.Model.
func (f *Feed) Apply(rec events.Record) error { return f.p.apply(f.name, rec) }

// Sequence implements projections.Model.
func (f *Feed) Sequence() uint64 {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	return f.p.feeds[f.name]
}

func (p *Projector) apply(feed string, rec events.Record) error {
	if feed != "" && !rec.Key.Scope.IsGlobal() && rec.Key.Scope.Zone == p.zone {
		p.setSeq(feed, rec.Sequence) // own resource echoed back by a replica
		return nil
	}
	var res *resources.Resource
	if !rec.Event.Deleted() {
		desc, ok := p.reg.ByName(rec.Key.Type)
		if !ok {
			p.setSeq(feed, rec.Sequence)
			return nil
		}
		r, err := resources.DecodeAs(desc, rec.Event.Data)
		if err != nil {
			return fmt.Errorf("decode %s: %w", rec.Key, err)
		}
		res = r
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setSeqLocked(feed, rec.Sequence)
	switch rec.Key.Type {
	case "ZoneIngress":
		before := p.remoteViewLocked()
		if res == nil {
			delete(p.ingresses, rec.Key)
		} else {
			p.ingresses[rec.Key] = res
		}
		p.markRemoteChangesLocked(before)
		p.markZoneProxiesLocked(true)
		p.markZoneProxiesLocked(false) // an egress forwards to the remote ingresses
	case "ZoneEgress":
		if feed != "" {
			return nil // other zones' egresses carry their own zone's traffic only
		}
		if res == nil {
			delete(p.egresses, rec.Key.Name)
		} else {
			p.egresses[rec.Key.Name] = res
		}
		p.markAllLocked()
	case "Zone":
		if z, ok := specOf[*core.Zone](res); ok {
			p.zones[rec.Key.Name] = z
		} else {
			delete(p.zones, rec.Key.Name)
		}
		p.markAllLocked()
	case "Mesh":
		m := p.meshOf(rec.Key.Name)
		m.mesh = res
		p.markMeshLocked(rec.Key.Name)
	case "Secret":
		m := p.meshOf(rec.Key.Mesh)
		if sec, ok := specOf[*core.Secret](res); ok {
			m.secrets[rec.Key.Name] = sec.Data
		} else {
			delete(m.secrets, rec.Key.Name)
		}
		p.markMeshLocked(rec.Key.Mesh)
	case "Config":
		mesh, ok := vips.MeshOf(rec.Key.Name)
		if !ok {
			return nil
		}
		p.applyVIPsLocked(mesh, res)
	case "Dataplane":
		if feed != "" {
			return nil // another zone's dataplanes reach this zone through its ingress
		}
		p.applyDataplaneLocked(rec.Key.Mesh, rec.Key.Name, res)
		p.markZoneProxiesLocked(true)
	default:
		desc, ok := p.reg.ByName(rec.Key.Type)
		if !ok || !desc.TargetRef {
			return nil
		}
		// A policy can select any proxy of its mesh, and which ones only the matching rules
		// know: every proxy of the mesh is regenerated, and versions that do not change
		// (content hashes) are not pushed.
		p.applyPolicyLocked(rec.Key.Type, rec.Key.Mesh, rec.Key.Name, res)
	}
	p.signal()
	return nil
}

// applyVIPsLocked takes a mesh's virtual IPs in and marks its transparent proxies. A table
// that does not decode is logged and treated as empty: the allocator rewrites it.
func (p *Projector) applyVIPsLocked(mesh string, res *resources.Resource) {
	m := p.meshOf(mesh)
	var table vips.Table
	if spec, ok := specOf[*core.Config](res); ok {
		t, err := vips.Decode(spec.Config)
		if err != nil {
			p.log.Warn("virtual IPs do not decode", "mesh", mesh, "err", err)
		}
		table = t
	}
	m.vipOutbounds, m.vipNames, m.vipServices = nil, nil, nil
	seen := map[string]bool{}
	for _, o := range table.Outbounds(p.DNS.Port) {
		m.vipOutbounds = append(m.vipOutbounds, generate.VirtualOutbound{Address: o.Address, Port: o.Port, Tags: o.Tags})
		if svc := o.Tags[resources.TagService]; svc != "" && !seen[svc] {
			seen[svc] = true
			m.vipServices = append(m.vipServices, svc)
		}
	}
	sort.Strings(m.vipServices)
	for _, n := range table.Names(p.DNS.Domain) {
		m.vipNames = append(m.vipNames, generate.DNSName{Name: n.Name, Address: n.Address})
	}
	for name := range m.tproxies {
		p.markLocked(mesh, name)
	}
}

func (p *Projector) applyPolicyLocked(typ, mesh, name string, res *resources.Resource) {
	m := p.meshOf(mesh)
	old := m.policies[typ][name]
	if res == nil {
		delete(m.policies[typ], name)
	} else {
		if m.policies[typ] == nil {
			m.policies[typ] = map[string]*resources.Resource{}
		}
		m.policies[typ][name] = res
	}
	m.indexRouteBackendsLocked()
	// The proxies the policy selected before and selects now.
	p.markPolicyLocked(mesh, old)
	p.markPolicyLocked(mesh, res)
}

func (p *Projector) setSeq(feed string, seq uint64) {
	p.mu.Lock()
	p.setSeqLocked(feed, seq)
	p.mu.Unlock()
}

func (p *Projector) setSeqLocked(feed string, seq uint64) {
	if feed == "" {
		p.seq = seq
	} else {
		p.feeds[feed] = seq
	}
}

func specOf[T any](res *resources.Resource) (T, bool) {
	var zero T
	if res == nil {
		return zero, false
	}
	v, ok := res.Spec.(T)
	return v, ok
}

func (p *Projector) markAllLocked() {
	for id := range p.clients {
		p.dirty[id] = true
	}
}

// remoteView is what a mesh's proxies take from the other zones' ingresses.
type remoteView struct {
	endpoints map[string][]generate.Endpoint
	ingresses int
}

// remoteViewLocked returns every mesh's remote endpoints (before an ingress change).
func (p *Projector) remoteViewLocked() map[string]remoteView {
	out := make(map[string]remoteView, len(p.meshes))
	for name, m := range p.meshes {
		eps, n := p.remoteEndpointsLocked(m, true)
		out[name] = remoteView{endpoints: eps, ingresses: n}
	}
	return out
}

// markRemoteChangesLocked marks the proxies whose input an ingress change altered: the
// consumers of each service whose remote endpoints changed (every proxy of the mesh for a
// service routes send traffic to), or every proxy of the mesh when the number of remote
// ingresses changed (local endpoints are weighted by it). An ingress offering one more
// service thus costs its consumers, not the whole zone.
func (p *Projector) markRemoteChangesLocked(before map[string]remoteView) {
	for name, m := range p.meshes {
		eps, n := p.remoteEndpointsLocked(m, true)
		old := before[name]
		if n != old.ingresses {
			p.markMeshLocked(name)
			continue
		}
		changed := map[string]bool{}
		for svc, list := range eps {
			if !reflect.DeepEqual(list, old.endpoints[svc]) {
				changed[svc] = true
			}
		}
		for svc := range old.endpoints {
			if _, ok := eps[svc]; !ok {
				changed[svc] = true
			}
		}
		for svc := range changed {
			if m.routeBackends[svc] {
				p.markMeshLocked(name)
				break
			}
			for consumer := range m.consumers[svc] {
				p.markLocked(name, consumer)
			}
		}
		if len(changed) > 0 {
			for tp := range m.tproxies {
				p.markLocked(name, tp)
			}
		}
	}
}

// remoteEndpointsLocked returns the endpoints other zones offer through their ingresses, by
// service, and how many distinct ingresses stand behind them. Ingresses of disabled or
// deleted zones are left out: their traffic must stop, though their copies may linger in
// the mirrored stream. viaEgress points them at this zone's egresses where the mesh routes
// through them (what sidecars get); the egress itself needs the ingresses.
func (p *Projector) remoteEndpointsLocked(m *meshState, viaEgress bool) (map[string][]generate.Endpoint, int) {
	if len(p.ingresses) == 0 || m.mesh == nil {
		return nil, 0
	}
	keys := make([]events.Key, 0, len(p.ingresses))
	for k := range p.ingresses {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Subject() < keys[j].Subject() })
	t := generate.Topology{Mesh: generate.Mesh{Name: m.mesh.Meta.Name}, Zone: p.zone}
	if spec, ok := m.mesh.Spec.(*core.Mesh); ok {
		t.Mesh.Spec = spec
	}
	for _, k := range keys {
		res := p.ingresses[k]
		zi, ok := res.Spec.(*core.ZoneIngress)
		if !ok {
			continue
		}
		if z, known := p.zones[zi.Zone]; !known || !z.IsEnabled() {
			continue
		}
		t.ZoneIngresses = append(t.ZoneIngresses, generate.ZoneIngress{Meta: res.Meta, Spec: zi})
	}
	if viaEgress {
		for _, name := range sortedNames(p.egresses) {
			if ze, ok := p.egresses[name].Spec.(*core.ZoneEgress); ok {
				t.ZoneEgresses = append(t.ZoneEgresses, generate.ZoneEgress{Meta: p.egresses[name].Meta, Spec: ze})
			}
		}
	}
	return generate.RemoteEndpoints(t)
}

// applyDataplaneLocked updates the indexes and marks the dataplane itself plus every consumer
// of a service it provided before or provides now.
func (p *Projector) applyDataplaneLocked(mesh, name string, res *resources.Resource) {
	m := p.meshOf(mesh)
	affected := map[string]bool{}
	if old := m.dataplanes[name]; old != nil {
		for _, svc := range old.provides {
			delete(m.providers[svc], name)
			affected[svc] = true
		}
		for _, svc := range old.consumes {
			delete(m.consumers[svc], name)
		}
		delete(m.dataplanes, name)
		delete(m.tproxies, name)
	}
	if res != nil {
		if spec, ok := res.Spec.(*core.Dataplane); ok {
			dp := index(res, spec, p.zone)
			m.dataplanes[name] = dp
			for _, svc := range dp.provides {
				addTo(m.providers, svc, name)
				affected[svc] = true
			}
			for _, svc := range dp.consumes {
				addTo(m.consumers, svc, name)
			}
			if tp := spec.Networking.TransparentProxying; tp != nil && tp.RedirectPortOutbound != 0 {
				m.tproxies[name] = true
			}
		}
	}
	p.markLocked(mesh, name)
	if len(affected) > 0 {
		// A transparent proxy has an outbound on every service's virtual IP.
		for tp := range m.tproxies {
			p.markLocked(mesh, tp)
		}
	}
	for svc := range affected {
		if m.routeBackends[svc] {
			// Any proxy whose routes reach svc may be affected: the routes say which.
			p.markMeshLocked(mesh)
		}
		for consumer := range m.consumers[svc] {
			p.markLocked(mesh, consumer)
		}
	}
}

func addTo(idx map[string]map[string]bool, key, name string) {
	if idx[key] == nil {
		idx[key] = map[string]bool{}
	}
	idx[key][name] = true
}

// index extracts what other proxies need from a dataplane, once, at apply time. Endpoints
// come from the generator's own rules (advertised address, health) so both agree.
func index(res *resources.Resource, spec *core.Dataplane, zone string) *dataplane {
	dp := &dataplane{res: res, spec: spec}
	dp.endpoints = generate.BuildEndpoints(generate.Topology{
		Mesh: generate.Mesh{Name: res.Meta.Mesh}, Zone: zone,
		Dataplanes: []generate.Dataplane{{Meta: res.Meta, Spec: spec}},
	})
	for svc := range dp.endpoints {
		dp.provides = append(dp.provides, svc)
	}
	sort.Strings(dp.provides)
	if spec.Networking == nil {
		return dp
	}
	for _, in := range spec.Networking.Inbound {
		if svc := in.Tags[resources.TagService]; svc != "" {
			dp.inbound = append(dp.inbound, svc)
		}
	}
	seen := map[string]bool{}
	for _, out := range spec.Networking.Outbound {
		svc := out.Tags[resources.TagService]
		if svc != "" && !seen[svc] {
			seen[svc] = true
			dp.consumes = append(dp.consumes, svc)
		}
	}
	return dp
}

func (p *Projector) markMeshLocked(mesh string) {
	for id, c := range p.clients {
		if c.Mesh == mesh {
			p.dirty[id] = true
		}
	}
}

// markLocked marks a dataplane's connected proxies (a grpc client and an Envoy may share one).
func (p *Projector) markLocked(mesh, name string) {
	for id := range p.byDP[dpKey(mesh, name)] {
		p.dirty[id] = true
	}
}

func dpKey(mesh, name string) string { return mesh + "/" + name }

// markPolicyLocked marks the proxies a targetRef policy can concern: the dataplanes with an
// inbound of the one service its top-level targetRef names (and that service's grpc-go
// consumers), else the whole mesh. A change then costs in proportion to the proxies it
// affects, not to the size of the mesh.
func (p *Projector) markPolicyLocked(mesh string, res *resources.Resource) {
	if res == nil {
		return
	}
	svc, ok := policyService(res)
	if !ok {
		p.markMeshLocked(mesh)
		return
	}
	m := p.meshOf(mesh)
	for name, dp := range m.dataplanes {
		if slices.Contains(dp.inbound, svc) {
			p.markLocked(mesh, name)
		}
	}
	// A grpc-go client has no sidecar in front of its backend, so it applies the backend's
	// inbound policies (faults) itself: the service's grpc-go consumers change too.
	for name := range m.consumers[svc] {
		for id := range p.byDP[dpKey(mesh, name)] {
			if p.clients[id].GRPC {
				p.dirty[id] = true
			}
		}
	}
}

// policyService is the one service whose inbounds a policy's top-level targetRef can select,
// or false when it may select other proxies too. Every targetRef policy's spec has its
// top-level targetRef under "targetRef", which is all this reads.
func policyService(res *resources.Resource) (string, bool) {
	b, err := json.Marshal(res.Spec)
	if err != nil {
		return "", false
	}
	var spec struct {
		TargetRef *targetref.TargetRef `json:"targetRef"`
	}
	if json.Unmarshal(b, &spec) != nil || spec.TargetRef == nil {
		return "", false
	}
	ref := spec.TargetRef
	switch ref.Kind {
	case targetref.MeshService, targetref.MeshServiceSubset:
		if n := ref.GetName(); n != "" && ref.GetNamespace() == "" && ref.GetSectionName() == "" {
			return n, true
		}
	case targetref.MeshSubset:
		if svc := ref.GetTags()[resources.TagService]; svc != "" && svc != "*" {
			return svc, true
		}
	}
	return "", false
}

func (p *Projector) signal() {
	if len(p.dirty) == 0 {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default: // a regeneration round is already pending; it will see these marks
	}
}

// Connect starts producing snapshots for a proxy.
func (p *Projector) Connect(c Client) {
	p.mu.Lock()
	if old, ok := p.clients[c.NodeID]; ok {
		p.unindexLocked(old)
	}
	p.clients[c.NodeID] = c
	key := dpKey(c.Mesh, c.Name)
	if p.byDP[key] == nil {
		p.byDP[key] = map[string]bool{}
	}
	p.byDP[key][c.NodeID] = true
	p.dirty[c.NodeID] = true
	p.signal()
	p.mu.Unlock()
}

// Disconnect stops producing snapshots for a proxy that has no stream left.
func (p *Projector) Disconnect(nodeID string) {
	p.mu.Lock()
	if c, ok := p.clients[nodeID]; ok {
		p.unindexLocked(c)
	}
	delete(p.clients, nodeID)
	delete(p.dirty, nodeID)
	p.mu.Unlock()
	p.ids.forget(nodeID)
	p.pub.ClearSnapshot(nodeID)
}

func (p *Projector) unindexLocked(c Client) {
	key := dpKey(c.Mesh, c.Name)
	delete(p.byDP[key], c.NodeID)
	if len(p.byDP[key]) == 0 {
		delete(p.byDP, key)
	}
}

// Idle reports whether no regeneration is pending or running (for tests and readiness).
func (p *Projector) Idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.busy && len(p.dirty) == 0 && len(p.kick) == 0
}

// Start runs the regeneration loop.
func (p *Projector) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(ctx)
	return nil
}

// Stop ends the loop.
func (p *Projector) Stop(ctx context.Context) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	p.ids.stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop regenerates dirty proxies. A burst of changes that arrives while a round runs is
// handled by the next round as one, so bursts coalesce without a timer.
func (p *Projector) loop(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		for _, in := range p.takeDirty() {
			p.rebuild(ctx, in)
		}
		p.mu.Lock()
		p.busy = false
		p.mu.Unlock()
	}
}

// takeDirty snapshots the inputs of every dirty proxy under the lock.
func (p *Projector) takeDirty() []Input {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.dirty))
	for id := range p.dirty {
		ids = append(ids, id)
	}
	p.dirty = map[string]bool{}
	p.busy = true
	sort.Strings(ids)
	out := make([]Input, 0, len(ids))
	for _, id := range ids {
		c, ok := p.clients[id]
		if !ok {
			continue
		}
		if in, ok := p.inputLocked(c); ok {
			out = append(out, in)
		}
	}
	return out
}

func (p *Projector) inputLocked(c Client) (Input, bool) {
	if c.Ingress {
		return p.ingressInputLocked(c)
	}
	if c.Egress {
		return p.egressInputLocked(c)
	}
	m := p.meshes[c.Mesh]
	if m == nil || m.mesh == nil {
		return Input{}, false
	}
	dp := m.dataplanes[c.Name]
	if dp == nil {
		return Input{}, false
	}
	in := Input{Client: c, Mesh: m.mesh, Dataplane: dp.res, Endpoints: map[string][]generate.Endpoint{}, Zone: p.zone}
	remote, ingresses := p.remoteEndpointsLocked(m, true)
	services := slices.Clone(dp.consumes)
	if m.tproxies[c.Name] && !c.BindOutbounds {
		in.VirtualOutbounds = m.vipOutbounds
		if c.EmbeddedDNS || c.DNSPort != 0 {
			in.DNSNames = m.vipNames
		}
		for _, svc := range m.vipServices {
			if !slices.Contains(services, svc) {
				services = append(services, svc)
			}
		}
	}
	for svc := range m.routeBackends {
		if !slices.Contains(services, svc) {
			services = append(services, svc)
		}
	}
	for _, svc := range services {
		providers := make([]string, 0, len(m.providers[svc]))
		for provider := range m.providers[svc] {
			providers = append(providers, provider)
		}
		sort.Strings(providers) // stable input, stable versions
		for _, provider := range providers {
			for _, ep := range m.dataplanes[provider].endpoints[svc] {
				// One local instance weighs as much as one instance behind a remote ingress.
				if ingresses > 0 {
					ep.Weight = uint32(ingresses)
				}
				in.Endpoints[svc] = append(in.Endpoints[svc], ep)
			}
		}
		in.Endpoints[svc] = append(in.Endpoints[svc], remote[svc]...)
	}
	in.Policies = make(map[string][]*resources.Resource, len(m.policies))
	for typ, byName := range m.policies {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names) // stable input, stable versions
		for _, n := range names {
			in.Policies[typ] = append(in.Policies[typ], byName[n])
		}
	}
	p.mtlsInputLocked(m, &in)
	return in, true
}

func (p *Projector) rebuild(ctx context.Context, in Input) {
	if in.CA != nil {
		spec, _ := in.Dataplane.Spec.(*core.Dataplane)
		id, err := p.ids.get(in.Client.NodeID, in.Client.Mesh, spec, *in.CA, in.CertValidity)
		if err != nil {
			p.log.Error("issue identity certificate failed", "node", in.Client.NodeID, "err", err)
		}
		in.Identity = id
	}
	byType, versions, err := p.gen(in)
	if err != nil {
		p.log.Error("generate proxy config failed", "node", in.Client.NodeID, "err", err)
		return
	}
	if err := p.endpoints.internAll(byType[resource.EndpointType]); err != nil {
		p.log.Error("share proxy endpoints failed", "node", in.Client.NodeID, "err", err)
		return
	}
	if err := p.pub.SetSnapshot(ctx, in.Client.NodeID, byType, versions); err != nil && ctx.Err() == nil {
		p.log.Error("publish proxy config failed", "node", in.Client.NodeID, "err", err)
	}
}
