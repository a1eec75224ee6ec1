package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/services/manager"
)

const feedTitle = "Could not retrieve events"

// feedItem is one event of GET /events: the CloudEvents envelope as stored plus its position.
type feedItem struct {
	events.Event
	Sequence uint64 `json:"sequence"`
}

// feedPage is a page of GET /events. There is no total: counting would read the whole log.
type feedPage struct {
	Items []feedItem `json:"items"`
	// Next links to the following page (from=<next sequence>); null on the last page.
	Next *string `json:"next"`
}

// feedFilter selects events of the feed. Empty fields match everything.
type feedFilter struct {
	mesh, typ, name, actor, zone string
	since, until                 time.Time
}

// keep reports whether the event matches. The mesh filter also matches the Mesh resource itself,
// so mesh=demo answers "what happened in demo" including its creation and deletion.
func (f feedFilter) keep(rec events.Record) bool {
	switch {
	case f.mesh != "" && rec.Key.Mesh != f.mesh && (rec.Key.Type != manager.MeshType || rec.Key.Name != f.mesh),
		f.typ != "" && rec.Key.Type != f.typ,
		f.name != "" && rec.Key.Name != f.name,
		f.actor != "" && rec.Event.Actor != f.actor,
		f.zone == "global" && !rec.Key.Scope.IsGlobal(),
		f.zone != "" && f.zone != "global" && rec.Key.Scope.Zone != f.zone,
		!f.since.IsZero() && rec.Event.Time.Before(f.since):
		return false
	}
	return true
}

// pastUntil reports whether the event lies after the time range; the log is in time order, so
// a bounded read stops there.
func (f feedFilter) pastUntil(rec events.Record) bool {
	return !f.until.IsZero() && rec.Event.Time.After(f.until)
}

// parseFeedQuery reads the filters and the start sequence (from, or Last-Event-ID + 1).
func (s *Server) parseFeedQuery(r *http.Request) (feedFilter, uint64, *apiError) {
	q := r.URL.Query()
	f := feedFilter{mesh: q.Get("mesh"), typ: q.Get("type"), name: q.Get("name"),
		actor: q.Get("actor"), zone: q.Get("zone")}
	if d, ok := s.mgr.Registry().ByPath(f.typ); ok {
		f.typ = d.Name // accept "meshtrafficpermissions" as well as "MeshTrafficPermission"
	}
	for field, dst := range map[string]*time.Time{"since": &f.since, "until": &f.until} {
		if v := q.Get(field); v != "" {
			ts, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, 0, badParam(feedTitle, field, "must be an RFC3339 time")
			}
			*dst = ts
		}
	}
	var from uint64
	if v := q.Get("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, 0, badParam(feedTitle, "from", "must be a sequence number")
		}
		from = n
	} else if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, 0, badParam(feedTitle, "Last-Event-ID", "must be a sequence number")
		}
		from = n + 1
	}
	return f, from, nil
}

// eventFeed answers GET /events: a page of the log (oldest first) or, with ?follow=true or
// Accept: text/event-stream, a live Server-Sent Events stream. A page scans the log from
// `from` until it has size+1 matches, so a selective filter over a long log reads much of it;
// the PostgreSQL audit model will serve these queries from indexes.
func (s *Server) eventFeed(w http.ResponseWriter, r *http.Request) {
	f, from, perr := s.parseFeedQuery(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	q := r.URL.Query()
	if q.Get("follow") == "true" || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		s.follow(w, r, f, from, q.Has("from") || r.Header.Get("Last-Event-ID") != "")
		return
	}
	size, _, aerr := page(url.Values{"size": q["size"]})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	resp := feedPage{Items: []feedItem{}}
	var next uint64
	_, err := s.mgr.Store().Read(r.Context(), max(from, 1), func(rec events.Record) error {
		if f.pastUntil(rec) {
			return errStop
		}
		if !f.keep(rec) {
			return nil
		}
		if len(resp.Items) == size {
			next = rec.Sequence // a further match exists: the next page starts there
			return errStop
		}
		resp.Items = append(resp.Items, feedItem{Event: rec.Event, Sequence: rec.Sequence})
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		s.log.Warn("read events failed", "err", err)
		writeError(w, toAPIError(feedTitle, err))
		return
	}
	if next != 0 {
		q.Set("from", strconv.FormatUint(next, 10))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		if r.TLS != nil {
			u.Scheme = "https"
		}
		link := u.String()
		resp.Next = &link
	}
	writeJSON(w, http.StatusOK, resp)
}

// follow streams matching events as Server-Sent Events (id: sequence, event: CloudEvents type,
// data: the feed item) until the client goes away or the server shuts down. Without a start
// position (from or Last-Event-ID) it starts after the newest event, like tail -f.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, f feedFilter, from uint64, explicit bool) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, newError(http.StatusNotAcceptable, feedTitle, "streaming is not supported on this connection"))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.streams, cancel)()
	if !explicit {
		last, err := s.mgr.Store().LastSequence(ctx)
		if err != nil {
			writeError(w, toAPIError(feedTitle, err))
			return
		}
		from = last + 1
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush() // the client knows it is subscribed before the first event
	err := s.mgr.Store().Watch(ctx, max(from, 1), func(rec events.Record) error {
		if !f.keep(rec) || f.pastUntil(rec) {
			return nil
		}
		data, err := json.Marshal(feedItem{Event: rec.Event, Sequence: rec.Sequence})
		if err != nil {
			return fmt.Errorf("encode event %d: %w", rec.Sequence, err)
		}
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", rec.Sequence, rec.Event.Type, data); err != nil {
			return fmt.Errorf("write event %d: %w", rec.Sequence, err)
		}
		flusher.Flush()
		return nil
	})
	if err != nil && ctx.Err() == nil {
		s.log.Debug("event stream ended", "err", err)
	}
}
