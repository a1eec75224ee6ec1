package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jetmesh/jetmesh/projections/postgres"
)

// 'migrate up' creates the schema in a fresh database, says which version it reached, and is
// idempotent; bad settings give one line.
func TestMigrateUp(t *testing.T) {
	dsn := os.Getenv("JETMESH_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("JETMESH_TEST_POSTGRES_DSN is not set")
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := "jm_test_cp_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	cc := conn.Config()
	t.Setenv("KUMA_STORE_POSTGRES_HOST", cc.Host)
	t.Setenv("KUMA_STORE_POSTGRES_PORT", strconv.Itoa(int(cc.Port)))
	t.Setenv("KUMA_STORE_POSTGRES_USER", cc.User)
	t.Setenv("KUMA_STORE_POSTGRES_PASSWORD", cc.Password)
	for range 2 {
		var out, errOut bytes.Buffer
		if code := run([]string{"migrate", "up", "--db-name", db}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		want := fmt.Sprintf("database schema is at version %d\n", postgres.SchemaVersionRequired)
		if got := out.String(); got != want {
			t.Errorf("stdout %q, want %q", got, want)
		}
	}
	var errOut bytes.Buffer
	if code := run([]string{"migrate", "up", "--tls-mode", "verify-full"}, &bytes.Buffer{}, &errOut); code != 1 ||
		strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "tls mode") {
		t.Errorf("bad tls mode: exit %d, %q", code, errOut.String())
	}
}
