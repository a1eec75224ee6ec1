package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/jetmesh/jetmesh/events"
)

// jsonChange is one difference between two JSON documents, addressed by a JSON pointer.
type jsonChange struct {
	Op   string `json:"op"` // "add", "remove" or "replace"
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// diffJSON compares two decoded JSON values (as encoding/json decodes into any) and lists their
// differences in a deterministic order: object keys sorted, array elements by index with
// appended elements in ascending and removed trailing elements in descending index order (so
// the list applies as a JSON Patch). Values of different kinds are one replace.
func diffJSON(a, b any) []jsonChange {
	var out []jsonChange
	diffAt("", a, b, &out)
	return out
}

func diffAt(path string, a, b any, out *[]jsonChange) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			diffObjects(path, av, bv, out)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			diffArrays(path, av, bv, out)
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, jsonChange{Op: "replace", Path: path, From: a, To: b})
	}
}

func diffObjects(path string, a, b map[string]any, out *[]jsonChange) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := path + "/" + escapePointer(k)
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inA:
			*out = append(*out, jsonChange{Op: "add", Path: p, To: bv})
		case !inB:
			*out = append(*out, jsonChange{Op: "remove", Path: p, From: av})
		default:
			diffAt(p, av, bv, out)
		}
	}
}

func diffArrays(path string, a, b []any, out *[]jsonChange) {
	common := min(len(a), len(b))
	for i := range common {
		diffAt(path+"/"+strconv.Itoa(i), a[i], b[i], out)
	}
	for i := common; i < len(b); i++ {
		*out = append(*out, jsonChange{Op: "add", Path: path + "/" + strconv.Itoa(i), To: b[i]})
	}
	for i := len(a) - 1; i >= common; i-- {
		*out = append(*out, jsonChange{Op: "remove", Path: path + "/" + strconv.Itoa(i), From: a[i]})
	}
}

// escapePointer escapes a reference token of a JSON pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// serverFields are the resource fields a user does not write; a diff leaves them out.
var serverFields = []string{"type", "mesh", "name", "creationTime", "modificationTime", "kri"}

// diffContent is what a diff compares of a revision: the resource JSON without the fields the
// server owns, i.e. labels plus the spec (inline for legacy types, "spec" for plugin types).
// A deletion has no content (an empty object), so diffing across it shows everything removed.
func diffContent(ev events.Event) (map[string]any, error) {
	doc := map[string]any{}
	if ev.Deleted() {
		return doc, nil
	}
	if err := json.Unmarshal(redact(ev).Data, &doc); err != nil {
		return nil, fmt.Errorf("decode revision %d: %w", ev.Revision, err)
	}
	for _, f := range serverFields {
		delete(doc, f)
	}
	return doc, nil
}

// revisionRef names one side of a diff.
type revisionRef struct {
	Revision uint64 `json:"revision"`
	Sequence uint64 `json:"sequence"`
	Deleted  bool   `json:"deleted,omitempty"`
}

// diffResponse is the answer of GET .../{name}/_diff. From is null when the diff starts before
// the first retained revision (everything is an add).
type diffResponse struct {
	From    *revisionRef `json:"from"`
	To      revisionRef  `json:"to"`
	Changes []jsonChange `json:"changes"`
}

// parseRevision reads an optional revision parameter; 0 means absent.
func parseRevision(r *http.Request, field, title string) (uint64, *apiError) {
	v := r.URL.Query().Get(field)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, badParam(title, field, "must be a revision number (1 or more)")
	}
	return n, nil
}

// revisionIndex returns the index of the record with the revision in recs, or -1.
func revisionIndex(recs []events.Record, rev uint64) int {
	return slices.IndexFunc(recs, func(rec events.Record) bool { return rec.Event.Revision == rev })
}

// resourceHistory reads a resource's history oldest first, writing a 404 when it has none.
func (s *Server) resourceHistory(w http.ResponseWriter, r *http.Request, t target, title string) ([]events.Record, bool) {
	recs, err := s.auditHistory(w, r, t)
	if err != nil && !errors.Is(err, events.ErrNotFound) {
		s.log.Warn("history failed", "type", t.desc.Name, "mesh", t.mesh, "name", t.name, "err", err)
		writeError(w, toAPIError(title, err))
		return nil, false
	}
	if len(recs) == 0 {
		writeError(w, newError(http.StatusNotFound, title, "Not found"))
		return nil, false
	}
	return recs, true
}

// diff answers GET .../{name}/_diff?from=&to=: the changes of labels and spec between two
// revisions. to defaults to the latest revision, from to the one before to.
func (s *Server) diff(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not compute resource diff"
	from, ferr := parseRevision(r, "from", title)
	to, terr := parseRevision(r, "to", title)
	if ferr != nil || terr != nil {
		writeError(w, firstError(ferr, terr))
		return
	}
	recs, ok := s.resourceHistory(w, r, t, title)
	if !ok {
		return
	}
	ti := len(recs) - 1
	if to != 0 {
		if ti = revisionIndex(recs, to); ti < 0 {
			writeError(w, newError(http.StatusNotFound, title, fmt.Sprintf("revision %d not found", to)))
			return
		}
	}
	fi := ti - 1 // -1: before the first retained revision
	if from != 0 {
		if fi = revisionIndex(recs, from); fi < 0 {
			writeError(w, newError(http.StatusNotFound, title, fmt.Sprintf("revision %d not found", from)))
			return
		}
	}
	resp := diffResponse{To: refOf(recs[ti]), Changes: []jsonChange{}}
	before := map[string]any{}
	if fi >= 0 {
		ref := refOf(recs[fi])
		resp.From = &ref
		var err error
		if before, err = diffContent(recs[fi].Event); err != nil {
			s.internalError(w, title, err)
			return
		}
	}
	after, err := diffContent(recs[ti].Event)
	if err != nil {
		s.internalError(w, title, err)
		return
	}
	if d := diffJSON(before, after); d != nil {
		resp.Changes = d
	}
	writeJSON(w, http.StatusOK, resp)
}

func refOf(rec events.Record) revisionRef {
	return revisionRef{Revision: rec.Event.Revision, Sequence: rec.Sequence, Deleted: rec.Event.Deleted()}
}

// firstError returns the first non-nil error.
func firstError(errs ...*apiError) *apiError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (s *Server) internalError(w http.ResponseWriter, title string, err error) {
	s.log.Warn("request failed", "title", title, "err", err)
	writeError(w, newError(http.StatusInternalServerError, title, "Internal Server Error"))
}
