// Package snapshots is the xDS projection: it folds the log into what proxy config depends on
// (meshes, dataplanes, policies), tracks which connected proxies a change affects, and
// regenerates only those, coalescing bursts without adding a fixed delay.
package snapshots

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// Publisher receives generated snapshots (xds/server.Server implements it).
type Publisher interface {
	SetSnapshot(ctx context.Context, nodeID string, byType map[string][]types.Resource, versions map[string]string) error
	ClearSnapshot(nodeID string)
}

// Client describes a connected proxy: what it is and which flavour of config it needs.
type Client struct {
	NodeID    string
	Mesh      string
	Name      string
	AdminPort uint32
	// GRPC marks grpc-go xDS clients, which consume API listeners named after services.
	GRPC bool
}

// Generator builds a proxy's resources and per-type versions from its inputs.
type Generator func(in Input) (map[string][]types.Resource, map[string]string, error)

// Input is everything one proxy's config depends on.
type Input struct {
	Client      Client
	Mesh        *resources.Resource
	Dataplane   *resources.Resource
	Endpoints   map[string][]generate.Endpoint // by kuma.io/service, for the proxy's outbounds
	Permissions []*resources.Resource          // MeshTrafficPermissions of the mesh
	Zone        string
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
	providers  map[string]map[string]bool // service -> dataplane names with an inbound for it
	consumers  map[string]map[string]bool // service -> dataplane names with an outbound to it
	policies   map[string]*resources.Resource
}

// Projector is the projection and the regeneration loop.
type Projector struct {
	reg  *resources.Registry
	gen  Generator
	pub  Publisher
	zone string
	log  *slog.Logger

	mu      sync.Mutex
	seq     uint64
	meshes  map[string]*meshState
	clients map[string]Client          // connected proxies by node id
	byDP    map[string]map[string]bool // "<mesh>/<name>" -> node ids of its connected proxies
	dirty   map[string]bool
	kick    chan struct{}
	busy    bool // a regeneration round is running

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a projector.
func New(reg *resources.Registry, gen Generator, pub Publisher, zone string, log *slog.Logger) *Projector {
	return &Projector{reg: reg, gen: gen, pub: pub, zone: zone, log: log,
		meshes: map[string]*meshState{}, clients: map[string]Client{}, byDP: map[string]map[string]bool{},
		dirty: map[string]bool{},
		kick:  make(chan struct{}, 1)}
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
			consumers: map[string]map[string]bool{}, policies: map[string]*resources.Resource{}}
		p.meshes[name] = m
	}
	return m
}

// Apply implements projections.Model: it updates the indexes and marks affected proxies.
func (p *Projector) Apply(rec events.Record) error {
	var res *resources.Resource
	if !rec.Event.Deleted() {
		desc, ok := p.reg.ByName(rec.Key.Type)
		if !ok {
			p.setSeq(rec.Sequence)
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
	p.seq = rec.Sequence
	switch rec.Key.Type {
	case "Mesh":
		m := p.meshOf(rec.Key.Name)
		m.mesh = res
		p.markMeshLocked(rec.Key.Name)
	case "Dataplane":
		p.applyDataplaneLocked(rec.Key.Mesh, rec.Key.Name, res)
	case meshtrafficpermission.Descriptor.Name:
		m := p.meshOf(rec.Key.Mesh)
		old := m.policies[rec.Key.Name]
		if res == nil {
			delete(m.policies, rec.Key.Name)
		} else {
			m.policies[rec.Key.Name] = res
		}
		// The proxies the policy selected before and selects now.
		p.markPermissionLocked(rec.Key.Mesh, old)
		p.markPermissionLocked(rec.Key.Mesh, res)
	default:
		return nil
	}
	p.signal()
	return nil
}

func (p *Projector) setSeq(seq uint64) {
	p.mu.Lock()
	p.seq = seq
	p.mu.Unlock()
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
		}
	}
	p.markLocked(mesh, name)
	for svc := range affected {
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

// markPermissionLocked marks the proxies a MeshTrafficPermission can select. Permissions
// only shape inbound RBAC, so a policy whose top-level targetRef names a service concerns
// only the dataplanes with an inbound of that service; any other targetRef (Mesh, Dataplane,
// MeshSubset without a service, ...) conservatively concerns the whole mesh.
func (p *Projector) markPermissionLocked(mesh string, res *resources.Resource) {
	if res == nil {
		return
	}
	svc, ok := permissionService(res)
	if !ok {
		p.markMeshLocked(mesh)
		return
	}
	for name, dp := range p.meshOf(mesh).dataplanes {
		if slices.Contains(dp.inbound, svc) {
			p.markLocked(mesh, name)
		}
	}
}

// permissionService is the one service whose inbounds a permission's top-level targetRef
// can select, or false when it may select other proxies too.
func permissionService(res *resources.Resource) (string, bool) {
	spec, ok := res.Spec.(*meshtrafficpermission.Spec)
	if !ok || spec.TargetRef == nil {
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
	m := p.meshes[c.Mesh]
	if m == nil || m.mesh == nil {
		return Input{}, false
	}
	dp := m.dataplanes[c.Name]
	if dp == nil {
		return Input{}, false
	}
	in := Input{Client: c, Mesh: m.mesh, Dataplane: dp.res, Endpoints: map[string][]generate.Endpoint{}, Zone: p.zone}
	for _, svc := range dp.consumes {
		providers := make([]string, 0, len(m.providers[svc]))
		for provider := range m.providers[svc] {
			providers = append(providers, provider)
		}
		sort.Strings(providers) // stable input, stable versions
		for _, provider := range providers {
			in.Endpoints[svc] = append(in.Endpoints[svc], m.dataplanes[provider].endpoints[svc]...)
		}
	}
	names := make([]string, 0, len(m.policies))
	for n := range m.policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		in.Permissions = append(in.Permissions, m.policies[n])
	}
	return in, true
}

func (p *Projector) rebuild(ctx context.Context, in Input) {
	byType, versions, err := p.gen(in)
	if err != nil {
		p.log.Error("generate proxy config failed", "node", in.Client.NodeID, "err", err)
		return
	}
	if err := p.pub.SetSnapshot(ctx, in.Client.NodeID, byType, versions); err != nil && ctx.Err() == nil {
		p.log.Error("publish proxy config failed", "node", in.Client.NodeID, "err", err)
	}
}
