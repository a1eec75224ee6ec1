package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jetmesh/jetmesh/events"
)

// AuditIndex answers audit queries from an index of the log (the PostgreSQL audit log,
// projections/postgres) instead of reading the log. It is a projection and may lag the log or
// be unavailable; the API then answers from the log, which gives the same answer slower.
type AuditIndex interface {
	// Events returns the events matching q oldest first, from q.From, at most q.Limit.
	Events(ctx context.Context, q events.Query) ([]events.Record, error)
	// History returns every event of a resource, oldest first.
	History(ctx context.Context, k events.Key) ([]events.Record, error)
	// WaitFor returns once the index holds every event up to seq, or fails when ctx ends.
	WaitFor(ctx context.Context, seq uint64) error
	// Sequence is the last sequence the index holds.
	Sequence() uint64
}

// ReplicaIndex is an index (AuditIndex, ResourceIndex) that also follows the replicated
// streams this CP folds in: a zone's log on the global; the global's log and the other
// zones' ingresses on a zone. Without it, lists of replicated types and their history come
// from the in-memory model and the replica logs.
type ReplicaIndex interface {
	// WaitForReplicas returns once the index holds every event of each stream up to its
	// sequence in want, or fails when ctx ends or a stream is not followed.
	WaitForReplicas(ctx context.Context, want map[string]uint64) error
	// ReplicaHistory returns every event of a resource a stream delivered, oldest first.
	ReplicaHistory(ctx context.Context, stream string, k events.Key) ([]events.Record, error)
}

// auditSourceHeader says which store answered an audit request, for operators and tests.
const auditSourceHeader = "X-Jetmesh-Audit-Source"

// Values of auditSourceHeader.
const (
	sourceIndex = "postgres"
	sourceLog   = "log"
)

// auditIndexMaxWait bounds how long a request waits for the index to catch up with the read
// model (normally milliseconds) before it reads the log instead; an index further behind than
// auditIndexMaxLag events (rebuilding, or stalled) is not waited for at all.
const (
	auditIndexMaxWait = time.Second
	auditIndexMaxLag  = 1000
)

// SetAuditIndex makes history and event-feed pages come from idx. Call it before Start.
func (s *Server) SetAuditIndex(idx AuditIndex) { s.audit = idx }

// currentIndex returns the audit index once it reflects at least what the read model does —
// so a client reading its own write sees it — or nil when there is none or it lags.
func (s *Server) currentIndex(ctx context.Context) AuditIndex {
	if s.audit == nil || !s.caughtUp(ctx, "audit", s.audit) {
		return nil
	}
	return s.audit
}

// followingIndex is an index of this CP's own log (AuditIndex, ResourceIndex).
type followingIndex interface {
	WaitFor(ctx context.Context, seq uint64) error
	Sequence() uint64
}

// caughtUp waits, within bounds, until idx holds every event the read model has applied, and
// reports whether it does; false when it is far behind, stalled or failing.
func (s *Server) caughtUp(ctx context.Context, what string, idx followingIndex) bool {
	want := s.mgr.View().Sequence()
	if have := idx.Sequence(); have+auditIndexMaxLag < want {
		s.log.Debug(what+" index far behind the log, not using it", "index", have, "log", want)
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, auditIndexMaxWait)
	defer cancel()
	if err := idx.WaitFor(wctx, want); err != nil {
		s.log.Debug(what+" index behind the log, not using it", "err", err)
		return false
	}
	return true
}

// replicasCaughtUp reports whether idx follows the replicated streams in want (stream:
// sequence; nil for all that feed the read model) and holds what the read model has applied
// from each, waiting within the same bounds as caughtUp. With no stream to follow (a
// standalone CP) any index is caught up.
func (s *Server) replicasCaughtUp(ctx context.Context, idx any, want map[string]uint64) (ReplicaIndex, bool) {
	if want == nil {
		want = s.mgr.View().FeedSequences()
	}
	ri, ok := idx.(ReplicaIndex)
	if !ok {
		return nil, len(want) == 0
	}
	wctx, cancel := context.WithTimeout(ctx, auditIndexMaxWait)
	defer cancel()
	if err := ri.WaitForReplicas(wctx, want); err != nil {
		s.log.Debug("index behind the replicated streams, not using it", "err", err)
		return nil, false
	}
	return ri, true
}

// auditEvents answers q from the index when it is current and works, else from the log, and
// says which in the response header.
func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request, q events.Query) ([]events.Record, error) {
	if idx := s.currentIndex(r.Context()); idx != nil {
		recs, err := idx.Events(r.Context(), q)
		if err == nil {
			w.Header().Set(auditSourceHeader, sourceIndex)
			return recs, nil
		}
		if r.Context().Err() != nil {
			return nil, err
		}
		s.log.Warn("audit index query failed, reading the log", "err", err)
	}
	w.Header().Set(auditSourceHeader, sourceLog)
	return s.scanEvents(r.Context(), q)
}

// auditHistory is auditEvents for one resource's history (ErrNotFound or empty: none). A
// replicated resource (a global policy on a zone, a zone's dataplane on the global) is read
// from the index when it follows the stream it arrived through, else from that replica's log.
func (s *Server) auditHistory(w http.ResponseWriter, r *http.Request, t target) ([]events.Record, error) {
	if stream, k, ok := s.mgr.ReplicaOf(t.desc, t.mesh, t.name); ok {
		if idx := s.currentIndex(r.Context()); idx != nil {
			want := map[string]uint64{stream: s.mgr.View().FeedSequences()[stream]}
			if ri, ok := s.replicasCaughtUp(r.Context(), idx, want); ok {
				recs, err := ri.ReplicaHistory(r.Context(), stream, k)
				if err == nil {
					w.Header().Set(auditSourceHeader, sourceIndex)
					return recs, nil
				}
				if r.Context().Err() != nil {
					return nil, err
				}
				s.log.Warn("audit index history failed, reading the replica", "stream", stream, "err", err)
			}
		}
		w.Header().Set(auditSourceHeader, sourceLog)
		recs, err := s.mgr.History(r.Context(), t.desc, t.mesh, t.name)
		if errors.Is(err, events.ErrNotFound) {
			return nil, nil
		}
		return recs, err
	}
	k := s.mgr.Key(t.desc, t.mesh, t.name)
	if idx := s.currentIndex(r.Context()); idx != nil {
		recs, err := idx.History(r.Context(), k)
		if err == nil {
			w.Header().Set(auditSourceHeader, sourceIndex)
			return recs, nil
		}
		if r.Context().Err() != nil {
			return nil, err
		}
		s.log.Warn("audit index history failed, reading the log", "err", err)
	}
	w.Header().Set(auditSourceHeader, sourceLog)
	recs, err := s.mgr.Store().History(r.Context(), k)
	if errors.Is(err, events.ErrNotFound) {
		return nil, nil
	}
	return recs, err
}
