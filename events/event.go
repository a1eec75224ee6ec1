// Package events defines jetmesh's event log contract: the CloudEvents envelope every change is
// written as, the subject grammar that addresses resources in JetStream, and the Store interface
// that every log implementation satisfies (see events/storetest for the contract suite).
package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// SpecVersion is the CloudEvents specification version of every envelope.
const SpecVersion = "1.0"

// Event types. The version suffix lets the payload evolve without breaking old readers.
const (
	TypeResourceUpserted = "io.jetmesh.resource.upserted.v1"
	TypeResourceDeleted  = "io.jetmesh.resource.deleted.v1"
)

// Event is one CloudEvents 1.0 envelope in structured JSON mode. Extension attribute names follow
// the CloudEvents rule (lower-case letters and digits only).
type Event struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	// Time is when the change was made, UTC, with microsecond resolution.
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype,omitempty"`

	// Actor says who made the change: "user:admin", "dataplane:demo/backend-1", "zone:east", ...
	Actor string `json:"actor,omitempty"`
	// Origin is where the change was made: "global" or "zone:<name>".
	Origin string `json:"origin,omitempty"`
	// Revision counts the events of one resource, starting at 1 and continuing across
	// delete and re-create, so it orders a resource's history even after replication.
	Revision uint64 `json:"revision"`
	// CorrelationID ties events caused by one request together.
	CorrelationID string `json:"correlationid,omitempty"`
	// Reason says why the change was made when it is not an ordinary write, e.g.
	// "revert to revision 3".
	Reason string `json:"reason,omitempty"`

	// Data is the resource exactly as the REST API shows it; empty for deletions.
	Data json.RawMessage `json:"data,omitempty"`
}

// Deleted reports whether the event is a tombstone.
func (e *Event) Deleted() bool { return e.Type == TypeResourceDeleted }

// Validate checks the attributes the CloudEvents spec requires plus jetmesh's own.
func (e *Event) Validate() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("event %q: specversion %q, want %q", e.ID, e.SpecVersion, SpecVersion)
	case e.ID == "":
		return fmt.Errorf("event without id")
	case e.Source == "":
		return fmt.Errorf("event %q: empty source", e.ID)
	case e.Type != TypeResourceUpserted && e.Type != TypeResourceDeleted:
		return fmt.Errorf("event %q: unknown type %q", e.ID, e.Type)
	case e.Subject == "":
		return fmt.Errorf("event %q: empty subject", e.ID)
	case e.Revision == 0:
		return fmt.Errorf("event %q: revision 0", e.ID)
	case e.Type == TypeResourceUpserted && len(e.Data) == 0:
		return fmt.Errorf("event %q: upsert without data", e.ID)
	}
	return nil
}

// Decode parses an envelope and validates it.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}
