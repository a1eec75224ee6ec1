package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
)

// The read model is checkpointed to a file on graceful shutdown, so a restart replays only the
// events after it. A checkpoint is only an optimisation: after a crash, or when it does not
// match the log, the model is rebuilt from sequence 1.

var errStop = errors.New("stop")

// loadCheckpoint fills view from path when the file matches the log; otherwise view stays
// empty and the runner replays everything.
func loadCheckpoint(ctx context.Context, path string, view *state.State, store events.Store, log *slog.Logger) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		log.Warn("checkpoint unreadable, replaying the log", "path", path, "err", err)
		return
	}
	defer f.Close()
	seq, id, err := view.ReadCheckpoint(f)
	if err != nil {
		log.Warn("checkpoint unreadable, replaying the log", "path", path, "err", err)
		view.Reset()
		return
	}
	if seq == 0 {
		return
	}
	var at events.Record
	_, err = store.Read(ctx, seq, func(r events.Record) error { at = r; return errStop })
	if err != nil && !errors.Is(err, errStop) || at.Sequence != seq || at.Event.ID != id {
		log.Warn("checkpoint does not match the log, replaying it", "path", path, "sequence", seq)
		view.Reset()
		return
	}
	log.Info("loaded read model checkpoint", "sequence", seq)
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
