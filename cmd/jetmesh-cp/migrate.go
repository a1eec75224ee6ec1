package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/projections/postgres"
)

// migrateTimeout bounds 'migrate up'; migrations are small DDL, so this is for a hung server.
const migrateTimeout = 5 * time.Minute

// runMigrate is 'jetmesh-cp migrate up': it brings the PostgreSQL schema to this build's
// version, with the same KUMA_STORE_POSTGRES_* settings as kuma-cp's migrate.
func runMigrate(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "up" {
		return fmt.Errorf("usage: jetmesh-cp migrate up [flags]")
	}
	fs := flag.NewFlagSet("jetmesh-cp migrate up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "", "PostgreSQL host (env KUMA_STORE_POSTGRES_HOST)")
	port := fs.Int("port", 0, "PostgreSQL port (env KUMA_STORE_POSTGRES_PORT)")
	user := fs.String("user", "", "PostgreSQL user (env KUMA_STORE_POSTGRES_USER)")
	dbName := fs.String("db-name", "", "database (env KUMA_STORE_POSTGRES_DB_NAME)")
	tlsMode := fs.String("tls-mode", "", "disable, verifyNone, verifyCa or verifyFull (env KUMA_STORE_POSTGRES_TLS_MODE)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: jetmesh-cp migrate up [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEnvironment variables (the password only from there):\n  %s\n",
			strings.Join(postgres.EnvNames(), "\n  "))
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := postgres.DefaultConfig()
	if err := cfg.LoadEnv(os.LookupEnv); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "host":
			cfg.Host = *host
		case "port":
			cfg.Port = *port
		case "user":
			cfg.User = *user
		case "db-name":
			cfg.DBName = *dbName
		case "tls-mode":
			cfg.TLS.Mode = *tlsMode
		}
	})
	pc, err := cfg.PoolConfig()
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	if err := postgres.Migrate(ctx, pool); err != nil {
		return err
	}
	v, err := postgres.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database schema is at version %d\n", v)
	return nil
}
