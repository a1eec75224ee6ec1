// Package state is the in-memory current-state read model: the newest revision of every live
// resource, indexed for the REST API's gets and lists, with the sequence it reflects so writers
// can wait for their own writes (read-your-writes).
package state

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
)

// Entry is one live resource.
type Entry struct {
	Key      events.Key
	Sequence uint64 // stream sequence of the event that produced this revision
	Revision uint64
	// Actor wrote this revision ("dataplane:<mesh>/<name>" for proxies that registered
	// themselves, which is what the offline cleanup looks for).
	Actor    string
	Resource *resources.Resource
}

type typeMesh struct{ typ, mesh string }

// State is the read model. It is safe for concurrent use.
type State struct {
	reg *resources.Registry

	mu sync.RWMutex
	// byType[type][mesh][name]; global-scoped types use the empty mesh.
	byType  map[string]map[string]map[string]*Entry
	seq     uint64
	lastID  string        // id of the event at seq, for checkpoints
	lastAt  time.Time     // time of the event at seq, for point-in-time checkpoints
	changed chan struct{} // closed and replaced on every apply
}

// New returns an empty read model for the registry's types.
func New(reg *resources.Registry) *State {
	return &State{reg: reg, byType: map[string]map[string]map[string]*Entry{}, changed: make(chan struct{})}
}

// Sequence is the last applied stream sequence.
func (s *State) Sequence() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seq
}

// Apply folds one record in. Unknown types are kept out of the model (an older CP reading a
// newer log) but still advance the sequence.
func (s *State) Apply(rec events.Record) error {
	var entry *Entry
	if desc, ok := s.reg.ByName(rec.Key.Type); ok && !rec.Event.Deleted() {
		r, err := resources.DecodeAs(desc, rec.Event.Data)
		if err != nil {
			return fmt.Errorf("decode %s: %w", rec.Key, err)
		}
		entry = &Entry{Key: rec.Key, Sequence: rec.Sequence, Revision: rec.Event.Revision, Actor: rec.Event.Actor, Resource: r}
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
		names[rec.Key.Name] = entry
	} else if names != nil {
		delete(names, rec.Key.Name)
		if len(names) == 0 {
			delete(meshes, rec.Key.Mesh)
		}
	}
	s.seq, s.lastID, s.lastAt = rec.Sequence, rec.Event.ID, rec.Event.Time
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
	if f.NameLike != "" && !strings.Contains(e.Key.Name, f.NameLike) {
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
		if out[i].Key.Name != out[j].Key.Name {
			return out[i].Key.Name < out[j].Key.Name
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

// MeshContents returns every live mesh-scoped resource of a mesh, for cascading deletes.
func (s *State) MeshContents(mesh string) []*Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Entry
	for _, meshes := range s.byType {
		for _, e := range meshes[mesh] {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.Subject() < out[j].Key.Subject() })
	return out
}
