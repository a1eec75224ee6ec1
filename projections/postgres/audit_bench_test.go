package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/postgres"
)

// auditShape describes a synthetic audit log: n events, one per second from start, spread
// round-robin over meshes, actors and resources (each resource gets n/resources revisions).
type auditShape struct {
	n, meshes, actors, resources int
	start                        time.Time
}

func newAuditShape(n int) auditShape {
	return auditShape{n: n, meshes: 20, actors: 200, resources: max(n/20, 1),
		start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

var auditTypes = []string{"MeshTrafficPermission", "Dataplane", "MeshTimeout"}

func (s auditShape) mesh(i int) string  { return fmt.Sprintf("mesh-%02d", i%s.meshes) }
func (s auditShape) actor(i int) string { return fmt.Sprintf("user:u%03d", i%s.actors) }

// key of the resource event i belongs to; the resource decides the mesh.
func (s auditShape) key(i int) events.Key {
	r := i % s.resources
	return events.Key{Scope: events.ZoneScope("zone-1"), Type: auditTypes[r%len(auditTypes)],
		Mesh: s.mesh(r), Name: fmt.Sprintf("res-%06d", r)}
}

// loadAudit bulk-loads the shape into the events table with COPY and analyzes it. Every 50th
// revision of a resource is a deletion.
func loadAudit(tb testing.TB, p *pgxpool.Pool, s auditShape) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cols := []string{"sequence", "id", "time", "type", "subject", "scope", "resource_type", "mesh", "name",
		"actor", "origin", "revision", "correlation_id", "reason", "data", "source", "data_content_type"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == s.n {
			return nil, nil
		}
		k, rev := s.key(i), int64(i/s.resources+1)
		typ, data, ct := events.TypeResourceUpserted, any(nil), "application/json"
		if rev%50 == 0 {
			typ, ct = events.TypeResourceDeleted, ""
		} else {
			data = string(resourceJSON(k, uint64(rev)))
		}
		row := []any{int64(i + 1), fmt.Sprintf("ev-%d", i+1), s.start.Add(time.Duration(i) * time.Second), typ,
			k.Subject(), k.Scope.Zone, k.Type, k.Mesh, k.Name, s.actor(i), k.Scope.Origin(), rev,
			fmt.Sprintf("corr-%d", i), "", data, "jetmesh://bench", ct}
		i++
		return row, nil
	})
	began := time.Now()
	n, err := p.CopyFrom(ctx, pgx.Identifier{"events"}, cols, src)
	if err != nil {
		tb.Fatalf("copy %d events: %v", s.n, err)
	}
	if _, err := p.Exec(ctx, "ANALYZE events"); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("loaded %d audit events with COPY in %s", n, time.Since(began).Round(time.Millisecond))
}

// auditQueries are the typical audit questions, over a loaded shape.
func auditQueries(s auditShape) map[string]func(context.Context, *postgres.Audit) ([]events.Record, error) {
	// The window of the actor query: an hour in the middle of the log.
	mid := s.start.Add(time.Duration(s.n/2) * time.Second)
	return map[string]func(context.Context, *postgres.Audit) ([]events.Record, error){
		"actor_in_time_range": func(ctx context.Context, a *postgres.Audit) ([]events.Record, error) {
			return a.Events(ctx, events.Query{Actor: s.actor(7), Since: mid, Until: mid.Add(time.Hour), Limit: 100})
		},
		"resource_history": func(ctx context.Context, a *postgres.Audit) ([]events.Record, error) {
			return a.History(ctx, s.key(s.resources/2))
		},
		"latest_50_in_mesh": func(ctx context.Context, a *postgres.Audit) ([]events.Record, error) {
			return a.Latest(ctx, events.Query{Mesh: s.mesh(3), Limit: 50})
		},
		"feed_page_mesh_type": func(ctx context.Context, a *postgres.Audit) ([]events.Record, error) {
			return a.Events(ctx, events.Query{Mesh: s.mesh(5), Type: "Dataplane", From: uint64(s.n / 2), Limit: 100})
		},
		"feed_page_since": func(ctx context.Context, a *postgres.Audit) ([]events.Record, error) {
			return a.Events(ctx, events.Query{Since: mid, Limit: 100})
		},
	}
}

// benchEventsEnv sets the size of the audit benchmark's log; the default keeps CI's smoke run
// short. docs/audit.md's numbers come from JETMESH_BENCH_AUDIT_EVENTS=1000000.
const benchEventsEnv = "JETMESH_BENCH_AUDIT_EVENTS"

// BenchmarkAuditQueries loads a synthetic audit log with COPY and times the typical queries.
func BenchmarkAuditQueries(b *testing.B) {
	n := 10000
	if v := os.Getenv(benchEventsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", benchEventsEnv, v)
		}
	}
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		b.Skipf("%s is not set", dsnEnv)
	}
	db := &testDB{dsn: dsn, schema: fmt.Sprintf("jm_bench_%d", time.Now().UnixNano())}
	db.exec(b, "CREATE SCHEMA "+db.schema)
	b.Cleanup(func() { db.exec(b, "DROP SCHEMA IF EXISTS "+db.schema+" CASCADE") })
	p := db.pool(b)
	if err := postgres.Migrate(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	s := newAuditShape(n)
	loadAudit(b, p, s)
	audit := postgres.NewAudit(p)
	for name, q := range auditQueries(s) {
		b.Run(fmt.Sprintf("%s/events=%d", name, n), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				recs, err := q(ctx, audit)
				if err != nil {
					b.Fatal(err)
				}
				if len(recs) == 0 {
					b.Fatal("no events found")
				}
			}
		})
	}
}

var regexpRows = regexp.MustCompile(`rows=(\d+) loops`)

var removedByFilter = regexp.MustCompile(`Rows Removed by Filter: (\d+)`)

// The typical audit queries are answered from indexes, never by scanning the events table.
func TestAuditQueriesUseIndexes(t *testing.T) {
	db := newTestDB(t)
	p := db.migrated(t)
	s := newAuditShape(20000)
	loadAudit(t, p, s)
	for name, q := range map[string]events.Query{
		"actor in time range": {Actor: s.actor(7), Since: s.start.Add(5000 * time.Second), Until: s.start.Add(8600 * time.Second), Limit: 100},
		"latest in mesh":      {Mesh: s.mesh(3), Limit: 50},
		"mesh and type page":  {Mesh: s.mesh(5), Type: "Dataplane", From: 10000, Limit: 100},
		"since page":          {Since: s.start.Add(10000 * time.Second), Limit: 100},
		"resource":            {Type: "Dataplane", Mesh: s.mesh(1), Name: s.key(1).Name, Limit: 100},
	} {
		t.Run(name, func(t *testing.T) {
			sql, args := postgres.BuildQuery(q, name == "latest in mesh")
			rows, err := p.Query(testCtx(t), "EXPLAIN ANALYZE "+sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan") || !strings.Contains(text, "Index") {
				t.Errorf("plan scans the table:\n%s\n%s", sql, text)
			}
			// An index walked in the wrong order reads much and keeps little.
			for _, m := range removedByFilter.FindAllStringSubmatch(text, -1) {
				if n, _ := strconv.Atoi(m[1]); n > 1000 {
					t.Errorf("plan reads %d rows it drops:\n%s\n%s", n, sql, text)
				}
			}
		})
	}
	var hist string
	k := s.key(3)
	if err := p.QueryRow(testCtx(t), `EXPLAIN SELECT * FROM events WHERE resource_type = $1 AND mesh = $2
		AND name = $3 AND scope = $4 ORDER BY sequence`, k.Type, k.Mesh, k.Name, k.Scope.Zone).Scan(&hist); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hist, "events_resource") {
		t.Errorf("history plan: %s", hist)
	}
}

// BenchmarkApply measures the projection's write path per event: one event per transaction,
// as the runner feeds the live tail (Apply), and 500 per transaction, as it catches up and
// rebuilds (ApplyBatch). It bounds how fast PostgreSQL follows the log and rebuilds a wipe.
func BenchmarkApply(b *testing.B) {
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		b.Skipf("%s is not set", dsnEnv)
	}
	s := newAuditShape(100000) // only for realistic keys
	for _, batch := range []int{1, 500} {
		b.Run(fmt.Sprintf("events_per_tx=%d", batch), func(b *testing.B) {
			db := &testDB{dsn: dsn, schema: fmt.Sprintf("jm_bench_%d", time.Now().UnixNano())}
			db.exec(b, "CREATE SCHEMA "+db.schema)
			b.Cleanup(func() { db.exec(b, "DROP SCHEMA IF EXISTS "+db.schema+" CASCADE") })
			p := db.pool(b)
			if err := postgres.Migrate(context.Background(), p); err != nil {
				b.Fatal(err)
			}
			m, err := postgres.New(context.Background(), p, "bench")
			if err != nil {
				b.Fatal(err)
			}
			var recs []events.Record
			seq := uint64(0)
			flush := func() {
				var err error
				if batch == 1 {
					err = m.Apply(recs[0])
				} else {
					err = m.ApplyBatch(recs)
				}
				if err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
			for b.Loop() { // one iteration: one event
				seq++
				i := int(seq - 1)
				recs = append(recs, handRecord(seq, s.key(i), uint64(i/s.resources+1), false))
				if len(recs) == batch {
					flush()
				}
			}
			if len(recs) > 0 {
				flush()
			}
		})
	}
}
