// Package cpproc starts a jetmesh control plane as a child process on random loopback ports
// with a temporary data directory, so a load run needs nothing set up and measures the
// control plane's own process (its RSS and CPU), not the load generator's.
package cpproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config says how to start the control plane.
type Config struct {
	// Command and Args run a jetmesh-cp ("jetmesh-cp", "run"); cpproc adds the data
	// directory, random ports and the log level.
	Command string
	Args    []string
	// Env is added to the child's environment (e.g. GOMAXPROCS, KUMA_* settings).
	Env []string
	// StartTimeout bounds the wait for both listeners (default 2 minutes).
	StartTimeout time.Duration
	// NoDPServer is set for a control plane that serves no dataplanes (a multi-zone global):
	// only its API listener is waited for.
	NoDPServer bool
	// Name tells several started control planes apart in the log and the data directory.
	Name string
}

// Process is a running control plane.
type Process struct {
	API, XDS, CAFile string
	PID              int
	DataDir          string
	LogFile          string

	cmd  *exec.Cmd
	log  *slog.Logger
	wg   sync.WaitGroup
	done chan error
}

var (
	dpListening  = regexp.MustCompile(`msg="DP server listening".* address=(\S+) caCert=(\S+)`)
	apiListening = regexp.MustCompile(`msg="API server listening".* address=(\S+)`)
)

// Start runs the control plane and returns once its API and DP server listen.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Process, error) {
	prefix := "jetmesh-bench-cp-"
	if cfg.Name != "" {
		prefix += cfg.Name + "-"
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("cp: data dir: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "cp.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("cp: log file: %w", err)
	}
	args := append(append([]string(nil), cfg.Args...), "--data-dir", filepath.Join(dir, "data"),
		"--api-port", "0", "--api-https-port", "0", "--dp-port", "0", "--nats-port", "-1", "--log-level", "info")
	// Not exec.CommandContext: the child must outlive the start context and stop gracefully.
	cmd := exec.Command(cfg.Command, args...)
	// The load tool's proxies present no dataplane tokens; cfg.Env may say otherwise.
	cmd.Env = append(append(os.Environ(), "KUMA_DP_SERVER_AUTHN_DP_PROXY_TYPE=none"), cfg.Env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("cp: %w", err)
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("cp: start %s: %w", cfg.Command, err)
	}
	p := &Process{PID: cmd.Process.Pid, DataDir: dir, LogFile: logFile.Name(), cmd: cmd, log: log, done: make(chan error, 1)}
	ready := make(chan struct{})
	p.wg.Add(1)
	go func() { // owns stderr until the child exits
		defer p.wg.Done()
		defer logFile.Close()
		p.scan(stderr, logFile, ready, !cfg.NoDPServer)
	}()
	go func() { p.done <- cmd.Wait() }()
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	select {
	case <-ready:
		log.Info("control plane started", "name", cfg.Name, "pid", p.PID, "api", p.API, "xds", p.XDS, "log", p.LogFile)
		return p, nil
	case err := <-p.done:
		p.done <- err
		p.wg.Wait()
		return nil, fmt.Errorf("cp: exited before listening (%v); log %s:\n%s", err, p.LogFile, tail(p.LogFile))
	case <-time.After(timeout):
		err = fmt.Errorf("cp: not listening after %s; log %s", timeout, p.LogFile)
	case <-ctx.Done():
		err = fmt.Errorf("cp: start: %w", ctx.Err())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = p.Stop(sctx)
	return nil, err
}

// scan copies the child's log to the file and picks the listen addresses out of it.
func (p *Process) scan(r io.Reader, w io.Writer, ready chan<- struct{}, wantXDS bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(w, line)
		if signalled {
			continue
		}
		if m := dpListening.FindStringSubmatch(line); m != nil {
			p.XDS, p.CAFile = m[1], m[2]
		}
		if m := apiListening.FindStringSubmatch(line); m != nil {
			p.API = "http://" + m[1]
		}
		if p.API != "" && (p.XDS != "" || !wantXDS) {
			signalled = true
			close(ready)
		}
	}
}

// KDSCACertFile is where a started global keeps its generated zone-link certificate, which
// zones verify the global with (<data dir>/certs/kds/cp.crt).
func (p *Process) KDSCACertFile() string {
	return filepath.Join(p.DataDir, "data", "certs", "kds", "cp.crt")
}

// Stop asks the control plane to shut down (SIGTERM), kills it if ctx ends first, and
// removes its data directory.
func (p *Process) Stop(ctx context.Context) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cp: signal: %w", err)
	}
	var err error
	select {
	case err = <-p.done:
		p.done <- err
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		err = <-p.done
		p.done <- err
	}
	p.wg.Wait()
	if rmErr := os.RemoveAll(p.DataDir); rmErr != nil {
		return fmt.Errorf("cp: remove data dir: %w", rmErr)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == -1 {
		return fmt.Errorf("cp: killed after the shutdown timeout")
	}
	return nil
}

// HeapProfile asks the built-in control plane (jetmesh-bench internal-cp --memprofile path)
// for a heap profile with SIGUSR1 and waits until the file appears.
func (p *Process) HeapProfile(ctx context.Context, path string) error {
	_ = os.Remove(path)
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return fmt.Errorf("cp: signal: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond) // polling step of a deadline-bound wait
	defer tick.Stop()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("cp: no heap profile at %s: %w", path, ctx.Err())
		}
	}
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// MultiZone is a started global and its zones.
type MultiZone struct {
	Global *Process
	Zones  []*Process
}

// ZoneTokenFunc asks the global (at its API URL) for a zone's token.
type ZoneTokenFunc func(ctx context.Context, globalAPI, zone string) (string, error)

// StartMultiZone starts a global (zone links on a free loopback port, its own TLS
// certificate) and the named zones linked to it, each with a token the global issued and
// verifying the global with its KDS CA file. cfg is the command and settings of every one.
// firstZoneArgs are added to the first zone's command line (e.g. its profiles).
func StartMultiZone(ctx context.Context, cfg Config, zones []string, firstZoneArgs []string, token ZoneTokenFunc,
	log *slog.Logger) (*MultiZone, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	gcfg := cfg
	gcfg.Name, gcfg.NoDPServer = "global", true
	gcfg.Env = append(slices.Clone(cfg.Env), "KUMA_MODE=global", fmt.Sprintf("KUMA_MULTIZONE_GLOBAL_KDS_GRPC_PORT=%d", port),
		"JETMESH_MULTIZONE_GLOBAL_KDS_INTERFACE=127.0.0.1")
	g, err := Start(ctx, gcfg, log)
	if err != nil {
		return nil, fmt.Errorf("global: %w", err)
	}
	mz := &MultiZone{Global: g}
	fail := func(err error) (*MultiZone, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = mz.Stop(sctx)
		return nil, err
	}
	if err := waitFile(ctx, g.KDSCACertFile(), time.Minute); err != nil {
		return fail(fmt.Errorf("global: %w", err))
	}
	for _, zone := range zones {
		tok, err := token(ctx, g.API, zone)
		if err != nil {
			return fail(fmt.Errorf("zone %s: token: %w", zone, err))
		}
		tokenFile := filepath.Join(g.DataDir, zone+".token")
		if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
			return fail(fmt.Errorf("zone %s: token file: %w", zone, err))
		}
		zcfg := cfg
		zcfg.Name = zone
		if len(mz.Zones) == 0 {
			zcfg.Args = append(slices.Clone(cfg.Args), firstZoneArgs...)
		}
		zcfg.Env = append(slices.Clone(cfg.Env), "KUMA_MODE=zone", "KUMA_MULTIZONE_ZONE_NAME="+zone,
			fmt.Sprintf("KUMA_MULTIZONE_ZONE_GLOBAL_ADDRESS=grpcs://127.0.0.1:%d", port),
			"KUMA_MULTIZONE_ZONE_KDS_ROOT_CA_FILE="+g.KDSCACertFile(), "JETMESH_MULTIZONE_ZONE_TOKEN_FILE="+tokenFile)
		z, err := Start(ctx, zcfg, log)
		if err != nil {
			return fail(fmt.Errorf("zone %s: %w", zone, err))
		}
		mz.Zones = append(mz.Zones, z)
	}
	return mz, nil
}

// Stop stops the zones, then the global (which holds the zones' token files).
func (m *MultiZone) Stop(ctx context.Context) error {
	var errs []error
	for _, z := range m.Zones {
		if err := z.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.Global.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// freePort returns a loopback port that was free a moment ago (the global's zone-link port
// must be known before the zones start).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFile polls until a file exists and is not empty, within timeout.
func waitFile(ctx context.Context, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond) // polling step of a deadline-bound wait
	defer tick.Stop()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("no %s: %w", path, ctx.Err())
		}
	}
}
