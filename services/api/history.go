package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/manager"
)

// historyItem is one revision of a resource in GET .../{name}/_history.
type historyItem struct {
	Revision      uint64    `json:"revision"`
	Sequence      uint64    `json:"sequence"`
	Time          time.Time `json:"time"`
	Type          string    `json:"type"` // "upserted" or "deleted"
	Actor         string    `json:"actor,omitempty"`
	Origin        string    `json:"origin,omitempty"`
	CorrelationID string    `json:"correlationId,omitempty"`
	// Reason says why, for changes that are not ordinary writes ("revert to revision 3").
	Reason string `json:"reason,omitempty"`
	// Resource is the resource as the API showed it at that revision; absent for deletions.
	Resource json.RawMessage `json:"resource,omitempty"`
}

func newHistoryItem(rec events.Record) historyItem {
	it := historyItem{
		Revision: rec.Event.Revision, Sequence: rec.Sequence, Time: rec.Event.Time, Type: "upserted",
		Actor: rec.Event.Actor, Origin: rec.Event.Origin, CorrelationID: rec.Event.CorrelationID,
		Reason: rec.Event.Reason,
	}
	if rec.Event.Deleted() {
		it.Type = "deleted"
	} else {
		it.Resource = redact(rec.Event).Data
	}
	return it
}

// history answers GET /meshes/{mesh}/{ws}/{name}/_history and /{ws}/{name}/_history: every
// retained event of the resource, newest first unless ?order=asc, in Kuma's list shape.
// It does not require the mesh to exist now: the history of a deleted mesh's policies stays
// readable.
func (s *Server) history(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not retrieve resource history"
	q := r.URL.Query()
	size, offset, perr := page(q)
	if perr != nil {
		writeError(w, perr)
		return
	}
	desc := q.Get("order") == "" || q.Get("order") == "desc"
	if !desc && q.Get("order") != "asc" {
		writeError(w, badParam(title, "order", "must be asc or desc"))
		return
	}
	recs, ok := s.resourceHistory(w, r, t, title)
	if !ok {
		return
	}
	if desc {
		slices.Reverse(recs)
	}
	resp := listResponse{Total: len(recs), Items: []any{}}
	end := min(offset+size, len(recs))
	for _, rec := range recs[min(offset, len(recs)):end] {
		resp.Items = append(resp.Items, newHistoryItem(rec))
	}
	if end < len(recs) {
		next := nextLink(r, end)
		resp.Next = &next
	}
	writeJSON(w, http.StatusOK, resp)
}

// pointInTime is a parsed ?at=: a stream sequence or a time.
type pointInTime struct {
	seq    uint64
	time   time.Time
	bySeq  bool
	passed bool // ?at= was given
}

// includes reports whether an event belongs to the state as it was at p.
func (p pointInTime) includes(rec events.Record) bool {
	if p.bySeq {
		return rec.Sequence <= p.seq
	}
	return !rec.Event.Time.After(p.time)
}

// parseAt reads ?at=<RFC3339 time> or ?at=<sequence>.
func parseAt(q url.Values, title string) (pointInTime, *apiError) {
	v, ok := q["at"]
	if !ok {
		return pointInTime{}, nil
	}
	raw := v[len(v)-1]
	if n, err := strconv.ParseUint(raw, 10, 64); err == nil {
		return pointInTime{seq: n, bySeq: true, passed: true}, nil
	}
	ts, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return pointInTime{}, badParam(title, "at", "must be an RFC3339 time or a sequence number")
	}
	return pointInTime{time: ts, passed: true}, nil
}

// badParam is a 400 naming one query parameter, in Kuma's error shape.
func badParam(title, field, reason string) *apiError {
	e := newError(http.StatusBadRequest, title, "Invalid "+field)
	e.InvalidParameters = []invalidParam{{Field: field, Reason: reason}}
	e.Causes = []cause{{Field: field, Message: reason}}
	return e
}

// errStop ends a Read early; it never reaches a client.
var errStop = errors.New("stop reading")

// Checkpoints finds a saved read model to start a point-in-time replay from.
type Checkpoints interface {
	// Before returns the read model of the newest checkpoint at or before sequence seq (or,
	// when seq is 0, at or before time at), or nil when there is none.
	Before(ctx context.Context, seq uint64, at time.Time) (*state.State, error)
}

// SetCheckpoints makes ?at= replays start from checkpoints. Call it before Start.
func (s *Server) SetCheckpoints(c Checkpoints) { s.checkpoints = c }

// replayFromHeader tells which sequence a ?at= replay started from (1: the whole log).
const replayFromHeader = "X-Jetmesh-Replay-From"

// replay builds the read model as it was at p: the newest checkpoint at or before p (when
// Checkpoints are set and hold one), then the log's events after it up to p. Without a
// checkpoint it folds the log from sequence 1: O(events up to p), in memory, per request.
//
// A checkpoint is exact for its sequence, so the answer is the same either way — except for
// points older than the retention (history max age / max events): the events that retention
// removed are missing from a replay from sequence 1, while a checkpoint taken before they were
// removed still holds their effect, so it answers such points more faithfully, not less.
func (s *Server) replay(ctx context.Context, w http.ResponseWriter, p pointInTime) (*state.State, error) {
	if p.bySeq && p.seq == 0 {
		return state.New(s.mgr.Registry()), nil
	}
	var view *state.State
	if s.checkpoints != nil {
		var err error
		if p.bySeq {
			view, err = s.checkpoints.Before(ctx, p.seq, time.Time{})
		} else {
			view, err = s.checkpoints.Before(ctx, 0, p.time)
		}
		if err != nil {
			s.log.Warn("past checkpoint unusable, replaying the log from the start", "err", err)
			view = nil
		}
	}
	if view == nil {
		view = state.New(s.mgr.Registry())
	}
	from := view.Sequence() + 1
	w.Header().Set(replayFromHeader, strconv.FormatUint(from, 10))
	_, err := s.mgr.Store().Read(ctx, from, func(rec events.Record) error {
		// Times follow the log's order (the writer stamps them just before appending), so the
		// first event past the point ends the prefix.
		if !p.includes(rec) {
			return errStop
		}
		return view.Apply(rec)
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return view, nil
}

// viewAt returns the read model a GET answers from: the live one, or a replay for ?at=. It
// writes the error answer (and returns ok false) for a bad ?at=, a failed replay, or a mesh
// that did not exist at that point.
func (s *Server) viewAt(w http.ResponseWriter, r *http.Request, t target, title string) (*state.State, bool) {
	at, aerr := parseAt(r.URL.Query(), title)
	if aerr != nil {
		writeError(w, aerr)
		return nil, false
	}
	if !at.passed {
		return s.mgr.View(), s.checkMesh(w, t)
	}
	view, err := s.replay(r.Context(), w, at)
	if err != nil {
		s.log.Warn("replay failed", "type", t.desc.Name, "err", err)
		writeError(w, toAPIError(title, err))
		return nil, false
	}
	if t.desc.Scope == resources.ScopeMesh && t.mesh != "" {
		if _, ok := view.Get(manager.MeshType, "", t.mesh); !ok {
			writeError(w, newError(http.StatusNotFound, "Failed to retrieve Mesh", "Not found"))
			return nil, false
		}
	}
	return view, true
}

// getAt answers GET of one resource with ?at= from the resource's own history, without a
// replay: the newest event at or before the point, 404 when there is none or it is a deletion.
func (s *Server) getAt(w http.ResponseWriter, r *http.Request, t target, at pointInTime) {
	const title = "Could not retrieve a resource"
	recs, err := s.mgr.History(r.Context(), t.desc, t.mesh, t.name)
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		writeError(w, toAPIError(title, err))
		return
	}
	var found *events.Record
	for i := range recs {
		if at.includes(recs[i]) {
			found = &recs[i]
		}
	}
	if found == nil || found.Event.Deleted() {
		writeError(w, newError(http.StatusNotFound, title, "Not found"))
		return
	}
	res, err := resources.DecodeAs(t.desc, found.Event.Data)
	if err != nil {
		s.log.Warn("decode stored revision", "type", t.desc.Name, "sequence", found.Sequence, "err", err)
		writeError(w, newError(http.StatusInternalServerError, title, "Internal Server Error"))
		return
	}
	writeJSON(w, http.StatusOK, res)
}
