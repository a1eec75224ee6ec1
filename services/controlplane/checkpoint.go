package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
)

// The read model is checkpointed to a file every CheckpointConfig.Events events or
// CheckpointConfig.Interval (whichever comes first) and on graceful shutdown, so a restart —
// also after a crash — replays only the events after the newest checkpoint. A checkpoint is only
// an optimisation: when it is missing, unreadable or does not match the log, the model is
// rebuilt from sequence 1.
//
// The newest CheckpointConfig.Keep checkpoints also stay in <dir>/past (hard links, no extra
// writes), named by sequence and event time, so a point-in-time read (?at=) starts from the
// newest one at or before its point instead of replaying the log from sequence 1.

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

// checkpointer saves the read model periodically while the CP runs and finds past
// checkpoints for point-in-time reads.
type checkpointer struct {
	path     string
	view     *state.State
	reg      *resources.Registry
	events   uint64        // save once this many events were applied since the last save
	interval time.Duration // save at least this often while events arrive
	keep     int           // past checkpoints kept for ?at=
	log      *slog.Logger

	// saved is the sequence of the newest checkpoint on disk: set from the loaded one before
	// Start (so a long replay is saved soon after), then owned by loop.
	saved  uint64
	cancel context.CancelFunc
	done   chan struct{}
}

func newCheckpointer(cfg Config, view *state.State, reg *resources.Registry, log *slog.Logger) *checkpointer {
	return &checkpointer{path: filepath.Join(cfg.DataDir, "checkpoints", "state.json"), view: view, reg: reg,
		events: uint64(cfg.Checkpoint.Events), interval: time.Duration(cfg.Checkpoint.Interval),
		keep: cfg.Checkpoint.Keep, log: log.With("component", "checkpoint")}
}

func (c *checkpointer) pastDir() string { return filepath.Join(filepath.Dir(c.path), "past") }

// load fills the model from the checkpoint (see loadCheckpoint). Past checkpoints are trusted
// only while the current one matches the log; otherwise (a new log, a lost checkpoint) they
// are removed.
func (c *checkpointer) load(ctx context.Context, store events.Store) {
	c.saved = loadCheckpoint(ctx, c.path, c.view, store, c.log)
	if c.saved == 0 {
		if err := os.RemoveAll(c.pastDir()); err != nil {
			c.log.Warn("could not remove past checkpoints", "err", err)
		}
	}
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
		if c.view.Sequence() == c.saved {
			continue
		}
		began := time.Now()
		seq, err := c.save()
		if err != nil {
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

// save writes the model atomically (temp file, fsync, rename), links it into the past
// checkpoints and prunes those beyond keep. It returns the sequence saved.
func (c *checkpointer) save() (uint64, error) {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	tmp := c.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	seq, at, err := c.view.WriteCheckpointAt(f)
	if err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	if c.keep > 0 && seq > 0 && !at.IsZero() {
		// Linked before the rename, so the past copy is the complete file too.
		if err := os.MkdirAll(c.pastDir(), 0o700); err != nil {
			return 0, fmt.Errorf("checkpoint: %w", err)
		}
		past := filepath.Join(c.pastDir(), fmt.Sprintf("state-%020d-%d.json", seq, at.UnixMicro()))
		if err := os.Link(tmp, past); err != nil && !errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	c.prune()
	return seq, nil
}

// pastCheckpoint is a file in the past directory.
type pastCheckpoint struct {
	path string
	seq  uint64
	at   time.Time
}

// past lists the past checkpoints, newest first; names it cannot parse are skipped.
func (c *checkpointer) past() []pastCheckpoint {
	entries, err := os.ReadDir(c.pastDir())
	if err != nil {
		return nil
	}
	var out []pastCheckpoint
	for _, e := range entries {
		parts := strings.Split(strings.TrimSuffix(e.Name(), ".json"), "-")
		if len(parts) != 3 || parts[0] != "state" {
			continue
		}
		seq, err1 := strconv.ParseUint(parts[1], 10, 64)
		us, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, pastCheckpoint{path: filepath.Join(c.pastDir(), e.Name()), seq: seq, at: time.UnixMicro(us).UTC()})
	}
	slices.SortFunc(out, func(a, b pastCheckpoint) int { return -cmpUint(a.seq, b.seq) })
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// prune removes past checkpoints beyond keep.
func (c *checkpointer) prune() {
	ps := c.past()
	for _, p := range ps[min(c.keep, len(ps)):] {
		if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("could not remove a past checkpoint", "path", p.path, "err", err)
		}
	}
}

// Before implements api.Checkpoints: the read model as of the newest past checkpoint at or
// before the point (sequence seq, or time at when seq is 0), or nil when there is none.
func (c *checkpointer) Before(_ context.Context, seq uint64, at time.Time) (*state.State, error) {
	for _, p := range c.past() {
		if seq > 0 && p.seq > seq || seq == 0 && p.at.After(at) {
			continue
		}
		f, err := os.Open(p.path)
		if errors.Is(err, os.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("past checkpoint: %w", err)
		}
		defer f.Close()
		view := state.New(c.reg)
		if _, _, err := view.ReadCheckpoint(f); err != nil {
			return nil, fmt.Errorf("past checkpoint %s: %w", p.path, err)
		}
		return view, nil
	}
	return nil, nil
}
