package dpserver

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jetmesh/jetmesh/resources/core"
)

// Records are written in the order they were made (a proxy's connect before its
// disconnect), everything queued is written by stop, and records after stop are written at
// once rather than lost.
func TestInsightQueueOrderAndShutdown(t *testing.T) {
	var mu sync.Mutex
	var written []string
	q := &insightQueue{
		write: func(_ context.Context, w insightWrite) error {
			mu.Lock()
			defer mu.Unlock()
			written = append(written, w.what)
			return nil
		},
		onErr: func(w insightWrite, err error) { t.Errorf("%s: %v", w.what, err) },
	}
	q.record(insightWrite{what: "before-start", fn: func(*core.DataplaneInsight) {}})
	q.start()
	var want []string
	want = append(want, "before-start")
	for i := range 2 * insightQueueSize { // more than fits: recorders wait, nothing is dropped
		what := fmt.Sprintf("r%d", i)
		want = append(want, what)
		q.record(insightWrite{what: what})
	}
	if err := q.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.record(insightWrite{what: "after-stop"})
	want = append(want, "after-stop")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(written, want) {
		t.Fatalf("written %d records (first %v), want %d in order", len(written), written[:min(5, len(written))], len(want))
	}
}
