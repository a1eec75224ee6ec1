package postgres_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/jetmesh/jetmesh/projections/postgres"
)

// Migrations apply from scratch, create every table, and a second (or concurrent) run is a
// no-op.
func TestMigrateFromScratchIsIdempotent(t *testing.T) {
	db := newTestDB(t)
	p := db.pool(t)
	ctx := testCtx(t)
	if v, err := postgres.SchemaVersion(ctx, p); err != nil || v != 0 {
		t.Fatalf("fresh schema: version %d, %v; want 0", v, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = postgres.Migrate(ctx, p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Migrate: %v", err)
	}
	if err := postgres.Migrate(ctx, p); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if v, err := postgres.SchemaVersion(ctx, p); err != nil || v != postgres.SchemaVersionRequired {
		t.Fatalf("after Migrate: version %d, %v; want %d", v, err, postgres.SchemaVersionRequired)
	}
	var applied int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != postgres.SchemaVersionRequired {
		t.Errorf("schema_migrations holds %d rows, want %d", applied, postgres.SchemaVersionRequired)
	}
	for _, table := range []string{"resources", "events", "checkpoint", "schema_migrations"} {
		var ok bool
		if err := p.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1)`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing from schema %s (%v)", table, db.schema, err)
		}
	}
	if err := postgres.CheckSchema(ctx, p, postgres.SchemaVersionRequired); err != nil {
		t.Errorf("CheckSchema after Migrate: %v", err)
	}
}

// A schema older than the build needs is refused with Kuma's advice, by CheckSchema and New.
func TestCheckSchemaRefusesOlderSchema(t *testing.T) {
	db := newTestDB(t)
	p := db.pool(t)
	ctx := testCtx(t)
	want := "database schema is at version 0, this jetmesh needs 1: run 'jetmesh-cp migrate up'"
	err := postgres.CheckSchema(ctx, p, 1)
	if err == nil || err.Error() != want || !errors.Is(err, postgres.ErrSchemaTooOld) {
		t.Fatalf("CheckSchema on an empty schema: %v\nwant %s", err, want)
	}
	if _, err := postgres.New(ctx, p, "pg"); err == nil || !errors.Is(err, postgres.ErrSchemaTooOld) {
		t.Errorf("New on an empty schema: %v, want ErrSchemaTooOld", err)
	}
	if err := postgres.Migrate(ctx, p); err != nil {
		t.Fatal(err)
	}
	next := postgres.SchemaVersionRequired + 1 // a newer build needing one more migration
	err = postgres.CheckSchema(ctx, p, next)
	var sve *postgres.SchemaVersionError
	if !errors.As(err, &sve) || sve.Have != postgres.SchemaVersionRequired || sve.Want != next {
		t.Errorf("CheckSchema(%d) = %v", next, err)
	}
}
