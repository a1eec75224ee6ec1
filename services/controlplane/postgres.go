package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/postgres"
)

// startPostgres feeds the PostgreSQL read model and audit log from the event log when
// store.type is postgres. The CP refuses to start on an unreachable database or an old
// schema, as Kuma does; once running, a lost database only pauses the projection, which
// resumes from its own checkpoint when the database is back (nothing is lost: it is a
// projection of the log).
func startPostgres(lc fx.Lifecycle, cfg Config, store events.Store, log *slog.Logger) error {
	if cfg.Store.Type != "postgres" {
		return nil
	}
	log = log.With("component", "postgres")
	pc, err := cfg.Store.Postgres.PoolConfig()
	if err != nil {
		return err
	}
	var pool *pgxpool.Pool
	var runner *projections.Runner
	lc.Append(fx.StartStopHook(func(ctx context.Context) error {
		if pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := pool.Ping(pingCtx); err != nil {
			pool.Close()
			return fmt.Errorf("connect to postgres %s:%d: %w", cfg.Store.Postgres.Host, cfg.Store.Postgres.Port, err)
		}
		model, err := postgres.New(ctx, pool, "resources")
		if err != nil {
			pool.Close()
			return err
		}
		runner = projections.NewRunner("postgres", store, model, log)
		runner.RetryApply = true
		return runner.Start(ctx)
	}, func(ctx context.Context) error {
		defer pool.Close()
		return runner.Stop(ctx)
	}))
	return nil
}
