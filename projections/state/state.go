// Package state is the in-memory current-state read model: the newest revision of every live
// resource, indexed for the REST API's gets and lists, with the sequence it reflects so writers
// can wait for their own writes (read-your-writes).
package state

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
)

// Entry is one live resource.
type Entry struct {
	Key events.Key
	// Name is what the resource is listed and fetched by: Key.Name for this CP's own resources,
	// "<name>.<zone>" for another zone's (see Foreign).
	Name     string
	Sequence uint64 // stream sequence of the event that produced this revision
	Revision uint64
	// Actor wrote this revision ("dataplane:<mesh>/<name>" for proxies that registered
	// themselves, which is what the offline cleanup looks for).
	Actor    string
	Resource *resources.Resource
	feed     string // the stream that delivered it; "" for the CP's own log
}

type typeMesh struct{ typ, mesh string }

// State is the read model. It is safe for concurrent use.
type State struct {
	reg *resources.Registry

	mu sync.RWMutex
	// byType[type][mesh][name]; global-scoped types use the empty mesh.
	byType  map[string]map[string]map[string]*Entry
	seq     uint64
	lastID  string            // id of the event at seq, for checkpoints
	lastAt  time.Time         // time of the event at seq, for point-in-time checkpoints
	feeds   map[string]uint64 // sequences of the replicated streams feeding the model
	changed chan struct{}     // closed and replaced on every apply
	local   events.Scope
}

// New returns an empty read model for the registry's types, for a standalone control plane.
func New(reg *resources.Registry) *State {
	return NewScoped(reg, events.ZoneScope(resources.DefaultMesh))
}

// NewScoped returns an empty read model for a control plane writing in scope local: resources
// of any other zone are foreign (see Foreign).
func NewScoped(reg *resources.Registry, local events.Scope) *State {
	return &State{reg: reg, byType: map[string]map[string]map[string]*Entry{}, feeds: map[string]uint64{},
		changed: make(chan struct{}), local: local}
}

// Foreign reports whether a key belongs to another zone than this control plane's. Those
// arrive by replication (a zone's inventory on the global, other zones' ingresses on a zone)
// and are listed as "<name>.<zone>" with kuma.io/display-name and kuma.io/zone labels, so
// that every zone's "backend-1" stays unique and findable by the name the zone gave it.
func (s *State) Foreign(k events.Key) bool { return foreign(s.local, k) }

func foreign(local events.Scope, k events.Key) bool {
	return !k.Scope.IsGlobal() && k.Scope.Zone != local.Zone
}

// ForeignName is the name a foreign resource is listed under.
func ForeignName(name, zone string) string { return name + "." + zone }

// Sequence is the last applied stream sequence.
func (s *State) Sequence() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seq
}

// Apply folds one record of the CP's own log in. Unknown types are kept out of the model (an
// older CP reading a newer log) but still advance the sequence.
func (s *State) Apply(rec events.Record) error { return s.apply("", rec) }

// Feed is the model as seen by one replicated stream (a mirror of the global's log, of a
// zone's): it has its own sequence, so each stream's projection resumes where it stopped.
type Feed struct {
	s    *State
	name string
}

// Feed returns the feed for a replicated stream; name identifies it (e.g. the stream name).
func (s *State) Feed(name string) *Feed { return &Feed{s: s, name: name} }

// Apply implements projections.Model.
func (f *Feed) Apply(rec events.Record) error { return f.s.apply(f.name, rec) }

// FeedSequences returns the last sequence applied from each replicated stream.
func (s *State) FeedSequences() map[string]uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.feeds)
}

// Sequence implements projections.Model.
func (f *Feed) Sequence() uint64 {
	f.s.mu.RLock()
	defer f.s.mu.RUnlock()
	return f.s.feeds[f.name]
}

func (s *State) apply(feed string, rec events.Record) error {
	if feed != "" && rec.Key.Scope == s.local {
		// This CP's own resource echoed back by a replica (a zone's ingress in the global's
		// aggregate of all zones' ingresses): the own log is its source of truth.
		s.mu.Lock()
		s.feeds[feed] = rec.Sequence
		s.mu.Unlock()
		return nil
	}
	var entry *Entry
	name := ListedName(s.local, rec.Key)
	if desc, ok := s.reg.ByName(rec.Key.Type); ok && !rec.Event.Deleted() {
		r, err := resources.DecodeAs(desc, rec.Event.Data)
		if err != nil {
			return fmt.Errorf("decode %s: %w", rec.Key, err)
		}
		s.localize(rec.Key, name, r)
		entry = &Entry{Key: rec.Key, Name: name, Sequence: rec.Sequence, Revision: rec.Event.Revision,
			Actor: rec.Event.Actor, Resource: r, feed: feed}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	meshes := s.byType[rec.Key.Type]
	if meshes == nil {
		meshes = map[string]map[string]*Entry{}
		s.byType[rec.Key.Type] = meshes
	}
	names := meshes[rec.Key.Mesh]
	if entry != nil {
		if names == nil {
			names = map[string]*Entry{}
			meshes[rec.Key.Mesh] = names
		}
		names[name] = entry
	} else if names != nil {
		delete(names, name)
		if len(names) == 0 {
			delete(meshes, rec.Key.Mesh)
		}
	}
	if feed == "" {
		s.seq, s.lastID, s.lastAt = rec.Sequence, rec.Event.ID, rec.Event.Time
	} else {
		s.feeds[feed] = rec.Sequence
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// WaitFor blocks until the model has applied seq, or ctx ends.
func (s *State) WaitFor(ctx context.Context, seq uint64) error {
	for {
		s.mu.RLock()
		applied, ch := s.seq, s.changed
		s.mu.RUnlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for sequence %d (at %d): %w", seq, applied, ctx.Err())
		}
	}
}

// LastEventTime is the time of the event at Sequence (zero before the first, and for a model
// loaded from a checkpoint that did not record it).
func (s *State) LastEventTime() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastAt
}

// Get returns a live resource.
func (s *State) Get(typ, mesh, name string) (*Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byType[typ][mesh][name]
	return e, ok
}

// Filter selects entries in List.
type Filter struct {
	Mesh     string // empty: every mesh
	NameLike string // substring of the name
	Labels   map[string]string
	Match    func(*Entry) bool // extra predicate, e.g. dataplane tags
}

func (f *Filter) keep(e *Entry) bool {
	if f.NameLike != "" && !strings.Contains(e.Name, f.NameLike) {
		return false
	}
	for k, v := range f.Labels {
		if got, ok := e.Resource.Meta.Labels[k]; !ok || got != v {
			return false
		}
	}
	return f.Match == nil || f.Match(e)
}

// List returns the matching entries of a type, ordered by name then mesh, as Kuma orders them.
func (s *State) List(typ string, f Filter) []*Entry {
	s.mu.RLock()
	var out []*Entry
	for mesh, names := range s.byType[typ] {
		if f.Mesh != "" && mesh != f.Mesh {
			continue
		}
		for _, e := range names {
			if f.keep(e) {
				out = append(out, e)
			}
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Key.Mesh < out[j].Key.Mesh
	})
	return out
}

// Count returns how many live resources of a type a mesh holds (every mesh when mesh is "").
func (s *State) Count(typ, mesh string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if mesh != "" {
		return len(s.byType[typ][mesh])
	}
	n := 0
	for _, names := range s.byType[typ] {
		n += len(names)
	}
	return n
}

// MeshContents returns every live mesh-scoped resource of a mesh that this CP owns, for
// cascading deletes (replicated resources are deleted where they originate).
func (s *State) MeshContents(mesh string) []*Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Entry
	for _, meshes := range s.byType {
		for _, e := range meshes[mesh] {
			if e.feed == "" {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.Subject() < out[j].Key.Subject() })
	return out
}

// localize sets the labels a replicated copy carries: the origin, and for another zone's
// resource the name it is listed under with its zone and original name as labels.
func (s *State) localize(k events.Key, name string, r *resources.Resource) {
	if labels, ok := Localize(s.local, k, r.Meta.Labels); ok {
		r.Meta.Labels = labels
		r.Meta.Name = name
	}
}

// Localize returns the labels a copy of k carries on a control plane writing in scope local,
// and false when k is the CP's own (same side: labels unchanged). A global resource on a zone
// gains kuma.io/origin=global; another zone's resource gains origin=zone, its zone and its
// original name (kuma.io/display-name), as it is listed under ForeignName. Every read model
// of replicated streams (this one, PostgreSQL's) localizes with it, so they list the same.
func Localize(local events.Scope, k events.Key, labels map[string]string) (map[string]string, bool) {
	if k.Scope.IsGlobal() && local.IsGlobal() || !k.Scope.IsGlobal() && !foreign(local, k) {
		return labels, false
	}
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	if k.Scope.IsGlobal() {
		out[resources.LabelOrigin] = resources.OriginGlobal
	} else {
		out[resources.LabelOrigin] = resources.OriginZone
		out[resources.LabelZone] = k.Scope.Zone
		out[resources.LabelDisplayName] = k.Name
	}
	return out, true
}

// ListedName is the name k is listed under on a control plane writing in scope local: its
// own, or ForeignName for another zone's resource.
func ListedName(local events.Scope, k events.Key) string {
	if foreign(local, k) {
		return ForeignName(k.Name, k.Scope.Zone)
	}
	return k.Name
}

// Feed names the replicated stream that delivered the entry ("" for the CP's own log).
func (e *Entry) Feed() string { return e.feed }

// DropFeed removes every resource a replicated stream delivered and forgets its sequence:
// a zone deleted from the global, or a mirror rebuilt from scratch.
func (s *State) DropFeed(feed string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, meshes := range s.byType {
		for mesh, names := range meshes {
			for n, e := range names {
				if e.feed == feed {
					delete(names, n)
				}
			}
			if len(names) == 0 {
				delete(meshes, mesh)
			}
		}
	}
	delete(s.feeds, feed)
	close(s.changed)
	s.changed = make(chan struct{})
}
