// Package cptest starts real in-process control planes for tests: an embedded JetStream server
// on a random loopback port, the event store, the projections and the API on a random port.
package cptest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/services/api"
	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/dpserver"
)

// CP is a running control plane.
type CP struct {
	// URL of the REST API, e.g. http://127.0.0.1:41234.
	URL string
	// HTTPSURL is the same API over TLS (CP certificate: CACertFile).
	HTTPSURL string
	// DPAddress is the DP server's host:port (gRPC ADS and /bootstrap over TLS).
	DPAddress string
	// CACertFile is the certificate dataplanes verify the DP server with.
	CACertFile string
	Config     controlplane.Config
	// Store is the CP's event log, for tests that compare a projection with it.
	Store events.Store
	app   *fx.App
	logs  *logBuffer
}

// Logs is everything the control plane logged so far at info level and above (the test's
// stderr shows only warnings unless JETMESH_TEST_LOG is set), for tests that check what must
// never be logged.
func (c *CP) Logs() string { return c.logs.String() }

// logBuffer collects log lines from the control plane's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Option changes the configuration before start.
type Option func(*controlplane.Config)

// Start runs a control plane until the test ends. dataDir may be reused across Start calls to
// test restarts; empty means a fresh temporary directory.
func Start(t testing.TB, dataDir string, opts ...Option) *CP {
	t.Helper()
	cp, err := StartE(t, dataDir, opts...)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() { cp.Stop(t) })
	return cp
}

// StartE is Start returning the error, for tests of start-up failures.
func StartE(t testing.TB, dataDir string, opts ...Option) (*CP, error) {
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cfg := controlplane.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.NATS.Embedded.Port = -1
	cfg.APIServer.HTTP.Port = 0
	cfg.APIServer.HTTPS.Port = 0
	// Proxies in tests connect without tokens unless a test turns dataplane tokens on (the
	// token tests do); production's default is dpToken.
	cfg.DPServer.Authn.DPProxy.Type = controlplane.AuthnNone
	cfg.DPServer.Port = 0
	cfg.ShutdownTimeout = controlplane.Duration(10 * time.Second)
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if os.Getenv("JETMESH_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewMultiHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}),
		slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	var srv *api.Server
	var dps *dpserver.Server
	var store events.Store
	app := fx.New(
		controlplane.Module(cfg, log),
		fx.Populate(&srv, &dps, &store),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
	)
	if err := app.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		return nil, err
	}
	var httpsURL string
	if a := srv.TLSAddr(); a != nil {
		httpsURL = fmt.Sprintf("https://%s", a)
	}
	return &CP{URL: fmt.Sprintf("http://%s", srv.Addr()), HTTPSURL: httpsURL, DPAddress: dps.Addr().String(),
		CACertFile: dps.CACertFile(), Config: cfg, Store: store, app: app, logs: logs}, nil
}

// FreePort returns a loopback port that was free a moment ago, for settings that need a
// port number before the server starts (the global's zone-link listener).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Global configures a global control plane whose zone links listen on port.
func Global(port int) Option {
	return func(c *controlplane.Config) {
		c.Mode = "global"
		c.Multizone.Global.KDS.GRPCPort = port
		c.Multizone.Global.KDS.Interface = "127.0.0.1"
	}
}

// KDSCACertFile is where a global keeps its generated zone-link certificate (its own CA).
func (c *CP) KDSCACertFile() string {
	return filepath.Join(c.Config.DataDir, "certs", "kds", dpserver.CertFile)
}

// Zone configures a federated zone linked to the global at port, verifying the global's
// certificate with caFile and authenticating with token.
func Zone(name string, port int, caFile, token string) Option {
	return func(c *controlplane.Config) {
		c.Mode = "zone"
		c.Multizone.Zone.Name = name
		c.Multizone.Zone.GlobalAddress = fmt.Sprintf("grpcs://127.0.0.1:%d", port)
		c.Multizone.Zone.KDS.RootCAFile = caFile
		c.Multizone.Zone.Token = token
	}
}

// Stop shuts the control plane down gracefully; calling it twice is harmless.
func (c *CP) Stop(t testing.TB) {
	t.Helper()
	if c.app == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.app.Stop(ctx); err != nil {
		t.Errorf("stop control plane: %v", err)
	}
	c.app = nil
}

// BareDefaultMesh creates the default mesh without Kuma's initial policies (default retries,
// timeouts and circuit breakers), for tests that observe one policy's effect on its own.
func BareDefaultMesh() Option {
	return func(c *controlplane.Config) { c.Defaults.SkipInitialPolicies = []string{"*"} }
}
