package controlplane_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// pgSchema creates a schema of its own in the test database and returns the CP settings that
// use it; .ci/run fails when this skips.
func pgSchema(t *testing.T) postgres.Config {
	t.Helper()
	dsn := os.Getenv("JETMESH_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("JETMESH_TEST_POSTGRES_DSN is not set")
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("jm_cp_%d", rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	cfg := postgres.DefaultConfig()
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.DBName = cc.Host, int(cc.Port), cc.User, cc.Password, cc.Database
	cfg.Schema = schema
	return cfg
}

func pgPool(t *testing.T, cfg postgres.Config) *pgxpool.Pool {
	t.Helper()
	pc, err := cfg.PoolConfig()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// With store.type postgres the CP refuses an unmigrated database, and once migrated it
// writes every change into the resources table and the audit log.
func TestPostgresReadModel(t *testing.T) {
	pg := pgSchema(t)
	usePG := func(c *controlplane.Config) { c.Store.Type, c.Store.Postgres = "postgres", pg }

	if _, err := cptest.StartE(t, "", usePG); err == nil || !strings.Contains(err.Error(), "jetmesh-cp migrate up") {
		t.Fatalf("start on an unmigrated database: %v", err)
	}

	pool := pgPool(t, pg)
	if err := postgres.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	cp := cptest.Start(t, "", usePG)
	if code := status(t, "PUT", cp.URL+"/meshes/pg", `{"type":"Mesh","name":"pg"}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var resources, audit int
		err := pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM resources WHERE type = 'Mesh' AND name = 'pg'),
			(SELECT count(*) FROM events WHERE resource_type = 'Mesh' AND name = 'pg' AND actor = 'user:mesh-system:admin')`).
			Scan(&resources, &audit)
		if err != nil {
			t.Fatal(err)
		}
		if resources == 1 && audit == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL never got the mesh: resources=%d audit=%d", resources, audit)
		}
		time.Sleep(10 * time.Millisecond) // polling step of a deadline-bound wait
	}
}
