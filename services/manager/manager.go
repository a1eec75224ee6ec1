// Package manager is the write side of resources: it validates a resource, fills the fields the
// server owns (times, computed labels), appends the event with optimistic concurrency, cascades
// mesh deletion, and returns once the read model reflects the write (read-your-writes).
package manager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
)

// MeshType is the Kuma type name of meshes; mesh-scoped writes need their mesh to exist.
const (
	MeshType      = "Mesh"
	DataplaneType = "Dataplane"
)

// ErrReadOnly: this control plane does not accept writes of the type (HTTP 405).
var ErrReadOnly = errors.New("resource is read-only on this control plane")

// ReadOnlyError is ErrReadOnly with the reason the API shows (Kuma's per-mode messages).
type ReadOnlyError struct{ Detail string }

func (e *ReadOnlyError) Error() string { return e.Detail }

// Unwrap makes errors.Is(err, ErrReadOnly) hold.
func (e *ReadOnlyError) Unwrap() error { return ErrReadOnly }

// MeshNotFoundError: a mesh-scoped resource names a mesh that does not exist.
type MeshNotFoundError struct{ Mesh string }

func (e *MeshNotFoundError) Error() string {
	return fmt.Sprintf("mesh of name %s is not found", e.Mesh)
}

// MeshExists reports whether the mesh is live in the read model.
func (m *Manager) MeshExists(mesh string) bool {
	_, ok := m.view.Get(MeshType, "", mesh)
	return ok
}

// Who describes the author of a change.
type Who struct {
	Actor         string // e.g. "user:mesh-system:admin"
	CorrelationID string // empty: a new one per request
	// Reason is recorded on the events of the change when set, e.g. "revert to revision 3".
	Reason string
	// System marks the control plane's own writes, which may write internal types (insights).
	System bool
}

// Result of an Apply.
type Result struct {
	Created  bool
	Changed  bool // false when the resource already had this spec and these labels
	Sequence uint64
	Warnings []string
}

// Manager writes resources to the log.
type Manager struct {
	reg   *resources.Registry
	store events.Store
	view  *state.State
	env   resources.Env
	scope events.Scope
	log   *slog.Logger
	now   func() time.Time

	// Writable, when set, refuses API writes of types another control plane owns (a
	// federated zone does not write policies, the global does not write dataplanes).
	Writable func(*resources.Descriptor) error
	// InitialPolicies makes a new mesh start with Kuma's default MeshTimeout, MeshRetry and
	// MeshCircuitBreaker policies (the control plane that owns meshes: standalone or global).
	InitialPolicies bool
	// Divert, when set, takes over the API writes and deletions it recognises (true), which
	// then never reach the log: a global keeps private signing keys out of its replicated log.
	Divert func(ctx context.Context, r *resources.Resource, deleted bool) (bool, error)
	// DeleteGuard, when set, may refuse a deletion (e.g. a zone that is still connected).
	DeleteGuard func(ctx context.Context, desc *resources.Descriptor, mesh, name string) error
	// AfterApply, when set, runs after a changed resource is in the log and the read model
	// (e.g. a Mesh enabling a builtin CA gets its CA secrets). Its error fails the Apply,
	// but the resource stays written: applying it again retries the follow-up.
	AfterApply func(ctx context.Context, r *resources.Resource) error

	replicaMu sync.Mutex
	replicas  map[string]events.Store // replicated streams by feed name, for history
}

// AddReplica registers the store of a replicated stream feeding the read model, so the
// history of a replicated resource is read where its events are.
func (m *Manager) AddReplica(feed string, s events.Store) {
	m.replicaMu.Lock()
	defer m.replicaMu.Unlock()
	if m.replicas == nil {
		m.replicas = map[string]events.Store{}
	}
	m.replicas[feed] = s
}

// Replicated reports whether a live resource arrived by replication rather than being
// written by this control plane.
func (m *Manager) Replicated(desc *resources.Descriptor, mesh, name string) bool {
	if desc.Scope == resources.ScopeGlobal {
		mesh = ""
	}
	e, ok := m.view.Get(desc.Name, mesh, name)
	return ok && e.Feed() != ""
}

// ReplicaOf returns the replicated stream a live resource arrived through and its key in that
// stream (its own name, not the one it is listed under); ok is false for this CP's own.
func (m *Manager) ReplicaOf(desc *resources.Descriptor, mesh, name string) (stream string, k events.Key, ok bool) {
	if desc.Scope == resources.ScopeGlobal {
		mesh = ""
	}
	e, found := m.view.Get(desc.Name, mesh, name)
	if !found || e.Feed() == "" {
		return "", events.Key{}, false
	}
	return e.Feed(), e.Key, true
}

// History returns a resource's revisions from the log that holds them: this CP's own, or
// the replica a replicated resource (a global policy on a zone, a zone's dataplane on the
// global) arrived through.
func (m *Manager) History(ctx context.Context, desc *resources.Descriptor, mesh, name string) ([]events.Record, error) {
	if desc.Scope == resources.ScopeGlobal {
		mesh = ""
	}
	if e, ok := m.view.Get(desc.Name, mesh, name); ok && e.Feed() != "" {
		m.replicaMu.Lock()
		st := m.replicas[e.Feed()]
		m.replicaMu.Unlock()
		if st != nil {
			return st.History(ctx, e.Key)
		}
	}
	return m.store.History(ctx, m.key(desc, mesh, name))
}

// New returns a manager writing into scope (the CP's own subjects).
func New(reg *resources.Registry, store events.Store, view *state.State, env resources.Env,
	scope events.Scope, log *slog.Logger) *Manager {
	return &Manager{reg: reg, store: store, view: view, env: env, scope: scope, log: log,
		now: func() time.Time { return time.Now().UTC() }}
}

// Registry returns the types this manager serves.
func (m *Manager) Registry() *resources.Registry { return m.reg }

// View returns the read model the manager waits on.
func (m *Manager) View() *state.State { return m.view }

// Store returns the event log the manager writes to, for readers of history and past state.
func (m *Manager) Store() events.Store { return m.store }

// Key returns the log key of a resource this control plane owns (global-scoped types use the
// empty mesh).
func (m *Manager) Key(desc *resources.Descriptor, mesh, name string) events.Key {
	return m.key(desc, mesh, name)
}

func (m *Manager) key(desc *resources.Descriptor, mesh, name string) events.Key {
	if desc.Scope == resources.ScopeGlobal {
		mesh = ""
	}
	return events.Key{Scope: m.scope, Type: desc.Name, Mesh: mesh, Name: name}
}

// Apply creates or updates a resource.
func (m *Manager) Apply(ctx context.Context, r *resources.Resource, who Who) (Result, error) {
	if r.Desc.Internal && !who.System {
		return Result{}, fmt.Errorf("apply %s %q: %w", r.Desc.Name, r.Meta.Name, ErrReadOnly)
	}
	if m.Writable != nil && !who.System {
		if err := m.Writable(r.Desc); err != nil {
			return Result{}, fmt.Errorf("apply %s %q: %w", r.Desc.Name, r.Meta.Name, err)
		}
	}
	if m.Divert != nil && !who.System {
		if diverted, err := m.Divert(ctx, r, false); diverted {
			return Result{Created: true, Changed: true}, err
		}
	}
	if err := resources.Validate(r); err != nil {
		return Result{}, err
	}
	if v := resources.ValidateLabels(r.Desc, r.Meta, m.env); v.HasViolations() {
		return Result{}, v.OrNil()
	}
	if r.Desc.Scope == resources.ScopeMesh {
		if !m.MeshExists(r.Meta.Mesh) {
			return Result{}, &MeshNotFoundError{Mesh: r.Meta.Mesh}
		}
	}
	key := m.key(r.Desc, r.Meta.Mesh, r.Meta.Name)
	last, err := m.store.Last(ctx, key)
	exists := err == nil && !last.Event.Deleted()
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		return Result{}, fmt.Errorf("apply %s: %w", key, err)
	}

	now := m.now()
	out := &resources.Resource{Desc: r.Desc, Spec: r.Spec, Meta: resources.Meta{
		Mesh: key.Mesh, Name: key.Name, CreationTime: now, ModificationTime: now,
	}}
	var prev *resources.Resource
	if exists {
		if prev, err = resources.DecodeAs(r.Desc, last.Event.Data); err != nil {
			return Result{}, fmt.Errorf("apply %s: stored revision: %w", key, err)
		}
		out.Meta.CreationTime = prev.Meta.CreationTime
	}
	out.Meta.Labels = resources.ComputeResourceLabels(&resources.Resource{Desc: r.Desc, Spec: r.Spec,
		Meta: resources.Meta{Mesh: key.Mesh, Name: key.Name, Labels: maps.Clone(r.Meta.Labels)}}, m.env)
	if prev != nil {
		if v := resources.ValidateLabelUpdate(prev.Meta.Labels, out.Meta.Labels); v.HasViolations() {
			return Result{}, v.OrNil()
		}
	}
	res := Result{Created: !exists, Changed: true, Warnings: resources.Warnings(out)}
	if prev != nil && sameContent(prev, out) {
		res.Changed = false
		res.Sequence = last.Sequence
		return res, nil
	}
	data, err := json.Marshal(out)
	if err != nil {
		return Result{}, fmt.Errorf("apply %s: %w", key, err)
	}
	rec, err := m.store.Append(ctx, events.Change{
		Key: key, Op: events.OpUpsert, ExpectedSequence: last.Sequence, Revision: last.Event.Revision + 1,
		Data: data, Actor: who.Actor, CorrelationID: correlation(who), Reason: who.Reason, Time: now,
	})
	if err != nil {
		return Result{}, fmt.Errorf("apply %s: %w", key, err)
	}
	res.Sequence = rec.Sequence
	if err := m.view.WaitFor(ctx, rec.Sequence); err != nil {
		return res, err
	}
	if m.AfterApply != nil {
		if err := m.AfterApply(ctx, out); err != nil {
			return res, fmt.Errorf("apply %s: %w", key, err)
		}
	}
	if res.Created && r.Desc.Name == MeshType && m.InitialPolicies {
		who.CorrelationID = rec.Event.CorrelationID
		if err := m.createInitialPolicies(ctx, out, who); err != nil {
			return res, fmt.Errorf("apply %s: %w", key, err)
		}
	}
	return res, nil
}

// sameContent compares what a user controls: spec and labels (times are the server's).
func sameContent(a, b *resources.Resource) bool {
	if !maps.Equal(a.Meta.Labels, b.Meta.Labels) {
		return false
	}
	sa, errA := json.Marshal(a.Spec)
	sb, errB := json.Marshal(b.Spec)
	return errA == nil && errB == nil && bytes.Equal(sa, sb)
}

func correlation(who Who) string {
	if who.CorrelationID != "" {
		return who.CorrelationID
	}
	return uuid.NewString()
}

// Delete removes a resource with a tombstone. Deleting a mesh is refused while dataplanes
// remain in it (as Kuma does) and otherwise removes everything in the mesh first.
func (m *Manager) Delete(ctx context.Context, desc *resources.Descriptor, mesh, name string, who Who) error {
	if desc.Internal && !who.System {
		return fmt.Errorf("delete %s %q: %w", desc.Name, name, ErrReadOnly)
	}
	if m.Writable != nil && !who.System {
		if err := m.Writable(desc); err != nil {
			return fmt.Errorf("delete %s %q: %w", desc.Name, name, err)
		}
	}
	if m.DeleteGuard != nil {
		if err := m.DeleteGuard(ctx, desc, mesh, name); err != nil {
			return err
		}
	}
	if m.Divert != nil && !who.System {
		r := &resources.Resource{Desc: desc, Meta: resources.Meta{Mesh: mesh, Name: name}}
		if diverted, err := m.Divert(ctx, r, true); diverted {
			return err
		}
	}
	who.CorrelationID = correlation(who)
	if desc.Name == MeshType {
		if n := m.view.Count(DataplaneType, name); n > 0 {
			var v resources.ValidationError
			v.AddViolationf(resources.FieldPath("mesh"),
				"unable to delete mesh, there are still %d dataplanes attached", n)
			return v.OrNil()
		}
		for _, e := range m.view.MeshContents(name) {
			if e.Key.Scope != m.scope {
				continue // owned elsewhere (replicated); its owner deletes it
			}
			if _, err := m.tombstone(ctx, e.Key, who); err != nil && !errors.Is(err, events.ErrNotFound) {
				return fmt.Errorf("delete mesh %s: %w", name, err)
			}
		}
	}
	seq, err := m.tombstone(ctx, m.key(desc, mesh, name), who)
	if err != nil {
		return err
	}
	if desc.HasInsights {
		// The insight describes the resource's connection; it goes with it.
		if idesc, ok := m.reg.ByName(desc.Name + "Insight"); ok {
			if s, err := m.tombstone(ctx, m.key(idesc, mesh, name), who); err == nil {
				seq = s
			} else if !errors.Is(err, events.ErrNotFound) {
				return fmt.Errorf("delete %s %s insight: %w", desc.Name, name, err)
			}
		}
	}
	return m.view.WaitFor(ctx, seq)
}

func (m *Manager) tombstone(ctx context.Context, key events.Key, who Who) (uint64, error) {
	last, err := m.store.Last(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("delete %s: %w", key, err)
	}
	if last.Event.Deleted() {
		return 0, fmt.Errorf("delete %s: %w", key, events.ErrNotFound)
	}
	rec, err := m.store.Append(ctx, events.Change{
		Key: key, Op: events.OpDelete, ExpectedSequence: last.Sequence, Revision: last.Event.Revision + 1,
		Actor: who.Actor, CorrelationID: who.CorrelationID, Reason: who.Reason, Time: m.now(),
	})
	if err != nil {
		return 0, fmt.Errorf("delete %s: %w", key, err)
	}
	return rec.Sequence, nil
}

// EnsureDefaultMesh creates the mesh "name" unless the log has ever held it: a user who
// deleted the default mesh keeps it deleted across restarts. skipInitial becomes the mesh's
// skipCreatingInitialPolicies.
func (m *Manager) EnsureDefaultMesh(ctx context.Context, name string, skipInitial []string) error {
	desc, ok := m.reg.ByName(MeshType)
	if !ok {
		return fmt.Errorf("default mesh: type %s not registered", MeshType)
	}
	_, err := m.store.Last(ctx, m.key(desc, "", name))
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, events.ErrNotFound):
		return fmt.Errorf("default mesh: %w", err)
	}
	doc, err := json.Marshal(map[string]any{"type": MeshType, "name": name, "skipCreatingInitialPolicies": skipInitial})
	if err != nil {
		return fmt.Errorf("default mesh: %w", err)
	}
	r, err := resources.DecodeAs(desc, doc)
	if err != nil {
		return fmt.Errorf("default mesh: %w", err)
	}
	if _, err := m.Apply(ctx, r, Who{Actor: "system:control-plane"}); err != nil {
		return fmt.Errorf("default mesh: %w", err)
	}
	m.log.Info("created default mesh", "mesh", name)
	return nil
}
