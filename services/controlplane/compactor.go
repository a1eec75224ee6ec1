package controlplane

import (
	"context"
	"log/slog"
	"time"

	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
)

// compactor drops history older than the configured max age, on a schedule.
type compactor struct {
	store  *jsstore.Store
	maxAge time.Duration
	every  time.Duration
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

func newCompactor(store *jsstore.Store, maxAge time.Duration, log *slog.Logger) *compactor {
	// Compaction cost grows with the number of subjects, not with how much it removes, so run
	// it a tenth of the max age apart, bounded to [1m, 1h].
	every := min(max(maxAge/10, time.Minute), time.Hour)
	return &compactor{store: store, maxAge: maxAge, every: every, log: log}
}

// Start begins compacting in the background.
func (c *compactor) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.loop(ctx)
	return nil
}

// Stop ends the loop and waits for a compaction in progress.
func (c *compactor) Stop(ctx context.Context) error {
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *compactor) loop(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		began := time.Now()
		if err := c.store.Compact(ctx, c.maxAge, began); err != nil && ctx.Err() == nil {
			c.log.Warn("history compaction failed", "err", err)
		} else if ctx.Err() == nil {
			c.log.Debug("history compacted", "maxAge", c.maxAge, "took", time.Since(began))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
