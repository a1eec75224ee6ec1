package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jetmesh/jetmesh/resources"
)

// revertResponse is the answer of POST .../{name}/_revert.
type revertResponse struct {
	// RevertedTo is the revision whose content the resource now has.
	RevertedTo uint64 `json:"revertedTo"`
	// Changed is false when the resource already had that content (no event was written).
	Changed bool `json:"changed"`
	// Deleted is true when the revision was a deletion, so the revert deleted the resource.
	Deleted bool `json:"deleted,omitempty"`
	// Sequence of the revert's event (of the current revision when nothing changed).
	Sequence uint64   `json:"sequence,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// revert answers POST .../{name}/_revert?revision=N: it writes the spec and labels of revision N
// as a new revision through the manager (validated, optimistic concurrency as for PUT), whose
// events carry reason "revert to revision N". Reverting to a deletion deletes the resource.
func (s *Server) revert(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not revert a resource"
	if s.cfg.ReadOnly || t.desc.Internal {
		writeError(w, newError(http.StatusMethodNotAllowed, "Method not Allowed", readOnlyDetail))
		return
	}
	rev, perr := parseRevision(r, "revision", title)
	if perr == nil && rev == 0 {
		perr = badParam(title, "revision", "is required")
	}
	if perr != nil {
		writeError(w, perr)
		return
	}
	recs, ok := s.resourceHistory(w, r, t, title)
	if !ok {
		return
	}
	i := revisionIndex(recs, rev)
	if i < 0 {
		writeError(w, newError(http.StatusNotFound, title, fmt.Sprintf("revision %d not found", rev)))
		return
	}
	who := s.who(r)
	who.Reason = fmt.Sprintf("revert to revision %d", rev)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	defer cancel()
	resp := revertResponse{RevertedTo: rev, Deleted: recs[i].Event.Deleted()}
	if resp.Deleted {
		if recs[len(recs)-1].Event.Deleted() {
			writeJSON(w, http.StatusOK, resp) // already deleted: nothing to do
			return
		}
		if err := s.mgr.Delete(ctx, t.desc, t.mesh, t.name, who); err != nil {
			s.logWriteError("revert", t, err)
			writeError(w, toAPIError(title, err))
			return
		}
		resp.Changed = true
		if last, err := s.mgr.Store().Last(ctx, s.mgr.Key(t.desc, t.mesh, t.name)); err == nil {
			resp.Sequence = last.Sequence
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	res, err := resources.DecodeAs(t.desc, recs[i].Event.Data)
	if err != nil {
		s.internalError(w, title, fmt.Errorf("decode revision %d: %w", rev, err))
		return
	}
	result, err := s.mgr.Apply(ctx, res, who)
	if err != nil {
		s.logWriteError("revert", t, err)
		writeError(w, toAPIError(title, err))
		return
	}
	resp.Changed, resp.Sequence, resp.Warnings = result.Changed, result.Sequence, result.Warnings
	writeJSON(w, http.StatusOK, resp)
}
