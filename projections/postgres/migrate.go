package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.up.sql
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded migrations, oldest first; versions are 1, 2, ... without gaps.
var migrations = mustLoadMigrations()

// SchemaVersionRequired is the schema version this build needs: its newest migration.
var SchemaVersionRequired = migrations[len(migrations)-1].version

func mustLoadMigrations() []migration {
	names, err := fs.Glob(migrationFiles, "migrations/*.up.sql")
	if err != nil {
		panic(err)
	}
	var out []migration
	for _, p := range names {
		base := strings.TrimPrefix(p, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic(fmt.Sprintf("migration %s: name must be NNNN_description.up.sql", base))
		}
		b, err := migrationFiles.ReadFile(p)
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			panic(fmt.Sprintf("migration %s: want version %d (no gaps, no repeats)", m.name, i+1))
		}
	}
	if len(out) == 0 {
		panic("no migrations embedded")
	}
	return out
}

// migrationLock is the advisory lock key that serialises concurrent Migrate calls.
const migrationLock = 0x6a65746d657368 // "jetmesh"

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies every pending migration, each in its own transaction, in the schema the
// pool's search_path names. Concurrent callers wait for each other (a transaction-scoped
// advisory lock), so two control planes starting together do not race.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := ensureSchema(ctx, pool); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := applyMigration(ctx, pool, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// ensureSchema creates the schema the pool's search_path names (Config.Schema) if it does not
// exist, under the migration lock.
func ensureSchema(ctx context.Context, pool *pgxpool.Pool) error {
	schema := pool.Config().ConnConfig.RuntimeParams["search_path"]
	if schema == "" || strings.ContainsAny(schema, ", ") {
		return nil // the server's default, or a list the operator manages
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	// Checked first: CREATE SCHEMA needs the database's CREATE privilege even when it would do
	// nothing, and a user that only owns its schema may lack it.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`,
		schema).Scan(&exists); err != nil || exists {
		if err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return tx.Commit(ctx)
}

// applyMigration runs m unless it was applied already. The lock is taken first: even
// CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL.
func applyMigration(ctx context.Context, pool *pgxpool.Pool, m migration) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
		m.version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
		m.version, m.name); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// SchemaVersion returns the newest migration applied to the database (0 for a fresh one).
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var v int
	err := pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never migrated
		return 0, nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// CheckSchema refuses a database whose schema is older than want, as kuma-cp does; a newer
// schema is accepted (migrations only add).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool, want int) error {
	got, err := SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	if got < want {
		return &SchemaVersionError{Have: got, Want: want}
	}
	return nil
}
