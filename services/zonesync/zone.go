package zonesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
)

// Model returns a read model's feed for one replicated stream (the state model and the xDS
// projection both keep per-stream sequences).
type Model func(stream string) projections.Model

// Zone runs a federated zone's side: it mirrors the global's log and the other zones'
// ingresses into the zone's domain and folds them into the zone's read models. The mirrors
// live in the zone's own JetStream, so the zone keeps serving the last state it received
// while the global is away, and catches up from where it stopped when the link returns.
type Zone struct {
	zone   string
	js     jetstream.JetStream
	models []Model
	log    *slog.Logger

	runners []*projections.Runner
}

// NewZone returns the zone side for the named zone, feeding models.
func NewZone(zone string, js jetstream.JetStream, log *slog.Logger, models ...Model) *Zone {
	return &Zone{zone: zone, js: js, models: models, log: log}
}

// Start creates the mirrors (locally: this works with the global unreachable) and catches the
// models up with what the mirrors hold.
func (z *Zone) Start(ctx context.Context) error {
	for _, stream := range []string{GlobalStream, ProxiesStream} {
		store, err := jsstore.New(ctx, z.js, globalMirror(z.zone, stream), "jetmesh://zone/"+z.zone, z.log)
		if err != nil {
			return fmt.Errorf("zone sync: mirror %s: %w", stream, err)
		}
		for i, m := range z.models {
			r := projections.NewRunner(fmt.Sprintf("%s-%d", stream, i), store, m(stream), z.log)
			r.RetryApply = true
			if err := r.Start(ctx); err != nil {
				_ = z.Stop(ctx)
				return fmt.Errorf("zone sync: %w", err)
			}
			z.runners = append(z.runners, r)
		}
	}
	return nil
}

// Stop ends the feeds.
func (z *Zone) Stop(ctx context.Context) error {
	var errs []error
	for _, r := range z.runners {
		errs = append(errs, r.Stop(ctx))
	}
	z.runners = nil
	return errors.Join(errs...)
}
