package zonesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
)

// Model returns a read model's feed for one replicated stream (the state model, the xDS
// projection and the PostgreSQL read model all keep per-stream sequences).
type Model func(ctx context.Context, stream string) (projections.Model, error)

// Dropper is a feed model that can forget what a stream delivered, when the stream is gone
// (a zone deleted from the global).
type Dropper interface {
	Drop(ctx context.Context) error
}

// Zone runs a federated zone's side: it mirrors the global's log and the other zones'
// ingresses into the zone's domain and folds them into the zone's read models. The mirrors
// live in the zone's own JetStream, so the zone keeps serving the last state it received
// while the global is away, and catches up from where it stopped when the link returns.
type Zone struct {
	zone   string
	nc     *nats.Conn
	js     jetstream.JetStream
	models []Model
	log    *slog.Logger
	dog    *Watchdog
	// Replicas, when set, learns the store of each mirror (for history of replicated resources).
	Replicas func(stream string, store events.Store)

	runners []*projections.Runner
	sub     *nats.Subscription
	cancel  context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex
	positions map[string]uint64 // the global's stream positions, as it last sent them
	heard     time.Time
}

// NewZone returns the zone side for the named zone, feeding models.
func NewZone(zone string, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger, models ...Model) *Zone {
	z := &Zone{zone: zone, nc: nc, js: js, models: models, log: log}
	z.dog = NewWatchdog(js, z.originPositions, DefaultStallAfter, log)
	return z
}

// Watchdog returns the replication watchdog (for GET /_replication).
func (z *Zone) Watchdog() *Watchdog { return z.dog }

// originPositions are the global's positions if heard recently (the link is up).
func (z *Zone) originPositions(context.Context) map[string]uint64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	if time.Since(z.heard) > 3*time.Second {
		return nil
	}
	return maps.Clone(z.positions)
}

// Start creates the mirrors (locally: this works with the global unreachable) and catches the
// models up with what the mirrors hold.
func (z *Zone) Start(ctx context.Context) error {
	sub, err := z.nc.Subscribe(positionsSubject(z.zone), func(m *nats.Msg) {
		var pos map[string]uint64
		if json.Unmarshal(m.Data, &pos) != nil {
			return
		}
		z.mu.Lock()
		z.positions, z.heard = pos, time.Now()
		z.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("zone sync: %w", err)
	}
	z.sub = sub
	for _, stream := range []string{GlobalStream, ProxiesStream} {
		cfg := globalMirror(z.zone, stream)
		store, err := jsstore.New(ctx, z.js, cfg, "jetmesh://zone/"+z.zone, z.log)
		if err != nil {
			return fmt.Errorf("zone sync: mirror %s: %w", stream, err)
		}
		z.dog.Watch(stream, "global "+stream, cfg)
		if z.Replicas != nil {
			z.Replicas(stream, store)
		}
		for i, model := range z.models {
			m, err := model(ctx, stream)
			if err != nil {
				_ = z.Stop(ctx)
				return fmt.Errorf("zone sync: %s: %w", stream, err)
			}
			r := projections.NewRunner(fmt.Sprintf("%s-%d", stream, i), store, m, z.log)
			r.RetryApply = true
			if err := r.Start(ctx); err != nil {
				_ = z.Stop(ctx)
				return fmt.Errorf("zone sync: %w", err)
			}
			z.runners = append(z.runners, r)
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	z.cancel, z.done = cancel, make(chan struct{})
	go z.watch(runCtx)
	return nil
}

func (z *Zone) watch(ctx context.Context) {
	defer close(z.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := z.dog.Check(ctx); err != nil && ctx.Err() == nil {
			z.log.Warn("replication check failed", "err", err)
		}
	}
}

// Stop ends the feeds.
func (z *Zone) Stop(ctx context.Context) error {
	if z.cancel != nil {
		z.cancel()
		<-z.done
		z.cancel = nil
	}
	if z.sub != nil {
		_ = z.sub.Unsubscribe()
	}
	var errs []error
	for _, r := range z.runners {
		errs = append(errs, r.Stop(ctx))
	}
	z.runners = nil
	return errors.Join(errs...)
}
