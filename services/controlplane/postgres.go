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
	"github.com/jetmesh/jetmesh/services/api"
)

// pgAudit is the PostgreSQL index the API serves history, event and list pages from. Its
// fields are set by the start hook, which runs before the API starts.
type pgAudit struct {
	audit *postgres.Audit
	lists *postgres.Resources
	model *postgres.Model
}

// List implements api.ResourceIndex.
func (a *pgAudit) List(ctx context.Context, q api.ResourceQuery) (api.ResourcePage, error) {
	page, err := a.lists.List(ctx, postgres.ListQuery{Scope: q.Scope, Type: q.Type, Mesh: q.Mesh,
		NameLike: q.NameLike, Labels: q.Labels, Offset: q.Offset, Limit: q.Limit})
	return api.ResourcePage{Total: page.Total, Items: page.Items}, err
}

// Events implements api.AuditIndex.
func (a *pgAudit) Events(ctx context.Context, q events.Query) ([]events.Record, error) {
	return a.audit.Events(ctx, q)
}

// History implements api.AuditIndex.
func (a *pgAudit) History(ctx context.Context, k events.Key) ([]events.Record, error) {
	return a.audit.History(ctx, k)
}

// Sequence implements api.AuditIndex.
func (a *pgAudit) Sequence() uint64 { return a.model.Sequence() }

// WaitFor implements api.AuditIndex: the model has applied seq and the tables still hold it
// (not emptied under the running model; one indexed single-row read).
func (a *pgAudit) WaitFor(ctx context.Context, seq uint64) error {
	if err := a.model.WaitFor(ctx, seq); err != nil {
		return err
	}
	return a.model.Verify(ctx)
}

// newPostgres feeds the PostgreSQL read model and audit log from the event log when
// store.type is postgres, and returns the audit index over it (nil otherwise). The CP refuses
// to start on an unreachable database or an old schema, as Kuma does; once running, a lost
// database only pauses the projection, which resumes from its own checkpoint when the database
// is back, or rebuilds from sequence 1 when the schema was wiped (nothing is lost: it is a
// projection of the log). Meanwhile the API answers audit queries from the log.
func newPostgres(lc fx.Lifecycle, cfg Config, store events.Store, log *slog.Logger) (*pgAudit, error) {
	if cfg.Store.Type != "postgres" {
		return nil, nil
	}
	log = log.With("component", "postgres")
	pc, err := cfg.Store.Postgres.PoolConfig()
	if err != nil {
		return nil, err
	}
	idx := &pgAudit{}
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
		idx.model, idx.audit, idx.lists = model, postgres.NewAudit(pool), postgres.NewResources(pool)
		runner = projections.NewRunner("postgres", store, model, log)
		runner.RetryApply = true
		return runner.Start(ctx)
	}, func(ctx context.Context) error {
		defer pool.Close()
		return runner.Stop(ctx)
	}))
	return idx, nil
}
