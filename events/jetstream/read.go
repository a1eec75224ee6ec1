package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
)

const (
	// consumerIdle lets the server remove a reader's consumer that this process failed to delete
	// (crash, lost connection). A live reader pulls far more often than this.
	consumerIdle = time.Minute
	// deleteTimeout bounds the best-effort consumer delete after a read.
	deleteTimeout = 2 * time.Second
)

// Read implements events.Store with an ordered consumer over all of the stream's subjects,
// starting at from (0 counts as 1) and ending at the stream's last sequence when Read starts.
func (s *Store) Read(ctx context.Context, from uint64, fn func(events.Record) error) (uint64, error) {
	from = max(from, 1)
	info, err := s.stream.Info(ctx)
	if err != nil {
		return from - 1, wrap(err, "read %s from %d", s.cfg.Stream, from)
	}
	end := info.State.LastSeq
	if end < from {
		return from - 1, nil
	}
	last := from - 1
	err = s.consume(ctx, from, "", true, func(rec events.Record, pending uint64) (bool, error) {
		if rec.Sequence > end { // appended after Read started; the rest up to end was purged
			return false, nil
		}
		if err := fn(rec); err != nil {
			return false, err
		}
		last = rec.Sequence
		// pending == 0 also ends the read when the events up to end were purged meanwhile.
		return rec.Sequence < end && pending > 0, nil
	})
	if err != nil {
		return last, fmt.Errorf("read %s from %d: %w", s.cfg.Stream, from, err)
	}
	return last, nil
}

// Watch implements events.Store with an ordered consumer that follows the stream from `from`
// (0 counts as 1). It survives reconnects (the ordered consumer resumes after the last event it
// delivered). It returns ctx.Err() when ctx ends, fn's error (wrapped) when fn fails, and an
// error wrapping events.ErrUnavailable when the connection is closed for good.
func (s *Store) Watch(ctx context.Context, from uint64, fn func(events.Record) error) error {
	from = max(from, 1)
	err := s.consume(ctx, from, "", false, func(rec events.Record, _ uint64) (bool, error) {
		return true, fn(rec)
	})
	if ctxErr := ctx.Err(); ctxErr != nil && (err == nil || errors.Is(err, ctxErr)) {
		return ctxErr
	}
	return fmt.Errorf("watch %s from %d: %w", s.cfg.Stream, from, err)
}

// consume delivers events from sequence `from` (on subject filter, if not empty) to fn until fn
// says stop or fails, or ctx ends. fn also gets the number of events the consumer had pending
// after this one. When bounded, consume returns at once if no such event exists.
// The iterator's goroutines belong to nats.go; consume stops them (and deletes the server-side
// consumer) before it returns.
func (s *Store) consume(ctx context.Context, from uint64, filter string, bounded bool,
	fn func(events.Record, uint64) (bool, error),
) error {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: consumerIdle,
	}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return wrap(err, "create consumer")
	}
	defer s.deleteConsumer(ctx, cons)
	if info := cons.CachedInfo(); bounded && info != nil && info.NumPending == 0 {
		return nil
	}

	it, err := cons.Messages()
	if err != nil {
		return wrap(err, "consume")
	}
	defer it.Stop()
	// Next gives up on ctx, but an ordered consumer that is recreating itself after a
	// disconnect waits for Stop, so tie Stop to ctx too.
	defer context.AfterFunc(ctx, it.Stop)()

	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				err = fmt.Errorf("%w: %w", events.ErrUnavailable, err)
			}
			return wrap(err, "next event")
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("%w: message on %s without metadata: %w", ErrCorrupt, msg.Subject(), err)
		}
		rec, err := decode(msg.Subject(), meta.Sequence.Stream, msg.Data())
		if err != nil {
			return err
		}
		more, err := fn(rec, meta.NumPending)
		if err != nil {
			return fmt.Errorf("handle sequence %d: %w", rec.Sequence, err)
		}
		if !more {
			return nil
		}
	}
}

// deleteConsumer removes the reader's ephemeral consumer now instead of after consumerIdle.
// Best effort: the idle timeout cleans up whatever this misses.
func (s *Store) deleteConsumer(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || !s.js.Conn().IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	err := s.stream.DeleteConsumer(ctx, info.Name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.logger.Debug("delete reader consumer", "consumer", info.Name, "error", err)
	}
}
