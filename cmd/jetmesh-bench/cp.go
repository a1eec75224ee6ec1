package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jetmesh/jetmesh/services/controlplane"
)

// internalCP is the hidden command the tool starts itself with to run a control plane in a
// child process (the same fx application as jetmesh-cp run), so that the control plane's RSS
// and CPU are its own and `go run ./cmd/jetmesh-bench` needs no other binary.
const internalCP = "internal-cp"

func runCP(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(internalCP, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data directory")
	apiPort := fs.Int("api-port", 0, "API port (0: random)")
	dpPort := fs.Int("dp-port", 0, "DP server port (0: random)")
	httpsPort := fs.Int("api-https-port", 0, "HTTPS API port (0: random)")
	natsPort := fs.Int("nats-port", -1, "embedded NATS port (-1: random)")
	logLevel := fs.String("log-level", "info", "log level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file at shutdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := controlplane.DefaultConfig()
	if err := cfg.LoadEnv(os.LookupEnv); err != nil {
		return err
	}
	cfg.DataDir, cfg.APIServer.HTTP.Port, cfg.DPServer.Port, cfg.NATS.Embedded.Port = *dataDir, *apiPort, *dpPort, *natsPort
	cfg.APIServer.HTTPS.Port = *httpsPort
	// The load tool's proxies present no dataplane tokens.
	cfg.DPServer.Authn.DPProxy.Type = controlplane.AuthnNone
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	app := fx.New(controlplane.Module(cfg, log), fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
		fx.StartTimeout(5*time.Minute), fx.StopTimeout(time.Duration(cfg.ShutdownTimeout)))
	if err := app.Err(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// SIGUSR1 asks for a heap profile now (the resources scenario sends it with every proxy
	// connected); one is also written at shutdown.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for ctx.Err() == nil {
		select {
		case <-usr1:
			if *memProfile != "" {
				writeHeapProfile(*memProfile, stderr)
			}
		case <-ctx.Done():
		}
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	return app.Stop(stopCtx)
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeHeapProfile writes the live heap (after a GC) while the control plane still runs,
// through a temporary file so a reader never sees half a profile.
func writeHeapProfile(path string, stderr io.Writer) {
	tmp := path + ".tmp"
	defer func() {
		if err := os.Rename(tmp, path); err != nil {
			fmt.Fprintf(stderr, "heap profile: %v\n", err)
		}
	}()
	f, err := os.Create(tmp)
	if err != nil {
		fmt.Fprintf(stderr, "heap profile: %v\n", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		fmt.Fprintf(stderr, "heap profile: %v\n", err)
	}
}
