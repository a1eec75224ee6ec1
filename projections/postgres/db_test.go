package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/services/natsd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dsnEnv names the server the tests use; CI sets it (.ci/run), so they are never skipped there.
const dsnEnv = "JETMESH_TEST_POSTGRES_DSN"

// testDB is one test's private schema on the real server.
type testDB struct {
	dsn, schema string
}

// newTestDB creates a schema for the test and drops it at cleanup; it skips the test when
// JETMESH_TEST_POSTGRES_DSN is unset.
func newTestDB(t *testing.T) *testDB {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skipf("%s is not set", dsnEnv)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := &testDB{dsn: dsn, schema: "jm_test_" + hex.EncodeToString(b)}
	db.exec(t, "CREATE SCHEMA "+db.schema)
	t.Cleanup(func() { db.exec(t, "DROP SCHEMA IF EXISTS "+db.schema+" CASCADE") })
	return db
}

// exec runs one statement on a connection of its own.
func (db *testDB) exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pool opens a pool whose search_path is the test's schema; the test closes it at cleanup.
func (db *testDB) pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = db.schema
	cfg.MaxConns = 4
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// migrated opens a pool over a fully migrated schema.
func (db *testDB) migrated(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p := db.pool(t)
	if err := postgres.Migrate(testCtx(t), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// row is one resources row, as text, keyed by scope/type/mesh/name.
type row struct {
	Revision, Sequence                    int64
	Actor, Labels, Spec, Resource, Create string
}

// resourceRows dumps the resources table.
func resourceRows(t *testing.T, p *pgxpool.Pool) map[string]row {
	t.Helper()
	rows, err := p.Query(testCtx(t), `SELECT scope, type, mesh, name, revision, sequence, actor,
		labels::text, COALESCE(spec::text, ''), resource::text, creation_time::text FROM resources`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		var scope, typ, mesh, name string
		var r row
		if err := rows.Scan(&scope, &typ, &mesh, &name, &r.Revision, &r.Sequence, &r.Actor,
			&r.Labels, &r.Spec, &r.Resource, &r.Create); err != nil {
			t.Fatal(err)
		}
		out[scope+"/"+typ+"/"+mesh+"/"+name] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func keyString(k events.Key) string {
	return k.Scope.Zone + "/" + k.Type + "/" + k.Mesh + "/" + k.Name
}

// liveSet folds records the simple way: the newest upsert of every key not deleted since.
func liveSet(recs []events.Record) map[string]events.Record {
	live := map[string]events.Record{}
	for _, r := range recs {
		if r.Event.Deleted() {
			delete(live, keyString(r.Key))
		} else {
			live[keyString(r.Key)] = r
		}
	}
	return live
}

// checkLive compares the resources table with the live set of recs.
func checkLive(t *testing.T, p *pgxpool.Pool, recs []events.Record) {
	t.Helper()
	got, want := resourceRows(t, p), liveSet(recs)
	if len(got) != len(want) {
		t.Errorf("resources holds %d rows, want %d live resources", len(got), len(want))
	}
	for k, rec := range want {
		r, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: missing", k)
		case r.Sequence != int64(rec.Sequence) || r.Revision != int64(rec.Event.Revision):
			t.Errorf("%s: sequence %d revision %d, want %d and %d", k, r.Sequence, r.Revision,
				rec.Sequence, rec.Event.Revision)
		}
	}
}

// checkEvents verifies that the events table holds each record's sequence exactly once.
func checkEvents(t *testing.T, p *pgxpool.Pool, recs []events.Record) {
	t.Helper()
	var n, distinct, maxSeq int64
	if err := p.QueryRow(testCtx(t), `SELECT count(*), count(DISTINCT sequence), COALESCE(max(sequence), 0)
		FROM events`).Scan(&n, &distinct, &maxSeq); err != nil {
		t.Fatal(err)
	}
	last := int64(0)
	if len(recs) > 0 {
		last = int64(recs[len(recs)-1].Sequence)
	}
	if n != int64(len(recs)) || distinct != n || maxSeq != last {
		t.Errorf("events: %d rows (%d distinct), max sequence %d; want %d rows up to %d",
			n, distinct, maxSeq, len(recs), last)
	}
}

// resourceJSON is a resource as the REST API shows it: a plugin type with spec and labels.
func resourceJSON(k events.Key, rev uint64) []byte {
	return fmt.Appendf(nil, `{"type":%q,"mesh":%q,"name":%q,"creationTime":"2026-01-01T00:00:00Z",`+
		`"modificationTime":"2026-01-02T00:00:00Z","labels":{"rev":"%d"},"spec":{"targetRef":{"kind":"Mesh"},"rev":%d}}`,
		k.Type, k.Mesh, k.Name, rev, rev)
}

// ops drives a store with a deterministic mix of creates, updates, deletes and re-creates over
// a few names, and returns the records appended.
func ops(t *testing.T, s events.Store, n int) []events.Record {
	t.Helper()
	ctx := testCtx(t)
	last := map[string]events.Record{}
	var out []events.Record
	for i := range n {
		k := events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTrafficPermission",
			Mesh: []string{"default", "demo"}[i%2], Name: fmt.Sprintf("mtp-%d", (i*7)%5)}
		prev := last[keyString(k)]
		c := events.Change{Key: k, Op: events.OpUpsert, ExpectedSequence: prev.Sequence,
			Revision: prev.Event.Revision + 1, Actor: "user:admin"}
		if prev.Sequence != 0 && !prev.Event.Deleted() && i%3 == 0 {
			c.Op = events.OpDelete
		} else {
			c.Data = resourceJSON(k, c.Revision)
		}
		rec, err := s.Append(ctx, c)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last[keyString(k)] = rec
		out = append(out, rec)
	}
	return out
}

// newStore starts an embedded NATS server (random port) and returns a JetStream store on it.
func newStore(t *testing.T) events.Store {
	t.Helper()
	cfg := natsd.DefaultConfig()
	cfg.Port, cfg.StoreDir = natsd.RandomPort, t.TempDir()
	srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	nc, err := srv.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jsstore.New(ctx, js, jsstore.ScopeConfig("JM_PG_TEST", events.ZoneScope("zone-1")),
		"jetmesh://pgtest", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
