package events

import "time"

// meshType is the type name of meshes; a mesh filter also matches the Mesh resource itself.
const meshType = "Mesh"

// Query selects events of the audit log: the filters of GET /events and `jetmeshctl events`.
// Empty fields match everything. Every reader that answers audit queries (a scan of the log,
// the PostgreSQL audit index) implements exactly these semantics; Match is the reference.
type Query struct {
	// Mesh matches events of resources in the mesh and of the Mesh resource itself, so
	// mesh=demo answers "what happened in demo" including its creation and deletion.
	Mesh string
	// Type is the resource type name, e.g. "MeshTrafficPermission".
	Type string
	// Name is the resource name.
	Name string
	// Actor is the event's actor attribute, e.g. "user:mesh-system:admin".
	Actor string
	// Zone is "global" for global-scoped events, else the zone name.
	Zone string
	// Since and Until bound the event time, both inclusive; zero means unbounded.
	Since, Until time.Time
	// From is the first sequence considered (0 and 1 both mean the start of the log).
	From uint64
	// Limit bounds the number of events returned (0: no bound).
	Limit int
}

// Match reports whether the record passes the filters (From and Limit are the reader's).
func (q Query) Match(rec Record) bool {
	switch {
	case q.Mesh != "" && rec.Key.Mesh != q.Mesh && (rec.Key.Type != meshType || rec.Key.Name != q.Mesh),
		q.Type != "" && rec.Key.Type != q.Type,
		q.Name != "" && rec.Key.Name != q.Name,
		q.Actor != "" && rec.Event.Actor != q.Actor,
		q.Zone == "global" && !rec.Key.Scope.IsGlobal(),
		q.Zone != "" && q.Zone != "global" && rec.Key.Scope.Zone != q.Zone,
		!q.Since.IsZero() && rec.Event.Time.Before(q.Since),
		q.PastUntil(rec):
		return false
	}
	return true
}

// PastUntil reports whether the event lies after the time range. Event times grow with the
// sequence (the writer stamps them just before appending), so a scan of the log stops there.
func (q Query) PastUntil(rec Record) bool {
	return !q.Until.IsZero() && rec.Event.Time.After(q.Until)
}
