package cptest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/services/controlplane"
)

// PostgresDSNEnv names the PostgreSQL server of the tests; .ci/run sets it and fails when
// tests that need it skip.
const PostgresDSNEnv = "JETMESH_TEST_POSTGRES_DSN"

// PostgresSchema creates a schema of its own for the test on the server PostgresDSNEnv names
// and returns the settings that point a CP at it, unmigrated. It skips the test when the
// variable is unset. The schema is dropped when the test ends.
func PostgresSchema(t testing.TB) postgres.Config {
	t.Helper()
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		t.Skipf("%s is not set", PostgresDSNEnv)
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("jm_cp_%d", rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	cfg := postgres.DefaultConfig()
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.DBName = cc.Host, int(cc.Port), cc.User, cc.Password, cc.Database
	cfg.Schema = schema
	cfg.MaxOpenConnections = 4
	return cfg
}

// PostgresPool opens a pool on the settings' schema, closed when the test ends.
func PostgresPool(t testing.TB, cfg postgres.Config) *pgxpool.Pool {
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

// Postgres returns a migrated schema of the test's own (see PostgresSchema).
func Postgres(t testing.TB) postgres.Config {
	t.Helper()
	cfg := PostgresSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := postgres.Migrate(ctx, PostgresPool(t, cfg)); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// WithPostgres makes the CP feed and read the PostgreSQL read model (store.type postgres).
func WithPostgres(cfg postgres.Config) Option {
	return func(c *controlplane.Config) { c.Store.Type, c.Store.Postgres = "postgres", cfg }
}
