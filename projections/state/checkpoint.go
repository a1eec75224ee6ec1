package state

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
)

// checkpointVersion changes whenever the checkpoint format does; older files are ignored.
const checkpointVersion = 1

// checkpoint is the read model at one sequence. LastEventID identifies the event at Sequence so
// a checkpoint is never applied to a different log (a wiped or replaced stream).
type checkpoint struct {
	Version     int    `json:"version"`
	Sequence    uint64 `json:"sequence"`
	LastEventID string `json:"lastEventId"`
	// LastEventTime is the time of that event; absent in checkpoints of older builds.
	LastEventTime *time.Time        `json:"lastEventTime,omitempty"`
	Entries       []checkpointEntry `json:"entries"`
}

type checkpointEntry struct {
	Key      events.Key      `json:"key"`
	Sequence uint64          `json:"sequence"`
	Revision uint64          `json:"revision"`
	Actor    string          `json:"actor,omitempty"`
	Resource json.RawMessage `json:"resource"`
}

// WriteCheckpoint writes the model, the sequence it reflects and the id of the event there.
func (s *State) WriteCheckpoint(w io.Writer) error {
	_, _, err := s.WriteCheckpointAt(w)
	return err
}

// WriteCheckpointAt is WriteCheckpoint returning the sequence written and its event's time.
func (s *State) WriteCheckpointAt(w io.Writer) (seq uint64, at time.Time, err error) {
	s.mu.RLock()
	cp := checkpoint{Version: checkpointVersion, Sequence: s.seq, LastEventID: s.lastID}
	if !s.lastAt.IsZero() {
		at := s.lastAt
		cp.LastEventTime = &at
	}
	for _, meshes := range s.byType {
		for _, names := range meshes {
			for _, e := range names {
				if e.feed != "" {
					continue // replicated streams replay into the model on every start
				}
				var b []byte
				if b, err = json.Marshal(e.Resource); err != nil {
					break
				}
				cp.Entries = append(cp.Entries, checkpointEntry{Key: e.Key, Sequence: e.Sequence,
					Revision: e.Revision, Actor: e.Actor, Resource: b})
			}
		}
	}
	seq, at = s.seq, s.lastAt
	s.mu.RUnlock()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("write checkpoint: %w", err)
	}
	if err := json.NewEncoder(w).Encode(cp); err != nil {
		return 0, time.Time{}, fmt.Errorf("write checkpoint: %w", err)
	}
	return seq, at, nil
}

// ReadCheckpoint loads a checkpoint into an empty model and returns its sequence and the id
// of the event at that sequence, which the caller must check against the log before trusting it.
func (s *State) ReadCheckpoint(r io.Reader) (seq uint64, lastEventID string, err error) {
	var cp checkpoint
	if err := json.NewDecoder(r).Decode(&cp); err != nil {
		return 0, "", fmt.Errorf("read checkpoint: %w", err)
	}
	if cp.Version != checkpointVersion {
		return 0, "", fmt.Errorf("read checkpoint: version %d, want %d", cp.Version, checkpointVersion)
	}
	byType := map[string]map[string]map[string]*Entry{}
	for _, ce := range cp.Entries {
		desc, ok := s.reg.ByName(ce.Key.Type)
		if !ok {
			continue // a type this CP does not serve; Apply keeps those out too
		}
		res, err := resources.DecodeAs(desc, ce.Resource)
		if err != nil {
			return 0, "", fmt.Errorf("read checkpoint: %s: %w", ce.Key, err)
		}
		if byType[ce.Key.Type] == nil {
			byType[ce.Key.Type] = map[string]map[string]*Entry{}
		}
		if byType[ce.Key.Type][ce.Key.Mesh] == nil {
			byType[ce.Key.Type][ce.Key.Mesh] = map[string]*Entry{}
		}
		byType[ce.Key.Type][ce.Key.Mesh][ce.Key.Name] = &Entry{Key: ce.Key, Name: ce.Key.Name, Sequence: ce.Sequence,
			Revision: ce.Revision, Actor: ce.Actor, Resource: res}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq != 0 {
		return 0, "", fmt.Errorf("read checkpoint: the model is not empty")
	}
	if len(s.feeds) != 0 {
		return 0, "", fmt.Errorf("read checkpoint: replicated streams were applied first")
	}
	s.byType, s.seq, s.lastID, s.lastAt = byType, cp.Sequence, cp.LastEventID, time.Time{}
	if cp.LastEventTime != nil {
		s.lastAt = *cp.LastEventTime
	}
	return cp.Sequence, cp.LastEventID, nil
}

// Reset empties the model, e.g. when a loaded checkpoint turns out not to match the log.
func (s *State) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byType, s.seq, s.lastID, s.lastAt = map[string]map[string]map[string]*Entry{}, 0, "", time.Time{}
	s.feeds = map[string]uint64{}
}
