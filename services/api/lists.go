package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
)

// ResourceIndex answers resource lists from an index of this CP's own log (the PostgreSQL
// read model, projections/postgres) instead of the in-memory read model. Like AuditIndex it
// may lag or fail; the API then lists the in-memory model, which gives the same answer.
type ResourceIndex interface {
	// List returns one page of a type's live resources ordered by name then mesh, byte-wise.
	List(ctx context.Context, q ResourceQuery) (ResourcePage, error)
	// WaitFor returns once the index holds every event up to seq, or fails when ctx ends.
	WaitFor(ctx context.Context, seq uint64) error
	// Sequence is the last sequence the index holds.
	Sequence() uint64
}

// ResourceQuery is one list page: state.Filter's Mesh, NameLike and Labels, paged, over every
// stream the index follows.
type ResourceQuery struct {
	Type     string
	Mesh     string // "" for every mesh
	NameLike string
	Labels   map[string]string
	Offset   int
	Limit    int
}

// ResourcePage is how many resources match and the page's resources as the event carried
// them (any key order: they are decoded before they are served).
type ResourcePage struct {
	Total int
	Items []json.RawMessage
}

// listSourceHeader says which store answered a list, for operators and tests.
const listSourceHeader = "X-Jetmesh-List-Source"

// sourceMemory is the in-memory read model, as listSourceHeader names it.
const sourceMemory = "memory"

// SetResourceIndex makes list pages come from idx where it can answer them. Call it before
// Start.
func (s *Server) SetResourceIndex(idx ResourceIndex) { s.lists = idx }

// listFromIndex answers a list page from the resource index, or returns false (and nothing
// written) when the in-memory model must answer it. The index answers only what it answers
// exactly as the model would:
//   - the live view, not a ?at= replay (a past state is replayed in memory);
//   - no overview (+insights, _overview): the page joins each resource with its insight, which
//     the model holds next to it;
//   - no dataplane tag or gateway filter: those match inside the spec (any inbound's tags), and
//     a filter applied after paging would break the offsets;
//   - an index that has caught up with the model (read-your-writes) and answers: with the own
//     log, and with every replicated stream the model folds in (a zone's dataplanes on the
//     global, global policies on a zone, other zones' resources under "<name>.<zone>"), which
//     only a ReplicaIndex follows. An index that does not follow them lists only on a CP that
//     folds in no replicated stream.
func (s *Server) listFromIndex(w http.ResponseWriter, r *http.Request, t target, view *state.State,
	f state.Filter, size, offset int) bool {
	if s.lists == nil || view != s.mgr.View() || t.overview || f.Match != nil {
		return false
	}
	if !s.caughtUp(r.Context(), "resource", s.lists) {
		return false
	}
	if _, ok := s.replicasCaughtUp(r.Context(), s.lists, nil); !ok {
		return false
	}
	q := ResourceQuery{Type: t.desc.Name, Mesh: f.Mesh,
		NameLike: f.NameLike, Labels: f.Labels, Offset: offset, Limit: size}
	page, err := s.lists.List(r.Context(), q)
	if err == nil {
		var resp listResponse
		if resp, err = pageResponse(t.desc, page); err == nil {
			if offset+size < page.Total {
				next := nextLink(r, offset+size)
				resp.Next = &next
			}
			w.Header().Set(listSourceHeader, sourceIndex)
			writeJSON(w, http.StatusOK, resp)
			return true
		}
	}
	if r.Context().Err() == nil {
		s.log.Warn("resource index list failed, listing the read model", "type", t.desc.Name, "err", err)
	}
	return false
}

// pageResponse decodes the page's resources as the read model does, so they are served as
// the same *resources.Resource values (same fields, same order).
func pageResponse(desc *resources.Descriptor, page ResourcePage) (listResponse, error) {
	resp := listResponse{Total: page.Total, Items: make([]any, 0, len(page.Items))}
	for _, raw := range page.Items {
		res, err := resources.DecodeAs(desc, raw)
		if err != nil {
			return listResponse{}, fmt.Errorf("decode listed %s: %w", desc.Name, err)
		}
		resp.Items = append(resp.Items, res)
	}
	return resp, nil
}
