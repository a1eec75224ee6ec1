package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
)

// ErrCorrupt marks a stored message that is not a valid jetmesh event. Readers stop at it: a
// projection that skipped it would silently diverge from the log.
var ErrCorrupt = errors.New("corrupt event log")

// ErrInvalidChange marks a Change that Append refuses before publishing. It is a programming
// error of the caller (the API validates requests first), not a client error.
var ErrInvalidChange = errors.New("invalid change")

// isConflict reports JetStream's "wrong last sequence" answer to an expected-sequence header.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// isUnavailable reports errors that mean the log cannot be reached or cannot take the request
// right now, so that retrying later may succeed. A caller's own cancellation is not one.
func isUnavailable(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, jetstream.ErrStreamNotFound):
		return true
	}
	// JetStream answers 503 when it is temporarily unable to serve (no leader, out of storage).
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}

// wrap adds context to err and marks transport failures with events.ErrUnavailable (keeping
// the cause inspectable with errors.Is).
func wrap(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if isUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", msg, events.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}
