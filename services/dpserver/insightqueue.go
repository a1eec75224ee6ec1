package dpserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources/core"
)

// insightQueue writes DataplaneInsight changes in the order they were recorded, off the
// stream's critical path. A connecting proxy used to wait for its subscription record (an
// fsynced append) before the projector even started on its config, and when every proxy
// reconnects at once (a CP restart) each waited for all the records queued before its own.
// An insight is telemetry: a record lost to a crash is repaired at the next start, when
// closeStaleSubscriptions closes what the dead process left open. One queue for connect,
// status and disconnect records keeps a proxy's records in order.
type insightQueue struct {
	write func(ctx context.Context, w insightWrite) error
	onErr func(w insightWrite, err error)

	mu     sync.RWMutex // held shared while sending, exclusively to close
	writes chan insightWrite
	done   chan struct{}
}

// insightWrite is one read-modify-write of a dataplane's insight.
type insightWrite struct {
	mesh, name, what string
	fn               func(*core.DataplaneInsight)
}

// insightQueueSize bounds the records waiting; a full queue makes recorders wait, which
// slows a reconnect storm down instead of growing memory without bound.
const insightQueueSize = 4096

// start runs the writer until stop.
func (q *insightQueue) start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.writes, q.done = make(chan insightWrite, insightQueueSize), make(chan struct{})
	go func(writes <-chan insightWrite, done chan<- struct{}) {
		defer close(done)
		for w := range writes {
			q.apply(w)
		}
	}(q.writes, q.done)
}

// record queues w, or writes it at once when the queue is not running (before start, or
// during shutdown after stop).
func (q *insightQueue) record(w insightWrite) {
	q.mu.RLock()
	if q.writes != nil {
		q.writes <- w
		q.mu.RUnlock()
		return
	}
	q.mu.RUnlock()
	q.apply(w)
}

func (q *insightQueue) apply(w insightWrite) {
	// The stream that caused the record may be gone; the write must still happen.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.write(ctx, w); err != nil && !errors.Is(err, events.ErrNotFound) {
		q.onErr(w, err)
	}
}

// stop writes what is queued and ends the writer; later records are written synchronously.
func (q *insightQueue) stop(ctx context.Context) error {
	q.mu.Lock()
	writes, done := q.writes, q.done
	q.writes = nil
	q.mu.Unlock()
	if writes == nil {
		return nil
	}
	close(writes)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
