package events

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors of every Store. The API maps them to HTTP status codes; nothing else does.
var (
	// ErrNotFound: the resource has never existed, or the log no longer holds it.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the expected sequence did not match the resource's last event (HTTP 409).
	ErrConflict = errors.New("conflict: resource was changed concurrently")
	// ErrUnavailable: the log cannot be reached right now (HTTP 503).
	ErrUnavailable = errors.New("event log unavailable")
)

// Op is what a change does to a resource.
type Op int

// Ops.
const (
	OpUpsert Op = iota + 1
	OpDelete
)

// Change is one write request to the log.
type Change struct {
	Key Key
	Op  Op
	// ExpectedSequence is the stream sequence of the resource's last event as the writer read it
	// (0: the subject must hold no event at all). This is the optimistic concurrency check.
	ExpectedSequence uint64
	// Revision is the per-resource revision this event gets: the previous event's revision + 1.
	Revision uint64
	// Data is the resource JSON for upserts.
	Data json.RawMessage
	// Actor, CorrelationID: see Event. ID is the idempotency key (Nats-Msg-Id); empty = random.
	Actor         string
	CorrelationID string
	ID            string
	// Reason: see Event.
	Reason string
	// Time is the event time; zero means now.
	Time time.Time
}

// Record is an event as stored, with its position in the stream.
type Record struct {
	Key      Key
	Sequence uint64 // stream sequence: the resource version used for concurrency control
	Event    Event
}

// Store is an append-only event log with per-resource optimistic concurrency.
type Store interface {
	// Append writes one event. It returns ErrConflict when ExpectedSequence is stale, and the
	// original Record (not a duplicate) when Change.ID was already appended.
	Append(ctx context.Context, c Change) (Record, error)
	// Last returns the newest event of a resource, tombstones included; ErrNotFound when none.
	Last(ctx context.Context, k Key) (Record, error)
	// History returns every retained event of a resource, oldest first.
	History(ctx context.Context, k Key) ([]Record, error)
	// Read calls fn for every event with sequence >= from in order, until the end of the log
	// as it was when Read started; it returns the last sequence visited (from-1 if none).
	Read(ctx context.Context, from uint64, fn func(Record) error) (uint64, error)
	// Watch calls fn for every event with sequence >= from, in order, and then for each new
	// event as it is appended, until ctx ends or fn fails.
	Watch(ctx context.Context, from uint64, fn func(Record) error) error
	// LastSequence is the sequence of the newest event in the log (0 when empty).
	LastSequence(ctx context.Context) (uint64, error)
}
