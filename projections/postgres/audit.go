package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/events"
)

// Audit answers audit queries from the events table the Model writes: the same filters and
// answers as a scan of the event log (events.Query.Match is the reference), from indexes.
type Audit struct {
	pool *pgxpool.Pool
}

// NewAudit returns the audit queries over the pool's schema.
func NewAudit(pool *pgxpool.Pool) *Audit { return &Audit{pool: pool} }

// eventColumns are read back into an events.Record by scanRecord, in this order.
const eventColumns = `sequence, id, time, type, subject, scope, resource_type, mesh, name, actor,
    origin, revision, correlation_id, reason, source, data_content_type, data::text`

// Events returns the events matching q, oldest first, from q.From on, at most q.Limit.
func (a *Audit) Events(ctx context.Context, q events.Query) ([]events.Record, error) {
	return a.query(ctx, q, false)
}

// Latest returns the newest events matching q, newest first, at most q.Limit: "the last N
// changes in mesh demo".
func (a *Audit) Latest(ctx context.Context, q events.Query) ([]events.Record, error) {
	return a.query(ctx, q, true)
}

// History returns every event of one resource, oldest first (the events_resource index).
func (a *Audit) History(ctx context.Context, k events.Key) ([]events.Record, error) {
	rows, err := a.pool.Query(ctx, `SELECT `+eventColumns+` FROM events
WHERE resource_type = $1 AND mesh = $2 AND name = $3 AND scope = $4 ORDER BY sequence`,
		k.Type, k.Mesh, k.Name, k.Scope.Zone)
	if err != nil {
		return nil, fmt.Errorf("audit history of %s: %w", k, err)
	}
	recs, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("audit history of %s: %w", k, err)
	}
	return recs, nil
}

// ReplicaHistory returns every event of one resource a replicated stream delivered (a zone's
// dataplane on the global, a global policy on a zone), oldest first.
func (a *Audit) ReplicaHistory(ctx context.Context, stream string, k events.Key) ([]events.Record, error) {
	rows, err := a.pool.Query(ctx, `SELECT `+eventColumns+` FROM replica_events
WHERE resource_type = $1 AND mesh = $2 AND name = $3 AND scope = $4 AND stream = $5 ORDER BY sequence`,
		k.Type, k.Mesh, k.Name, k.Scope.Zone, stream)
	if err != nil {
		return nil, fmt.Errorf("audit history of %s from %s: %w", k, stream, err)
	}
	recs, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("audit history of %s from %s: %w", k, stream, err)
	}
	return recs, nil
}

// query builds one statement for q. A mesh filter also matches the Mesh resource itself; as an
// OR it would defeat the per-column indexes, so it becomes a UNION ALL of two index-ordered
// branches (resources in the mesh; the Mesh resource), each limited, merged and limited again.
func (a *Audit) query(ctx context.Context, q events.Query, newest bool) ([]events.Record, error) {
	sql, args := buildQuery(q, newest)
	rows, err := a.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	recs, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	return recs, nil
}

// buildQuery returns the SQL and arguments of q.
func buildQuery(q events.Query, newest bool) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var common []string
	if q.From > 1 {
		common = append(common, "sequence >= "+arg(int64(q.From)))
	}
	if q.Type != "" {
		common = append(common, "resource_type = "+arg(q.Type))
	}
	if q.Name != "" {
		common = append(common, "name = "+arg(q.Name))
	}
	if q.Actor != "" {
		common = append(common, "actor = "+arg(q.Actor))
	}
	switch q.Zone {
	case "":
	case "global":
		common = append(common, "scope = ''")
	default:
		common = append(common, "scope = "+arg(q.Zone))
	}
	// Event times have microsecond resolution and pgx sends times truncated to microseconds,
	// which is right for until (<=); since (>=) is rounded up so a finer bound excludes the
	// event in its own microsecond, as Match does.
	if !q.Since.IsZero() {
		since := q.Since.Truncate(time.Microsecond)
		if since.Before(q.Since) {
			since = since.Add(time.Microsecond)
		}
		a := arg(since)
		// Event times grow with the sequence (the log scan's until-stop relies on it too), but
		// the planner does not know: ordered by sequence, it would walk the whole prefix before
		// since. The first event at or after since bounds the sequence from below instead.
		common = append(common, "time >= "+a, "sequence >= COALESCE((SELECT sequence FROM events WHERE time >= "+
			a+" ORDER BY time LIMIT 1), 9223372036854775807)")
	}
	if !q.Until.IsZero() {
		common = append(common, "time <= "+arg(q.Until))
	}
	order := " ORDER BY sequence"
	if newest {
		order += " DESC"
	}
	limit := ""
	if q.Limit > 0 {
		limit = " LIMIT " + arg(q.Limit)
	}
	branch := func(extra ...string) string {
		conds := append(append([]string{}, common...), extra...)
		where := ""
		if len(conds) > 0 {
			where = " WHERE " + strings.Join(conds, " AND ")
		}
		return "SELECT " + eventColumns + " FROM events" + where + order + limit
	}
	if q.Mesh == "" {
		return branch(), args
	}
	mesh := arg(q.Mesh)
	branches := []string{branch("mesh = " + mesh)}
	if (q.Type == "" || q.Type == meshType) && (q.Name == "" || q.Name == q.Mesh) {
		branches = append(branches, branch("resource_type = '"+meshType+"'", "mesh = ''", "name = "+mesh))
	}
	if len(branches) == 1 {
		return branches[0], args
	}
	return "SELECT * FROM ((" + strings.Join(branches, ") UNION ALL (") + ")) AS matches" + order + limit, args
}

// meshType is the type name of meshes (resources.Mesh); global-scoped, so its mesh is "".
const meshType = "Mesh"

// collect scans rows of eventColumns.
func collect(rows pgx.Rows) ([]events.Record, error) {
	defer rows.Close()
	var out []events.Record
	for rows.Next() {
		var rec events.Record
		var seq, rev int64
		var scope string
		var data *string
		ev := &rec.Event
		if err := rows.Scan(&seq, &ev.ID, &ev.Time, &ev.Type, &ev.Subject, &scope, &rec.Key.Type,
			&rec.Key.Mesh, &rec.Key.Name, &ev.Actor, &ev.Origin, &rev, &ev.CorrelationID, &ev.Reason,
			&ev.Source, &ev.DataContentType, &data); err != nil {
			return nil, err
		}
		rec.Sequence, ev.Revision = uint64(seq), uint64(rev)
		rec.Key.Scope = events.ZoneScope(scope)
		ev.SpecVersion = events.SpecVersion
		ev.Time = ev.Time.UTC()
		if data != nil {
			ev.Data = []byte(*data)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}
