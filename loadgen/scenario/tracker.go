package scenario

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/proxy"
)

// watch fans the fleet's updates out to the armed tracker, if any.
type watch struct {
	cur atomic.Pointer[tracker]

	mu       sync.Mutex
	complete chan *proxy.Proxy
	reported map[*proxy.Proxy]bool
}

// observe is the fleet's Observer.
func (w *watch) observe(p *proxy.Proxy, typeURL string, at time.Time) {
	w.reportComplete(p)
	if t := w.cur.Load(); t != nil {
		t.observe(p, typeURL, at)
	}
}

// arm starts tracking cond on proxies; the tracker is armed before the change is made so no
// update can slip between the change and the tracking.
func (w *watch) arm(proxies []*proxy.Proxy, typeURL string, cond func(*proxy.Proxy) bool) *tracker {
	t := &tracker{typeURL: typeURL, cond: cond, pending: map[*proxy.Proxy]bool{}, at: map[*proxy.Proxy]time.Time{},
		done: make(chan struct{})}
	for _, p := range proxies {
		t.pending[p] = true
	}
	w.cur.Store(t)
	// A proxy that already satisfies cond (nothing to wait for) counts as reached at arm time.
	now := time.Now()
	for _, p := range proxies {
		if cond(p) {
			t.reached(p, now)
		}
	}
	if len(proxies) == 0 {
		t.closeOnce.Do(func() { close(t.done) })
	}
	return t
}

func (w *watch) disarm(t *tracker) { w.cur.CompareAndSwap(t, nil) }

// tracker records when each of a set of proxies first satisfies a condition.
type tracker struct {
	typeURL   string // only updates of this type are checked ("" = all)
	cond      func(*proxy.Proxy) bool
	closeOnce sync.Once
	done      chan struct{}

	mu      sync.Mutex
	pending map[*proxy.Proxy]bool
	at      map[*proxy.Proxy]time.Time
}

func (t *tracker) observe(p *proxy.Proxy, typeURL string, at time.Time) {
	if t.typeURL != "" && typeURL != t.typeURL {
		return
	}
	t.mu.Lock()
	waiting := t.pending[p]
	t.mu.Unlock()
	if waiting && t.cond(p) {
		t.reached(p, at)
	}
}

func (t *tracker) reached(p *proxy.Proxy, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.pending[p] {
		return
	}
	delete(t.pending, p)
	t.at[p] = at
	if len(t.pending) == 0 {
		t.closeOnce.Do(func() { close(t.done) })
	}
}

// wait blocks until every proxy satisfied the condition, or ctx ends; it returns the times
// recorded so far and an error naming what is missing.
func (t *tracker) wait(ctx context.Context) (map[*proxy.Proxy]time.Time, error) {
	select {
	case <-t.done:
	case <-ctx.Done():
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[*proxy.Proxy]time.Time, len(t.at))
	for p, at := range t.at {
		out[p] = at
	}
	if len(t.pending) == 0 {
		return out, nil
	}
	var missing []string
	for p := range t.pending {
		missing = append(missing, p.NodeID())
	}
	slices.Sort(missing)
	if len(missing) > 5 {
		missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
	}
	return out, fmt.Errorf("%d of %d proxies never got there (%v): %w", len(t.pending), len(t.pending)+len(t.at), missing, ctx.Err())
}

// latest returns the latest time in times relative to start (never negative: a proxy can
// hold a change before the API's response reaches the client).
func latest(times map[*proxy.Proxy]time.Time, start time.Time) time.Duration {
	var worst time.Duration
	for _, at := range times {
		worst = max(worst, at.Sub(start))
	}
	return worst
}

// each returns every time in times relative to start, clamped at zero.
func each(times map[*proxy.Proxy]time.Time, start time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(times))
	for _, at := range times {
		out = append(out, max(0, at.Sub(start)))
	}
	return out
}

// sink returns a channel that receives each proxy once, when its config first becomes
// complete; n is its buffer (the proxies expected).
func (w *watch) sink(n int) <-chan *proxy.Proxy {
	ch := make(chan *proxy.Proxy, n)
	w.mu.Lock()
	w.complete = ch
	w.mu.Unlock()
	return ch
}

func (w *watch) unsink() {
	w.mu.Lock()
	w.complete = nil
	w.mu.Unlock()
}

// reportComplete sends a newly complete proxy to the sink, once.
func (w *watch) reportComplete(p *proxy.Proxy) {
	if p.CompleteAt().IsZero() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reported == nil {
		w.reported = map[*proxy.Proxy]bool{}
	}
	if w.reported[p] || w.complete == nil {
		return
	}
	w.reported[p] = true
	select {
	case w.complete <- p:
	default: // more completions than announced: the reader is not waiting for this one
	}
}
