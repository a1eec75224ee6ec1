package zonesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
)

// A mirror can stall: after a link flap shorter than nats-server's source health interval, a
// pending consumer-create request times out only after 30s and is then retried with a
// growing back-off (up to 2 minutes), all the while reporting lag 0. The watchdog compares
// each mirror with its origin's last sequence and, when the origin is ahead and the mirror has
// not moved for StallAfter, recreates the mirror. A mirror keeps the origin's sequences, so the
// read model's per-stream positions stay valid across a recreation: its feeds simply resume.

// Replica is one mirror the watchdog looks after.
type Replica struct {
	// Stream is the mirror's name in the local domain.
	Stream string
	// Origin describes the stream it copies, for the status.
	Origin string
	config jsstore.Config
}

// ReplicaStatus is what GET /_replication shows per mirror.
type ReplicaStatus struct {
	Stream string `json:"stream"`
	Origin string `json:"origin"`
	// OriginSequence is the origin's last sequence as last seen (0: never seen).
	OriginSequence uint64 `json:"originSequence"`
	// ReplicaSequence is the mirror's last sequence.
	ReplicaSequence uint64 `json:"replicaSequence"`
	// Lag is how many events the mirror is behind the origin.
	Lag uint64 `json:"lag"`
	// OriginSeen is when the origin's position was last learned.
	OriginSeen *time.Time `json:"originSeen,omitempty"`
	// Stalled: behind the origin and not moving for the stall threshold.
	Stalled    bool       `json:"stalled"`
	Recoveries int        `json:"recoveries"`
	Recovered  *time.Time `json:"lastRecovery,omitempty"`
}

// OriginPositions returns the origins' last sequences by local mirror name; a missing entry
// means the origin is unreachable right now (which is not a stall).
type OriginPositions func(ctx context.Context) map[string]uint64

// Watchdog watches mirrors for stalls.
type Watchdog struct {
	js         jetstream.JetStream
	origins    OriginPositions
	stallAfter time.Duration
	log        *slog.Logger

	mu       sync.Mutex
	replicas map[string]*watched
}

type watched struct {
	Replica
	status    ReplicaStatus
	lastMoved time.Time
}

// NewWatchdog returns a watchdog for mirrors in js's domain.
func NewWatchdog(js jetstream.JetStream, origins OriginPositions, stallAfter time.Duration, log *slog.Logger) *Watchdog {
	return &Watchdog{js: js, origins: origins, stallAfter: stallAfter, log: log, replicas: map[string]*watched{}}
}

// Watch adds a mirror.
func (w *Watchdog) Watch(stream, origin string, cfg jsstore.Config) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.replicas[stream]; !ok {
		w.replicas[stream] = &watched{Replica: Replica{Stream: stream, Origin: origin, config: cfg},
			status: ReplicaStatus{Stream: stream, Origin: origin}, lastMoved: time.Now()}
	}
}

// Forget removes a mirror (a deleted zone's).
func (w *Watchdog) Forget(stream string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.replicas, stream)
}

// Check runs one round: refresh positions, recreate stalled mirrors.
func (w *Watchdog) Check(ctx context.Context) error {
	origins := w.origins(ctx)
	now := time.Now()
	w.mu.Lock()
	list := make([]*watched, 0, len(w.replicas))
	for _, r := range w.replicas {
		list = append(list, r)
	}
	w.mu.Unlock()
	var errs []error
	for _, r := range list {
		seq, err := w.lastSequence(ctx, r.Stream)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.mu.Lock()
		st := &r.status
		if seq != st.ReplicaSequence {
			r.lastMoved = now
		}
		st.ReplicaSequence = seq
		origin, seen := origins[r.Stream]
		if seen {
			st.OriginSequence, st.OriginSeen = origin, &now
		}
		st.Lag = 0
		if st.OriginSequence > seq {
			st.Lag = st.OriginSequence - seq
		}
		st.Stalled = seen && st.Lag > 0 && now.Sub(r.lastMoved) >= w.stallAfter
		stalled := st.Stalled
		w.mu.Unlock()
		if stalled {
			errs = append(errs, w.recover(ctx, r))
		}
	}
	return errors.Join(errs...)
}

func (w *Watchdog) lastSequence(ctx context.Context, stream string) (uint64, error) {
	s, err := w.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("replica %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("replica %s: %w", stream, err)
	}
	return info.State.LastSeq, nil
}

// recover recreates a stalled mirror. Its copy restarts from the origin's first event; the
// feeds reading it keep their positions and continue once the copy passes them.
func (w *Watchdog) recover(ctx context.Context, r *watched) error {
	w.log.Warn("replication stalled, recreating the mirror", "stream", r.Stream, "origin", r.Origin,
		"replica", r.status.ReplicaSequence, "originSequence", r.status.OriginSequence)
	if err := w.js.DeleteStream(ctx, r.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("recover %s: %w", r.Stream, err)
	}
	if _, err := jsstore.New(ctx, w.js, r.config, "jetmesh://replica", w.log); err != nil {
		return fmt.Errorf("recover %s: %w", r.Stream, err)
	}
	now := time.Now()
	w.mu.Lock()
	r.status.Recoveries++
	r.status.Recovered = &now
	r.status.Stalled = false
	r.lastMoved = now
	w.mu.Unlock()
	return nil
}

// Status returns every mirror's status, by stream name.
func (w *Watchdog) Status() []ReplicaStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ReplicaStatus, 0, len(w.replicas))
	for _, r := range w.replicas {
		out = append(out, r.status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out
}

// Handler serves the status as JSON (GET /_replication).
func (w *Watchdog) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			rw.Header().Set("Allow", "GET")
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"items": w.Status()})
	})
}

// positionsSubject carries the global's stream positions to one zone, once per interval:
// the zone's link may not ask the global's JetStream for stream info (that API also purges
// and deletes streams), so the global tells it.
func positionsSubject(zone string) string { return linkPrefix(zone) + ".positions" }

// publishPositions sends the global's last sequences to a zone.
func publishPositions(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, zone string) error {
	pos := map[string]uint64{}
	for _, stream := range []string{GlobalStream, ProxiesStream} {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		pos[stream] = info.State.LastSeq
	}
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	return nc.Publish(positionsSubject(zone), b)
}
