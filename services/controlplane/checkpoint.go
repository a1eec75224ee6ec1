package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
)

// The read model is checkpointed to a file every CheckpointConfig.Events events or
// CheckpointConfig.Interval (whichever comes first) and on graceful shutdown, so a restart —
// also after a crash — replays only the events after the newest checkpoint. A checkpoint is only
// an optimisation: when it is missing, unreadable or does not match the log, the model is
// rebuilt from sequence 1.

var errStop = errors.New("stop")

// loadCheckpoint fills view from path when the file matches the log and returns its sequence;
// otherwise view stays empty, the runner replays everything, and it returns 0.
func loadCheckpoint(ctx context.Context, path string, view *state.State, store events.Store, log *slog.Logger) uint64 {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		log.Warn("checkpoint unreadable, replaying the log", "path", path, "err", err)
		return 0
	}
	defer f.Close()
	seq, id, err := view.ReadCheckpoint(f)
	if err != nil {
		log.Warn("checkpoint unreadable, replaying the log", "path", path, "err", err)
		view.Reset()
		return 0
	}
	if seq == 0 {
		return 0
	}
	var at events.Record
	_, err = store.Read(ctx, seq, func(r events.Record) error { at = r; return errStop })
	if err != nil && !errors.Is(err, errStop) || at.Sequence != seq || at.Event.ID != id {
		log.Warn("checkpoint does not match the log, replaying it", "path", path, "sequence", seq)
		view.Reset()
		return 0
	}
	log.Info("loaded read model checkpoint", "sequence", seq)
	return seq
}

// saveCheckpoint writes the model atomically (temp file, fsync, rename).
func saveCheckpoint(path string, view *state.State) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := view.WriteCheckpoint(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// checkpointer saves the read model periodically while the CP runs.
type checkpointer struct {
	path     string
	view     *state.State
	events   uint64        // save once this many events were applied since the last save
	interval time.Duration // save at least this often while events arrive
	log      *slog.Logger

	// saved is the sequence of the newest checkpoint on disk: set from the loaded one before
	// Start (so a long replay is saved soon after), then owned by loop.
	saved  uint64
	cancel context.CancelFunc
	done   chan struct{}
}

func newCheckpointer(path string, view *state.State, cfg CheckpointConfig, log *slog.Logger) *checkpointer {
	return &checkpointer{path: path, view: view, events: uint64(cfg.Events),
		interval: time.Duration(cfg.Interval), log: log}
}

// Start saves in the background.
func (c *checkpointer) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.loop(ctx)
	return nil
}

// Stop ends the loop and waits for a save in progress; the final save is the caller's.
func (c *checkpointer) Stop(ctx context.Context) error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("checkpointer: stop: %w", ctx.Err())
	}
}

// loop waits until `events` more events were applied or `interval` passed, and saves when the
// model moved since the last save. It polls nothing: WaitFor wakes it on the event count.
func (c *checkpointer) loop(ctx context.Context) {
	defer close(c.done)
	for {
		waitCtx, cancel := context.WithTimeout(ctx, c.interval)
		err := c.view.WaitFor(waitCtx, c.saved+c.events)
		cancel()
		if ctx.Err() != nil {
			return
		}
		_ = err // a timeout only means "the interval passed"
		seq := c.view.Sequence()
		if seq == c.saved {
			continue
		}
		began := time.Now()
		if err := saveCheckpoint(c.path, c.view); err != nil {
			c.log.Warn("periodic read model checkpoint failed", "err", err)
			// Try again after the next interval, not at once: the disk may be full.
			select {
			case <-ctx.Done():
				return
			case <-time.After(c.interval):
			}
			continue
		}
		c.saved = seq
		c.log.Debug("read model checkpoint saved", "sequence", seq, "took", time.Since(began))
	}
}
