// Command jetmesh-cp runs a jetmesh control plane.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jetmesh/jetmesh/services/controlplane"
)

const usage = `jetmesh-cp: a Kuma-compatible service mesh control plane whose state is an event log in
NATS JetStream.

Usage:
  jetmesh-cp run [flags]     run a control plane (standalone by default)
  jetmesh-cp migrate up      apply pending PostgreSQL schema migrations (KUMA_STORE_POSTGRES_*)
  jetmesh-cp version         print the version
  jetmesh-cp help            show this help

A standalone control plane needs nothing else: it embeds a NATS server with JetStream file
storage (loopback only, port 5690) under the data directory, creates the mesh "default" on
first start and serves Kuma's REST API on 127.0.0.1:5681, so the real kumactl works:

  kumactl config control-planes add --name jetmesh --address http://127.0.0.1:5681
  kumactl get meshes

Multi-zone (Kuma's model, replicated by NATS JetStream leafnodes and mirrors):

  jetmesh-cp run --mode global                          # zones link to :5685 (TLS)
  kumactl generate zone-token --zone zone-1 --valid-for 720h > zone-1.token
  jetmesh-cp run --zone zone-1 --global-address grpcs://global:5685 \
      --zone-token-file zone-1.token                    # plus KUMA_MULTIZONE_ZONE_KDS_ROOT_CA_FILE

Settings come from, lowest precedence first: defaults, the --config-file YAML, environment
variables (Kuma's KUMA_* names where they mean the same, JETMESH_* for the rest), then flags.
Run 'jetmesh-cp run --help' for flags and variables.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		if err := runCP(args[1:], stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "jetmesh-cp: %s\n", oneLine(err))
			return 1
		}
		return 0
	case "migrate":
		if err := runMigrate(args[1:], stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "jetmesh-cp: %s\n", oneLine(err))
			return 1
		}
		return 0
	case "version", "--version":
		fmt.Fprintf(stdout, "jetmesh-cp %s (Kuma API %s)\n", controlplane.Version, controlplane.KumaAPIVersion)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "jetmesh-cp: unknown command %q; run 'jetmesh-cp help'\n", args[0])
	return 2
}

// oneLine keeps errors to one line, joining multi-error reports with "; ".
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func runCP(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jetmesh-cp run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config-file", "", "YAML configuration file, kuma-cp's layout where settings overlap (-c)")
	fs.StringVar(configFile, "c", "", "shorthand for --config-file")
	dataDir := fs.String("data-dir", "", "directory for JetStream files (default ~/.jetmesh; env JETMESH_DATA_DIR)")
	apiPort := fs.Int("api-port", 0, "HTTP API port (default 5681, 0 for a random one; env KUMA_API_SERVER_HTTP_PORT)")
	httpsPort := fs.Int("api-https-port", 0, "HTTPS API port (default 5682, 0 for a random one; env KUMA_API_SERVER_HTTPS_PORT)")
	natsURL := fs.String("nats-url", "", "use this external NATS server instead of the embedded one (env JETMESH_NATS_URL)")
	natsPort := fs.Int("nats-port", 0, "embedded NATS client port (default 5690, -1 for a random one; env JETMESH_NATS_EMBEDDED_PORT)")
	dpPort := fs.Int("dp-port", 0, "DP server port: xDS and /bootstrap (default 5678, 0 for a random one; env KUMA_DP_SERVER_PORT)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	mode := fs.String("mode", "", "zone (default; standalone unless --global-address is set) or global (env KUMA_MODE)")
	zone := fs.String("zone", "", "this zone's name (env KUMA_MULTIZONE_ZONE_NAME)")
	globalAddr := fs.String("global-address", "", "a zone's link to the global, e.g. grpcs://global:5685 (env KUMA_MULTIZONE_ZONE_GLOBAL_ADDRESS)")
	zoneTokenFile := fs.String("zone-token-file", "", "a zone's token from 'kumactl generate zone-token --zone NAME' on the global (env JETMESH_MULTIZONE_ZONE_TOKEN_FILE)")
	kdsPort := fs.Int("kds-port", 0, "a global's zone-link port (default 5685; env KUMA_MULTIZONE_GLOBAL_KDS_GRPC_PORT)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: jetmesh-cp run [flags]\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) > 1 { // the -c shorthand is listed with --config-file
				fmt.Fprintf(stderr, "  --%-14s %s\n", f.Name, f.Usage)
			}
		})
		fmt.Fprintf(stderr, "\nEnvironment variables:\n  %s\n", strings.Join(controlplane.EnvNames(), "\n  "))
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := controlplane.DefaultConfig()
	if *configFile != "" {
		if err := cfg.LoadFile(*configFile); err != nil {
			return err
		}
	}
	if err := cfg.LoadEnv(os.LookupEnv); err != nil {
		return err
	}
	// Only flags given on the command line override, so "--api-port 0" can ask for a random port.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = *dataDir
		case "api-port":
			cfg.APIServer.HTTP.Port = *apiPort
		case "api-https-port":
			cfg.APIServer.HTTPS.Port = *httpsPort
		case "dp-port":
			cfg.DPServer.Port = *dpPort
		case "nats-url":
			cfg.NATS.URL = *natsURL
		case "nats-port":
			cfg.NATS.Embedded.Port = *natsPort
		case "mode":
			cfg.Mode = *mode
		case "zone":
			cfg.Multizone.Zone.Name = *zone
		case "global-address":
			cfg.Multizone.Zone.GlobalAddress = *globalAddr
		case "zone-token-file":
			cfg.Multizone.Zone.TokenFile = *zoneTokenFile
		case "kds-port":
			cfg.Multizone.Global.KDS.GRPCPort = *kdsPort
		}
	})
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	return serve(cfg, log, level)
}

func serve(cfg controlplane.Config, log *slog.Logger, level slog.Level) error {
	app := fx.New(
		controlplane.Module(cfg, log),
		fx.WithLogger(func() fxevent.Logger {
			if level <= slog.LevelDebug {
				return &fxevent.SlogLogger{Logger: log.With("component", "fx")}
			}
			return fxevent.NopLogger
		}),
		fx.StartTimeout(5*time.Minute), // a long log replays before the API opens
		fx.StopTimeout(time.Duration(cfg.ShutdownTimeout)),
	)
	if err := app.Err(); err != nil {
		// fx wraps a constructor's error in the whole dependency chain; the operator needs
		// the cause ("listen 127.0.0.1:5690: address already in use").
		return dig.RootCause(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		if ctx.Err() != nil {
			// A signal arrived while starting: that is a shutdown request, not a failure.
			log.Info("shutting down", "signal", "received during start")
			return stopApp(app, log)
		}
		return err
	}
	log.Info("control plane started", "mode", cfg.Mode, "zone", cfg.Multizone.Zone.Name,
		"api", fmt.Sprintf("http://%s:%d", cfg.APIServer.HTTP.Interface, cfg.APIServer.HTTP.Port),
		"dataDir", cfg.DataDir)
	select {
	case <-ctx.Done():
		log.Info("shutting down", "signal", "received")
	case sig := <-app.Wait():
		log.Info("shutting down", "exitCode", sig.ExitCode)
	}
	return stopApp(app, log)
}

// stopApp stops every part in reverse start order within the stop timeout.
func stopApp(app *fx.App, log *slog.Logger) error {
	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("control plane stopped")
	return nil
}
