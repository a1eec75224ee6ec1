package dpagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// ErrInvalidConfig wraps configuration errors (a usage error for the command line).
var ErrInvalidConfig = errors.New("invalid configuration")

// IO is the agent's standard streams; Envoy inherits Stdout and Stderr.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Agent runs one proxy: it fetches the bootstrap, runs Envoy and drains it on shutdown.
type Agent struct {
	cfg Config
	log *slog.Logger
	io  IO
}

// New returns an agent for cfg; Run validates cfg.
func New(cfg Config, log *slog.Logger, stdio IO) *Agent {
	return &Agent{cfg: cfg, log: log, io: stdio}
}

// Run runs the proxy until Envoy exits, and returns nil when it exits with status 0,
// *EnvoyExitError otherwise. Signals drive the shutdown as in kuma-dp: the first SIGINT or
// SIGTERM fails Envoy's health checks (POST /healthcheck/fail, so HTTP connections get
// "connection: close" or GOAWAY and /ready turns 503), waits the drain time or until Envoy
// exits, then sends Envoy SIGTERM; a second one skips the wait; a third, or Envoy still
// running after StopTimeout, kills Envoy. SIGUSR2 drains inbound listeners for good
// (POST /drain_listeners?inboundonly&graceful&skip_exit). Cancelling ctx stops Envoy at once.
func (a *Agent) Run(ctx context.Context, signals <-chan os.Signal) error {
	c := a.cfg
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	binary, err := LookupEnvoy(c.BinaryPath)
	if err != nil {
		return err
	}
	res, err := LoadResource(&c, a.io.Stdin)
	if err != nil {
		return err
	}
	if res != nil {
		c.Name, c.Mesh = res.Name, res.Mesh
	}
	if err := c.validateIdentity(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.CACert == "" && c.CACertFile != "" {
		pem, err := os.ReadFile(c.CACertFile)
		if err != nil {
			return fmt.Errorf("--ca-cert-file: %w", err)
		}
		c.CACert = string(pem)
	}
	envoyVersion, err := EnvoyVersion(ctx, binary)
	if err != nil {
		return err
	}
	workdir, cleanup, err := prepareWorkdir(c.WorkDir)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := c.prepareToken(workdir); err != nil {
		return err
	}
	resp, err := a.fetch(ctx, &c, a.request(&c, res, envoyVersion, workdir), signals)
	if err != nil || resp == nil {
		return err
	}
	configPath := filepath.Join(workdir, "bootstrap.yaml")
	if err := os.WriteFile(configPath, resp.Bootstrap, 0o600); err != nil {
		return fmt.Errorf("write the Envoy bootstrap: %w", err)
	}
	addr, ok := adminFromBootstrap(resp.Bootstrap)
	if !ok {
		addr = adminAddress{Host: bootstrap.DefaultAdminAddress, Port: c.AdminPort}
	}
	a.log.Info("bootstrap configuration saved", "file", configPath, "admin", addr.String())
	dns, err := a.startDNS(ctx, &c, res, workdir)
	if err != nil {
		return err
	}
	defer dns.stop()
	return a.runEnvoy(ctx, &c, binary, configPath, addr, dns.ready(), signals)
}

// request is what kuma-dp would send for this configuration.
func (a *Agent) request(c *Config, res *Resource, envoy bootstrap.EnvoyVersion, workdir string) bootstrap.Request {
	req := bootstrap.Request{
		Mesh: c.Mesh, Name: c.Name, ProxyType: c.ProxyType, DataplaneTokenPath: c.TokenPath,
		Version:         bootstrap.Version{KumaDp: BuildVersion(), Envoy: envoy},
		CaCert:          c.CACert,
		DynamicMetadata: map[string]string{},
		DNSPort:         c.EnvoyDNSPort, ReadinessPort: c.ReadinessPort,
		OperatingSystem: runtime.GOOS,
		Features:        c.features(res),
		Resources:       bootstrap.ProxyResources{MaxHeapSizeBytes: c.MaxMemoryBytes},
		Workdir:         workdir,
		MetricsResources: bootstrap.MetricsResources{
			CertPath: c.MetricsCertPath, KeyPath: c.MetricsKeyPath,
		},
		SystemCaPath: c.SystemCaPath,
		IPv6Enabled:  c.IPv6Enabled && hasLocalIPv6(),
	}
	if req.SystemCaPath == "" {
		req.SystemCaPath = systemCAPath()
	}
	if res != nil {
		req.DataplaneResource = string(res.JSON)
	}
	if hostIP := os.Getenv(bootstrap.MetadataHostIP); hostIP != "" {
		req.DynamicMetadata[bootstrap.MetadataHostIP] = hostIP
	}
	return req
}

// features are those of kuma-dp's that this agent honours; the ones that need kuma-dp side
// services it lacks (access-log and OpenTelemetry pipes) are not announced. The embedded
// DNS feature asks the control plane for the DNS table on the dynamic-configuration
// socket instead of an Envoy DNS listener; it is announced only when the proxy will run.
func (c *Config) features(res *Resource) []string {
	var f []string
	add := func(on bool, name string) {
		if on {
			f = append(f, name)
		}
	}
	add(c.BindOutbounds, bootstrap.FeatureBindOutbounds)
	add(c.XDSTransportProtocolVariant == "DELTA_GRPC", bootstrap.FeatureDeltaGRPC)
	add(c.UnifiedResourceNaming, bootstrap.FeatureUnifiedResourceNaming)
	add(c.StrictInboundPorts, bootstrap.FeatureStrictInboundPorts)
	add(c.ReusePort, bootstrap.FeatureReusePort)
	dnsAddrs, _ := c.dnsProxyAddresses(res)
	add(dnsAddrs != nil, bootstrap.FeatureEmbeddedDNS)
	return f
}

// fetch gets the bootstrap; a stop signal meanwhile abandons it and returns nil, nil.
func (a *Agent) fetch(ctx context.Context, c *Config, req bootstrap.Request, signals <-chan os.Signal) (*bootstrap.Response, error) {
	f, err := NewFetcher(c, a.log)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		resp *bootstrap.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := f.Fetch(fctx, req)
		done <- result{resp, err}
	}()
	a.log.Info("fetching bootstrap configuration", "cp", c.CPAddress, "mesh", c.Mesh, "name", c.Name)
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return nil, fmt.Errorf("fetch the Envoy bootstrap: %w", r.err)
			}
			return r.resp, nil
		case s := <-signals:
			if isStopSignal(s) {
				a.log.Info("stopping before Envoy started", "signal", s.String())
				cancel()
				<-done
				return nil, nil
			}
		}
	}
}

// runEnvoy starts the readiness reporter and Envoy and supervises Envoy until it exits.
// /ready waits for dnsReady (when not nil) up to c.DNSReadyTimeout.
func (a *Agent) runEnvoy(ctx context.Context, c *Config, binary, configPath string, addr adminAddress, dnsReady <-chan struct{}, signals <-chan os.Signal) error {
	admin := newAdminClient(addr)
	var ready *readiness
	if c.ReadinessPort != 0 {
		host := addr.Host
		if host == "" {
			host = bootstrap.DefaultAdminAddress
		}
		var err error
		if ready, err = startReadiness(host, c.ReadinessPort, admin, addr.SocketPath != "", dnsGate(dnsReady, c.DNSReadyTimeout), a.log); err != nil {
			return fmt.Errorf("readiness reporter (KUMA_READINESS_PORT): %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ready.stop(sctx)
		}()
	}
	args := envoyArgs(c, configPath)
	a.log.Info("starting Envoy", "path", binary, "args", args)
	p, err := startEnvoy(binary, args, a.io.Stdout, a.io.Stderr)
	if err != nil {
		return err
	}
	code := a.supervise(ctx, c, p, admin, ready, signals)
	a.log.Info("Envoy exited", "status", code)
	if code != 0 {
		return &EnvoyExitError{Code: code}
	}
	return nil
}

// supervise waits for Envoy to exit and turns signals into the shutdown sequence; it
// returns Envoy's exit code.
func (a *Agent) supervise(ctx context.Context, c *Config, p *envoyProcess, admin *adminClient, ready *readiness, signals <-chan os.Signal) int {
	var drained <-chan time.Time
	stops, drainingForever := 0, false
	for {
		select {
		case <-p.done:
			return p.exitCode()
		case <-ctx.Done():
			return a.stopEnvoy(p, c.StopTimeout, signals)
		case <-drained:
			return a.stopEnvoy(p, c.StopTimeout, signals)
		case s := <-signals:
			switch {
			case s == drainForeverSignal && drainForeverSignal != nil:
				if !drainingForever && stops == 0 {
					drainingForever = true
					a.log.Info("draining Envoy's inbound listeners", "signal", s.String())
					if err := admin.post(ctx, "/drain_listeners?inboundonly&graceful&skip_exit"); err != nil {
						a.log.Warn("could not drain Envoy", "err", err.Error())
					}
				}
			case isStopSignal(s):
				stops++
				if stops > 1 || drainingForever {
					return a.stopEnvoy(p, c.StopTimeout, signals)
				}
				drained = a.beginDrain(ctx, c, admin, ready, s)
			}
		}
	}
}

// beginDrain fails Envoy's health checks and returns when to stop it: after the drain time,
// or at once when Envoy's admin could not be reached.
func (a *Agent) beginDrain(ctx context.Context, c *Config, admin *adminClient, ready *readiness, s os.Signal) <-chan time.Time {
	a.log.Info("draining Envoy connections", "signal", s.String(), "drainTime", c.DrainTime)
	if ready != nil {
		ready.setTerminating()
	}
	if err := admin.post(ctx, "/healthcheck/fail"); err != nil {
		a.log.Warn("could not drain Envoy connections; stopping it now", "err", err.Error())
		return closedTimeChan()
	}
	return time.After(c.DrainTime)
}

func closedTimeChan() <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// stopEnvoy sends Envoy SIGTERM and waits; another stop signal or the timeout kills it.
func (a *Agent) stopEnvoy(p *envoyProcess, timeout time.Duration, signals <-chan os.Signal) int {
	a.log.Info("stopping Envoy")
	p.signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return p.exitCode()
		case <-t.C:
			a.log.Warn("Envoy did not stop in time; killing it", "timeout", timeout)
			p.signal(os.Kill)
			<-p.done
			return p.exitCode()
		case s := <-signals:
			if isStopSignal(s) {
				a.log.Warn("killing Envoy", "signal", s.String())
				p.signal(os.Kill)
				<-p.done
				return p.exitCode()
			}
		}
	}
}

func isStopSignal(s os.Signal) bool { return s == os.Interrupt || s == syscall.SIGTERM }

// prepareWorkdir makes dir (0711: other users may traverse to the sockets inside), or a
// temporary directory that cleanup removes.
func prepareWorkdir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o711); err != nil { // #nosec G301 -- traverse-only for sockets
			return "", nil, fmt.Errorf("--work-dir: %w", err)
		}
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "jetmesh-dp-")
	if err != nil {
		return "", nil, fmt.Errorf("create a work directory: %w", err)
	}
	if err := os.Chmod(tmp, 0o711); err != nil { // #nosec G302 -- traverse-only for sockets
		return "", nil, errors.Join(err, os.RemoveAll(tmp))
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

// hasLocalIPv6 reports a non-loopback IPv6 address, kuma-dp's condition for IPv6.
func hasLocalIPv6() bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() == nil {
			return true
		}
	}
	return false
}

// systemCAPath is the first OS CA bundle found, as kuma-dp looks for it.
func systemCAPath() string {
	for _, p := range []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/cacert.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
