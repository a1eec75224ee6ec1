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

// parseFeedQuery reads the filters and the start sequence (from, or Last-Event-ID + 1).
func (s *Server) parseFeedQuery(r *http.Request) (events.Query, uint64, *apiError) {
	q := r.URL.Query()
	f := events.Query{Mesh: q.Get("mesh"), Type: q.Get("type"), Name: q.Get("name"),
		Actor: q.Get("actor"), Zone: q.Get("zone")}
	if d, ok := s.mgr.Registry().ByPath(f.Type); ok {
		f.Type = d.Name // accept "meshtrafficpermissions" as well as "MeshTrafficPermission"
	}
	for field, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
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
// Accept: text/event-stream, a live Server-Sent Events stream. A page comes from the audit
// index (PostgreSQL) when one is configured and current, else from a scan of the log from
// `from` until it has size+1 matches; both give the same answer.
func (s *Server) eventFeed(w http.ResponseWriter, r *http.Request) {
	f, from, perr := s.parseFeedQuery(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	q := r.URL.Query()
	if q.Get("follow") == "true" || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		w.Header().Set(auditSourceHeader, sourceLog)
		s.follow(w, r, f, from, q.Has("from") || r.Header.Get("Last-Event-ID") != "")
		return
	}
	size, _, aerr := page(url.Values{"size": q["size"]})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	f.From, f.Limit = max(from, 1), size+1 // one more tells whether a next page exists
	recs, err := s.auditEvents(w, r, f)
	if err != nil {
		s.log.Warn("read events failed", "err", err)
		writeError(w, toAPIError(feedTitle, err))
		return
	}
	resp := feedPage{Items: []feedItem{}}
	for i, rec := range recs {
		if i == size {
			q.Set("from", strconv.FormatUint(rec.Sequence, 10))
			u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
			if r.TLS != nil {
				u.Scheme = "https"
			}
			link := u.String()
			resp.Next = &link
			break
		}
		resp.Items = append(resp.Items, feedItem{Event: redact(rec.Event), Sequence: rec.Sequence})
	}
	writeJSON(w, http.StatusOK, resp)
}

// scanEvents answers q by reading the log from q.From: O(events read), which for a selective
// filter over a long log is much of it.
func (s *Server) scanEvents(ctx context.Context, q events.Query) ([]events.Record, error) {
	var out []events.Record
	_, err := s.mgr.Store().Read(ctx, max(q.From, 1), func(rec events.Record) error {
		if q.PastUntil(rec) {
			return errStop
		}
		if !q.Match(rec) {
			return nil
		}
		out = append(out, rec)
		if q.Limit > 0 && len(out) == q.Limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}

// follow streams matching events as Server-Sent Events (id: sequence, event: CloudEvents type,
// data: the feed item) until the client goes away or the server shuts down. Without a start
// position (from or Last-Event-ID) it starts after the newest event, like tail -f.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, f events.Query, from uint64, explicit bool) {
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
		if !f.Match(rec) {
			return nil
		}
		data, err := json.Marshal(feedItem{Event: redact(rec.Event), Sequence: rec.Sequence})
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
