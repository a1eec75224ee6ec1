// Package scenario holds the load scenarios jetmesh-bench runs against a Kuma-2.x-compatible
// control plane (first-config, propagation, churn, api, resources, sweep, multizone): each drives the
// REST API, runs simulated proxies (loadgen/proxy), is bounded in time, cleans up what it
// created and returns a stats.Report.
package scenario

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/proxy"
	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// Options are the settings of a run.
type Options struct {
	// Target: REST API URL, xDS address, how to verify the DP server; empty API means the
	// tool starts a control plane itself (Env.Launch).
	API, XDS           string
	CAFile             string
	InsecureSkipVerify bool
	CPPID              int
	Token              string

	Mesh      string
	Delta     bool
	PerConn   int
	N         int
	Spread    int
	Outbounds int
	// Ramp is how many proxies may be connecting (not yet configured) at once.
	Ramp int
	// Joins is how many dataplanes join one by one after the N are configured (first-config).
	Joins int
	// Changes is K, the number of changes (propagation, churn).
	Changes int
	// Kind of change in propagation: "mtp" (MeshTrafficPermission on one service) or
	// "endpoints" (one provider's address changes; its consumers' EDS must follow).
	Kind string
	// Concurrency is C, the API clients (api scenario, and setup writes).
	Concurrency int
	// Duration of each phase of the api scenario, and the idle window of resources.
	Duration time.Duration
	// Settle is how long to let the control plane settle after the proxies are configured
	// and before changes are made (its first status flush writes every proxy's insight).
	Settle time.Duration
	// Timeout bounds the whole scenario; ChangeTimeout bounds the wait for one change.
	Timeout, ChangeTimeout time.Duration
	// Sizes of the sweep, and where it writes its SVG plot.
	Sizes []int
	SVG   string
	// ValidateResources makes the proxies NACK resources failing Envoy's proto validation.
	ValidateResources bool

	// Multi-zone targets (multizone scenario): the global's API, zone A's API and xDS (its
	// proxies are measured; ZoneCAFile defaults to CAFile) and zone B's API (where the
	// cross-zone providers join; empty skips the cross-zone part). Empty GlobalAPI: the
	// tool starts a global and two zones itself (Env.LaunchMultiZone).
	GlobalAPI, ZoneAPI, ZoneXDS, ZoneCAFile, ZoneBAPI string
	// IngressAddress is the advertised address (host:port) of the ZoneIngress the tool
	// creates in zone B; zone A's consumers must list it as the cross-zone endpoint.
	IngressAddress string
}

// DefaultOptions are the defaults the command's flags show.
func DefaultOptions() Options {
	return Options{Mesh: "jetmesh-bench", PerConn: 50, N: 1000, Spread: 10, Outbounds: 2, Ramp: 200, Joins: 50,
		Changes: 20, Kind: "endpoints", Concurrency: 16, Duration: 5 * time.Second, Timeout: 10 * time.Minute,
		ChangeTimeout: 30 * time.Second, Sizes: []int{1000, 5000, 10000}, SVG: "docs/performance-sweep.svg",
		IngressAddress: "127.0.0.11:10001"}
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.API != "" && o.XDS == "" {
		return fmt.Errorf("--xds is required with --api")
	}
	if o.API != "" && o.CAFile == "" && !o.InsecureSkipVerify {
		return fmt.Errorf("--ca-file or --insecure-skip-verify is required with --api (the DP server speaks TLS)")
	}
	if o.GlobalAPI != "" && (o.ZoneAPI == "" || o.ZoneXDS == "") {
		return fmt.Errorf("--zone-api and --zone-xds are required with --global-api")
	}
	if o.GlobalAPI != "" && o.ZoneCAFile == "" && o.CAFile == "" && !o.InsecureSkipVerify {
		return fmt.Errorf("--zone-ca-file (or --ca-file, --insecure-skip-verify) is required with --global-api")
	}
	if _, _, err := splitHostPort(o.IngressAddress); err != nil {
		return fmt.Errorf("--ingress-address: %w", err)
	}
	if o.Kind != "mtp" && o.Kind != "endpoints" {
		return fmt.Errorf("--kind must be mtp or endpoints, got %q", o.Kind)
	}
	if o.Concurrency < 1 || o.Ramp < 1 || o.Changes < 0 || o.Joins < 0 {
		return fmt.Errorf("concurrency and ramp must be at least 1, changes and joins not negative")
	}
	return o.topology(o.N).Validate()
}

func (o Options) topology(n int) Topology {
	return Topology{Mesh: o.Mesh, N: n, Spread: o.Spread, Outbounds: o.Outbounds}
}

// Target is a running control plane to measure.
type Target struct {
	API, XDS, CAFile string
	// PID is the control plane's process id (0: unknown, no resource figures).
	PID int
	// Stop stops a control plane the tool started (nil otherwise).
	Stop func(ctx context.Context) error
	// HeapProfile, when set, has the control plane write a heap profile now (the resources
	// scenario calls it with every proxy connected).
	HeapProfile func(ctx context.Context) error
}

// Launcher starts a fresh control plane.
type Launcher func(ctx context.Context) (Target, error)

// MultiZoneTarget is a global and its zones.
type MultiZoneTarget struct {
	// GlobalAPI is the global's REST API; GlobalPID its process (0: unknown).
	GlobalAPI string
	GlobalPID int
	// Zones: the first is zone A (its proxies are measured), the second, if any, zone B.
	Zones []Target
	// Stop stops control planes the tool started (nil otherwise).
	Stop func(ctx context.Context) error
}

// MultiZoneLauncher starts a global and the named zones linked to it.
type MultiZoneLauncher func(ctx context.Context, zones []string) (MultiZoneTarget, error)

// Env is what scenarios run with.
type Env struct {
	Opts Options
	// Launch starts a control plane when Opts.API is empty.
	Launch Launcher
	// LaunchMultiZone starts a global and zones when Opts.GlobalAPI is empty (multizone).
	LaunchMultiZone MultiZoneLauncher
	Out             io.Writer
	Log             *slog.Logger
}

// target returns the control plane to measure and a function that stops it if the tool
// started it.
func (e *Env) target(ctx context.Context) (Target, func(), error) {
	if e.Opts.API != "" {
		return Target{API: e.Opts.API, XDS: e.Opts.XDS, CAFile: e.Opts.CAFile, PID: e.Opts.CPPID}, func() {}, nil
	}
	if e.Launch == nil {
		return Target{}, nil, fmt.Errorf("no --api given and no way to start a control plane")
	}
	t, err := e.Launch(ctx)
	if err != nil {
		return Target{}, nil, fmt.Errorf("start control plane: %w", err)
	}
	stop := func() {
		if t.Stop == nil {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := t.Stop(sctx); err != nil {
			e.Log.Warn("stop control plane failed", "err", err)
		}
	}
	return t, stop, nil
}

func (e *Env) fleetConfig(t Target) proxy.Config {
	c := proxy.DefaultConfig()
	c.Address, c.CAFile, c.InsecureSkipVerify = t.XDS, t.CAFile, e.Opts.InsecureSkipVerify
	c.Delta, c.PerConn, c.Token, c.ValidateResources = e.Opts.Delta, e.Opts.PerConn, e.Opts.Token, e.Opts.ValidateResources
	return c
}

// machine describes where the numbers were taken; the load matters on a shared machine.
func machine() map[string]any {
	return map[string]any{"nproc": runtime.NumCPU(), "load": loadAvg(), "goos": runtime.GOOS}
}

// loadAvg is /proc/loadavg's first three fields ("" where there is none).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// finish adds what every report carries and prints it.
func (e *Env) finish(r *stats.Report, loadStart string) error {
	r.Set(map[string]any{"delta": e.Opts.Delta, "per_conn": e.Opts.PerConn, "load_start": loadStart})
	r.Set(machine())
	r.Notes = append(r.Notes, fmt.Sprintf("load average at start %s, at end %s on %d CPUs (shared machine: numbers move with it)",
		loadStart, loadAvg(), runtime.NumCPU()))
	return r.Write(e.Out)
}

// Run runs one scenario by name.
func Run(ctx context.Context, name string, env *Env) (*stats.Report, error) {
	if err := env.Opts.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, env.Opts.Timeout)
	defer cancel()
	fn, ok := map[string]func(context.Context, *Env) (*stats.Report, error){
		"first-config": FirstConfig,
		"propagation":  Propagation,
		"churn":        Churn,
		"api":          API,
		"resources":    Resources,
		"sweep":        Sweep,
		"multizone":    MultiZone,
	}[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q", name)
	}
	load := loadAvg()
	r, err := fn(ctx, env)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	return r, env.finish(r, load)
}

// Names lists the scenarios.
var Names = []string{"first-config", "propagation", "churn", "api", "resources", "sweep", "multizone"}

// client returns an API client for the target.
func (e *Env) client(t Target) *kumaapi.Client { return kumaapi.New(t.API, e.Opts.Concurrency*2) }
