// Command jetmesh-bench measures a Kuma-2.x-compatible control plane as its users see it:
// simulated dataplanes on the xDS port, changes through the REST API. See docs/performance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/cpproc"
	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/scenario"
)

const usage = `jetmesh-bench: load scenarios against a Kuma-2.x-compatible control plane.

Usage:
  jetmesh-bench <scenario> [flags]

Scenarios:
  first-config  N proxies connect: stream open -> complete LDS+CDS+EDS; then joins one at a time
  propagation   N connected, K changes (--kind endpoints|mtp): API response -> last affected proxy
  churn         dataplanes of a service come and go: until every consumer's EDS reflects it
  api           REST writes/s and reads/s with C concurrent clients
  resources     control plane RSS and CPU per connected proxy (needs --cp-pid or a started CP)
  sweep         first config and both kinds of change at several mesh sizes, with an SVG plot
  multizone     a global and two zones: policy on the global -> zone A's proxies; a dataplane
                joining zone B -> zone A's consumer EDS through zone B's ingress
  plot          redraw a sweep's SVG from its JSON line: plot --from sweep.txt --svg out.svg

Without --api the tool starts a control plane itself (this binary, as a child process, on
random loopback ports with a temporary data directory, removed afterwards); multizone
without --global-api starts a global and two zones that way.
Each scenario prints a table and one JSON line.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == internalCP {
		if err := runCP(args[1:], stderr); err != nil {
			fmt.Fprintf(stderr, "jetmesh-bench %s: %v\n", internalCP, err)
			return 1
		}
		return 0
	}
	if args[0] == "plot" {
		if err := replot(args[1:], stderr); err != nil {
			fmt.Fprintf(stderr, "jetmesh-bench plot: %v\n", err)
			return 1
		}
		return 0
	}
	name := args[0]
	env, err := parse(name, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "jetmesh-bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if _, err := scenario.Run(ctx, name, env); err != nil {
		fmt.Fprintf(stderr, "jetmesh-bench: %v\n", err)
		return 1
	}
	return 0
}

func parse(name string, args []string, stdout, stderr io.Writer) (*scenario.Env, error) {
	o := scenario.DefaultOptions()
	fs := flag.NewFlagSet("jetmesh-bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.API, "api", "", "REST API URL of the control plane (empty: start one)")
	fs.StringVar(&o.XDS, "xds", "", "xDS (DP server) address host:port")
	fs.StringVar(&o.CAFile, "ca-file", "", "CA certificate the DP server is verified with")
	fs.BoolVar(&o.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the DP server's certificate")
	fs.IntVar(&o.CPPID, "cp-pid", 0, "control plane pid, for the resources scenario")
	fs.StringVar(&o.Token, "token", "", "dataplane token, sent as the 'authorization' gRPC metadata")
	fs.StringVar(&o.Mesh, "mesh", o.Mesh, "mesh to create (and delete afterwards)")
	fs.BoolVar(&o.Delta, "delta", false, "use incremental (Delta) xDS instead of SotW")
	fs.IntVar(&o.PerConn, "per-conn", o.PerConn, "simulated proxies per gRPC connection (Envoy: 1)")
	fs.IntVar(&o.N, "n", o.N, "dataplanes")
	fs.IntVar(&o.Spread, "spread", o.Spread, "dataplanes per service")
	fs.IntVar(&o.Outbounds, "outbounds", o.Outbounds, "outbounds per dataplane")
	fs.IntVar(&o.Ramp, "ramp", o.Ramp, "proxies connecting at once")
	fs.IntVar(&o.Joins, "joins", o.Joins, "dataplanes joining one by one after the N (first-config, sweep)")
	fs.IntVar(&o.Changes, "k", o.Changes, "changes (propagation, churn, sweep)")
	fs.StringVar(&o.Kind, "kind", o.Kind, "kind of change in propagation: endpoints or mtp")
	fs.IntVar(&o.Concurrency, "c", o.Concurrency, "concurrent API clients")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "api: each phase; resources: idle window")
	fs.DurationVar(&o.Settle, "settle", 0, "wait after the proxies are configured, before joins and changes")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound of the whole scenario")
	fs.DurationVar(&o.ChangeTimeout, "change-timeout", o.ChangeTimeout, "bound of one change")
	fs.StringVar(&o.GlobalAPI, "global-api", "", "multizone: REST API URL of the global (empty: start a global and two zones)")
	fs.StringVar(&o.ZoneAPI, "zone-api", "", "multizone: REST API URL of zone A, whose proxies are measured")
	fs.StringVar(&o.ZoneXDS, "zone-xds", "", "multizone: zone A's xDS (DP server) address host:port")
	fs.StringVar(&o.ZoneCAFile, "zone-ca-file", "", "multizone: CA certificate of zone A's DP server (default --ca-file)")
	fs.StringVar(&o.ZoneBAPI, "zone-b-api", "", "multizone: REST API URL of zone B (empty: no cross-zone part)")
	fs.StringVar(&o.IngressAddress, "ingress-address", o.IngressAddress, "multizone: advertised host:port of the ZoneIngress created in zone B")
	sizes := fs.String("sizes", "1000,5000,10000", "sweep: mesh sizes")
	fs.StringVar(&o.SVG, "svg", o.SVG, "sweep: SVG plot to write")
	fs.BoolVar(&o.ValidateResources, "validate", false, "NACK resources failing Envoy's proto validation (client CPU)")
	cpBinary := fs.String("cp-binary", "", "jetmesh-cp binary to start (default: this binary's built-in control plane)")
	cpEnv := fs.String("cp-env", "", "comma-separated KEY=VALUE settings for a started control plane (e.g. GOMAXPROCS=2)")
	cpuProfile := fs.String("cp-cpuprofile", "", "CPU profile of the started control plane, written when it stops")
	memProfile := fs.String("cp-memprofile", "", "heap profile of the started control plane, written when it stops")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.Sizes = nil
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--sizes: %q is not a positive number", s)
		}
		o.Sizes = append(o.Sizes, n)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	env := &scenario.Env{Opts: o, Out: stdout, Log: log}
	if name == "multizone" && o.GlobalAPI == "" {
		cfg, err := launchConfig(*cpBinary, *cpEnv)
		if err != nil {
			return nil, err
		}
		if *cpBinary == "" && (*cpuProfile != "" || *memProfile != "") {
			// Profiles are of zone A, whose proxies are measured.
			env.LaunchMultiZone = launchMultiZone(cfg, []string{"--cpuprofile", *cpuProfile, "--memprofile", *memProfile}, log)
		} else {
			env.LaunchMultiZone = launchMultiZone(cfg, nil, log)
		}
		return env, nil
	}
	if o.API == "" {
		cfg, err := launchConfig(*cpBinary, *cpEnv)
		if err != nil {
			return nil, err
		}
		if *cpBinary == "" {
			cfg.Args = append(cfg.Args, "--cpuprofile", *cpuProfile, "--memprofile", *memProfile)
		}
		env.Launch = func(ctx context.Context) (scenario.Target, error) {
			p, err := cpproc.Start(ctx, cfg, log)
			if err != nil {
				return scenario.Target{}, err
			}
			t := scenario.Target{API: p.API, XDS: p.XDS, CAFile: p.CAFile, PID: p.PID, Stop: p.Stop}
			if *memProfile != "" && *cpBinary == "" {
				t.HeapProfile = func(ctx context.Context) error { return p.HeapProfile(ctx, *memProfile) }
			}
			return t, nil
		}
	}
	return env, nil
}

// launchMultiZone starts a global and zones as child processes; zoneAArgs are added to the
// first zone's command line (its profiles).
func launchMultiZone(cfg cpproc.Config, zoneAArgs []string, log *slog.Logger) scenario.MultiZoneLauncher {
	return func(ctx context.Context, zones []string) (scenario.MultiZoneTarget, error) {
		token := func(ctx context.Context, api, zone string) (string, error) {
			c := kumaapi.New(api, 1)
			defer c.Close()
			// The global answers 503 until it has started (its signing key loaded).
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			tick := time.NewTicker(50 * time.Millisecond) // polling step of a deadline-bound wait
			defer tick.Stop()
			for {
				tok, err := c.ZoneToken(ctx, zone, 24*time.Hour)
				var e *kumaapi.Error
				if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
					return tok, err
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					return "", fmt.Errorf("%w (last: %w)", ctx.Err(), err)
				}
			}
		}
		mz, err := cpproc.StartMultiZone(ctx, cfg, zones, zoneAArgs, token, log)
		if err != nil {
			return scenario.MultiZoneTarget{}, err
		}
		t := scenario.MultiZoneTarget{GlobalAPI: mz.Global.API, GlobalPID: mz.Global.PID, Stop: mz.Stop}
		for _, z := range mz.Zones {
			t.Zones = append(t.Zones, scenario.Target{API: z.API, XDS: z.XDS, CAFile: z.CAFile, PID: z.PID})
		}
		return t, nil
	}
}

// replot redraws a sweep's SVG from the last JSON line of its saved output.
func replot(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("jetmesh-bench plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "saved sweep output (its JSON line is used)")
	svg := fs.String("svg", "docs/performance-sweep.svg", "SVG to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*from)
	if err != nil {
		return err
	}
	for _, line := range slices.Backward(strings.Split(string(b), "\n")) {
		if strings.HasPrefix(line, "{") {
			return scenario.PlotSweep([]byte(line), *svg)
		}
	}
	return fmt.Errorf("no JSON line in %s", *from)
}

// launchConfig starts the given jetmesh-cp, or this binary's built-in control plane.
func launchConfig(binary, env string) (cpproc.Config, error) {
	cfg := cpproc.Config{Command: binary, Args: []string{"run"}}
	if binary == "" {
		self, err := os.Executable()
		if err != nil {
			return cfg, fmt.Errorf("find own binary: %w", err)
		}
		cfg = cpproc.Config{Command: self, Args: []string{internalCP}}
	}
	for _, kv := range strings.Split(env, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return cfg, fmt.Errorf("--cp-env: %q is not KEY=VALUE", kv)
			}
			cfg.Env = append(cfg.Env, kv)
		}
	}
	return cfg, nil
}
