package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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
	pool  *pgxpool.Pool
	local events.Scope // the scope this CP writes in, which names replicated copies

	mu       sync.Mutex
	replicas map[string]*postgres.Model // the model of each replicated stream followed
}

// Replica is a zonesync.Model: the PostgreSQL read model of a replicated stream (a zone's log
// on the global; the global's log and other zones' ingresses on a zone), so lists and history
// of replicated resources come from PostgreSQL as well.
func (a *pgAudit) Replica(ctx context.Context, stream string) (projections.Model, error) {
	m, err := postgres.NewReplica(ctx, a.pool, stream, a.local)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.replicas == nil {
		a.replicas = map[string]*postgres.Model{}
	}
	a.replicas[stream] = m
	return m, nil
}

// WaitForReplicas implements api.ReplicaIndex: every replicated stream in want is followed,
// its model has applied the sequence, and the tables still hold it (one query for all).
func (a *pgAudit) WaitForReplicas(ctx context.Context, want map[string]uint64) error {
	names := make([]string, 0, len(want))
	models := make(map[string]*postgres.Model, len(want))
	a.mu.Lock()
	for stream := range want {
		if m := a.replicas[stream]; m != nil {
			models[stream] = m
		}
	}
	a.mu.Unlock()
	for stream, seq := range want {
		m := models[stream]
		if m == nil {
			return fmt.Errorf("replicated stream %s is not followed in postgres", stream)
		}
		if err := m.WaitFor(ctx, seq); err != nil {
			return err
		}
		names = append(names, m.Name())
	}
	return postgres.VerifyCheckpoints(ctx, a.pool, names, func(name string) uint64 {
		return models[strings.TrimPrefix(name, postgres.ReplicaPrefix)].Sequence()
	})
}

// ReplicaHistory implements api.ReplicaIndex.
func (a *pgAudit) ReplicaHistory(ctx context.Context, stream string, k events.Key) ([]events.Record, error) {
	return a.audit.ReplicaHistory(ctx, stream, k)
}

// List implements api.ResourceIndex.
func (a *pgAudit) List(ctx context.Context, q api.ResourceQuery) (api.ResourcePage, error) {
	page, err := a.lists.List(ctx, postgres.ListQuery{Type: q.Type, Mesh: q.Mesh,
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
func newPostgres(lc fx.Lifecycle, cfg Config, inst instance, store events.Store, log *slog.Logger) (*pgAudit, error) {
	if cfg.Store.Type != "postgres" {
		return nil, nil
	}
	log = log.With("component", "postgres")
	pc, err := cfg.Store.Postgres.PoolConfig()
	if err != nil {
		return nil, err
	}
	idx := &pgAudit{local: inst.Scope}
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
		idx.model, idx.audit, idx.lists, idx.pool = model, postgres.NewAudit(pool), postgres.NewResources(pool), pool
		runner = projections.NewRunner("postgres", store, model, log)
		runner.RetryApply = true
		return runner.Start(ctx)
	}, func(ctx context.Context) error {
		defer pool.Close()
		return runner.Stop(ctx)
	}))
	return idx, nil
}
