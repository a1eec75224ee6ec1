package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Compact applies a history max age (Config.HistoryMaxAge): it purges every event stored
// before now-maxAge, except the newest event of each live resource, which is its current state.
// A resource whose newest event is such an old tombstone disappears entirely (Last then says
// ErrNotFound, and re-creating it starts from expected sequence 0). maxAge <= 0 keeps all.
//
// Age is the time JetStream stored the event, not the envelope's time attribute: storage time
// grows with the sequence, so "older than the cutoff" is "below one cutoff sequence", found by
// binary search with O(log n) direct gets, and each purge is a sequence prefix of one subject.
//
// Cost: one stream-info request listing every subject of the stream (the whole subject map is
// held in memory; nats.go pages through it), then per subject one direct get and at most one
// purge. Meant for an hourly or daily maintenance run, not for a hot path. Events appended
// while Compact runs are never purged: each purge stops below the newest event Compact read.
func (s *Store) Compact(ctx context.Context, maxAge time.Duration, now time.Time) error {
	if maxAge <= 0 {
		return nil
	}
	cutoff := now.Add(-maxAge)
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return wrap(err, "compact %s: stream info", s.cfg.Stream)
	}
	st := info.State
	if st.Msgs == 0 {
		return nil
	}
	bound, err := s.firstSeqAtOrAfter(ctx, cutoff, st.FirstSeq, st.LastSeq)
	if err != nil {
		return fmt.Errorf("compact %s: %w", s.cfg.Stream, err)
	}
	if bound <= st.FirstSeq {
		return nil // nothing is old enough
	}
	var purged int
	for subject, count := range st.Subjects {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("compact %s: %w", s.cfg.Stream, err)
		}
		upTo, err := s.purgeBound(ctx, subject, count, bound)
		if err != nil {
			return fmt.Errorf("compact %s: %w", s.cfg.Stream, err)
		}
		if upTo == 0 {
			continue
		}
		if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(upTo)); err != nil {
			return wrap(err, "compact %s: purge %s below %d", s.cfg.Stream, subject, upTo)
		}
		purged++
	}
	s.logger.Info("compacted event history", "cutoff", cutoff, "cutoffSequence", bound,
		"subjects", len(st.Subjects), "purgedSubjects", purged)
	return nil
}

// purgeBound returns the sequence below which the subject's events go, or 0 to keep them all.
func (s *Store) purgeBound(ctx context.Context, subject string, count, bound uint64) (uint64, error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil // purged meanwhile
	}
	if err != nil {
		return 0, wrap(err, "last of %s", subject)
	}
	last, err := decode(raw.Subject, raw.Sequence, raw.Data)
	if err != nil {
		return 0, err
	}
	switch {
	case last.Sequence >= bound:
		// The current state is recent: drop only the old part of the history.
		if count <= 1 {
			return 0, nil
		}
		return bound, nil
	case last.Event.Deleted():
		return last.Sequence + 1, nil // old tombstone: the resource is gone for good
	case count <= 1:
		return 0, nil // old but current state
	default:
		return last.Sequence, nil // keep only the current state
	}
}

// firstSeqAtOrAfter returns the sequence of the first event stored at or after t (last+1 when
// there is none) by binary search over [first, last], relying on storage times growing with
// the sequence. Purged gaps are skipped by asking for the next message at or after a sequence.
func (s *Store) firstSeqAtOrAfter(ctx context.Context, t time.Time, first, last uint64) (uint64, error) {
	lo, hi := first, last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		raw, err := s.stream.GetMsg(ctx, mid, jetstream.WithGetMsgSubject(">"))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			hi = mid // nothing stored at or after mid
		case err != nil:
			return 0, wrap(err, "find cutoff sequence")
		case raw.Time.Before(t):
			lo = min(raw.Sequence+1, hi)
		default:
			hi = mid
		}
	}
	return lo, nil
}
