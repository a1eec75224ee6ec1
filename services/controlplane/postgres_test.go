package controlplane_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

func pgSchema(t *testing.T) postgres.Config { return cptest.PostgresSchema(t) }

func pgPool(t *testing.T, cfg postgres.Config) *pgxpool.Pool { return cptest.PostgresPool(t, cfg) }

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
