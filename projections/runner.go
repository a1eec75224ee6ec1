// Package projections folds the event log into read models. The Runner owns the consume loop
// (ordered, from the model's last applied sequence, resumed after failures); each read model
// lives in its own package and only implements Model.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/events"
)

// Model is a read model the runner feeds.
type Model interface {
	// Apply folds one record into the model. Records arrive in sequence order, exactly once
	// per model lifetime; an error stops the runner (a model that cannot apply is corrupt).
	Apply(events.Record) error
	// Sequence is the last sequence applied (0 before the first).
	Sequence() uint64
}

// Resyncer is a Model that can re-read where it stands after a failed Apply, e.g. a database
// that was restored or wiped: its Sequence may then go back, and the runner replays from there.
type Resyncer interface {
	Resync(ctx context.Context) error
}

// BatchModel is a Model that applies many records at once, e.g. in one database transaction.
// The runner uses it to catch up (on start and after a failure, such as a rebuild after a
// wipe); the live tail still arrives one record at a time through Apply. ApplyBatch gets
// records in sequence order and must be all-or-nothing and idempotent, like Apply.
type BatchModel interface {
	Model
	ApplyBatch([]events.Record) error
}

// catchUpBatch is how many records a BatchModel gets per ApplyBatch.
const catchUpBatch = 500

// Runner feeds one model from one store.
type Runner struct {
	name  string
	store events.Store
	model Model
	log   *slog.Logger

	// RetryApply treats Apply failures as transient: the runner resumes from the model's
	// sequence after a backoff instead of stopping. For models behind a network (PostgreSQL)
	// whose Apply is exactly-once, so a retried event is never applied twice.
	RetryApply bool

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// NewRunner returns a runner; name appears in logs.
func NewRunner(name string, store events.Store, model Model, log *slog.Logger) *Runner {
	return &Runner{name: name, store: store, model: model, log: log.With("projection", name)}
}

// Start catches the model up with the log as it is now, then keeps following it in the
// background until Stop. It returns once caught up, so a server started after it never
// answers from a partial state.
func (r *Runner) Start(ctx context.Context) error {
	target, err := r.store.LastSequence(ctx)
	if err != nil {
		return fmt.Errorf("projection %s: %w", r.name, err)
	}
	began := time.Now()
	if err := r.catchUp(ctx); err != nil {
		return fmt.Errorf("projection %s: replay: %w", r.name, err)
	}
	if got := r.model.Sequence(); got < target {
		return fmt.Errorf("projection %s: replay stopped at %d of %d", r.name, got, target)
	}
	r.log.Info("projection caught up", "sequence", r.model.Sequence(), "took", time.Since(began))

	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.follow(runCtx)
	return nil
}

// Stop ends the follow loop and waits for it.
func (r *Runner) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("projection %s: stop: %w", r.name, ctx.Err())
	}
}

// Err returns the error that stopped the runner for good, if any.
func (r *Runner) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// catchUp reads the log from the model's sequence to its end as it is now, in batches when
// the model takes them.
func (r *Runner) catchUp(ctx context.Context) error {
	bm, ok := r.model.(BatchModel)
	if !ok {
		_, err := r.store.Read(ctx, r.model.Sequence()+1, r.apply)
		return err
	}
	var batch []events.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		first, last := batch[0].Sequence, batch[len(batch)-1].Sequence
		err := bm.ApplyBatch(batch)
		batch = batch[:0]
		if err != nil {
			return &applyError{fmt.Errorf("apply sequences %d-%d: %w", first, last, err)}
		}
		return nil
	}
	_, err := r.store.Read(ctx, r.model.Sequence()+1, func(rec events.Record) error {
		if rec.Sequence <= r.model.Sequence() {
			return nil
		}
		batch = append(batch, rec)
		if len(batch) < catchUpBatch {
			return nil
		}
		return flush()
	})
	if err != nil {
		return err
	}
	return flush()
}

func (r *Runner) apply(rec events.Record) error {
	if rec.Sequence <= r.model.Sequence() {
		return nil // a resumed consumer may repeat what was applied
	}
	if err := r.model.Apply(rec); err != nil {
		return &applyError{fmt.Errorf("apply sequence %d (%s): %w", rec.Sequence, rec.Key, err)}
	}
	return nil
}

type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// follow watches the log; transport failures are retried with backoff, apply failures stop it.
func (r *Runner) follow(ctx context.Context) {
	defer close(r.done)
	backoff := 50 * time.Millisecond
	for {
		from := r.model.Sequence() + 1
		err := r.catchUp(ctx) // after a failure there may be much to replay: in batches
		if err == nil {
			err = r.store.Watch(ctx, r.model.Sequence()+1, r.apply)
		}
		if ctx.Err() != nil {
			return
		}
		var ae *applyError
		if errors.As(err, &ae) && !r.RetryApply {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			r.log.Error("projection stopped", "err", err)
			return
		}
		if r.model.Sequence() >= from {
			backoff = 50 * time.Millisecond // it made progress: this is a new failure
		}
		r.log.Warn("projection watch failed, resuming", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
		if rs, ok := r.model.(Resyncer); ok && ae != nil {
			if err := rs.Resync(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("projection resync failed, retrying", "err", err)
			} else if ctx.Err() == nil {
				r.log.Info("projection resynced", "sequence", r.model.Sequence())
			}
		}
	}
}
