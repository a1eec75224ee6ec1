// Package proxy simulates dataplanes: kuma-dp + Envoy as the control plane sees them on the
// DP server's ADS port. Each simulated proxy opens one ADS stream (SotW or Delta) with Kuma's
// node id "<mesh>.<name>" and node metadata, asks for CDS and LDS, then for EDS of the
// clusters CDS named, and ACKs or NACKs every response with its version and nonce. It keeps
// what it received so scenarios can tell when a change has reached it.
package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Config of a fleet of simulated proxies.
type Config struct {
	// Address of the xDS server (the DP server, host:port).
	Address string
	// CAFile is the PEM certificate the server is verified with (kuma-dp's --ca-cert-file).
	CAFile string
	// InsecureSkipVerify skips server certificate verification.
	InsecureSkipVerify bool
	// Delta selects incremental xDS (DeltaAggregatedResources) instead of SotW.
	Delta bool
	// Token, when set, is sent as the "authorization" gRPC metadata on every stream, as Envoy
	// does with kuma-dp's dataplane token (Kuma has no token key in node metadata).
	Token string
	// PerConn is how many proxies share one gRPC connection; 1 is what real Envoys do. The
	// server's HTTP/2 stream limit (250 for Go servers) caps it.
	PerConn int
	// KumaDPVersion and EnvoyVersion are reported in the "version" node metadata.
	KumaDPVersion, EnvoyVersion string
	// Features are reported in the "features" node metadata.
	Features []string
	// Validate runs protoc-gen-validate rules on received resources and NACKs failures, as
	// Envoy rejects invalid config. It costs client CPU.
	ValidateResources bool
}

// DefaultFeatures are the features kuma-dp 2.14 announces.
var DefaultFeatures = []string{
	"feature-tcp-accesslog-via-named-pipe", "feature-transparent-proxy-in-dataplane-metadata",
	"feature-bind-outbounds", "feature-strict-inbound-ports", "feature-readiness-unix-socket",
	"feature-otel-via-kuma-dp", "feature-reuse-port", "feature-embedded-dns",
}

// DefaultConfig returns kuma-dp 2.14.3 with Envoy 1.34 over SotW, one connection per 50 proxies.
func DefaultConfig() Config {
	return Config{PerConn: 50, KumaDPVersion: "2.14.3", EnvoyVersion: "1.34.1", Features: DefaultFeatures}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Address == "" {
		return fmt.Errorf("proxy: xDS address is required")
	}
	if c.CAFile == "" && !c.InsecureSkipVerify {
		return fmt.Errorf("proxy: a CA file or insecure-skip-verify is required (the DP server speaks TLS)")
	}
	if c.PerConn < 1 {
		return fmt.Errorf("proxy: per-connection proxies must be at least 1, got %d", c.PerConn)
	}
	return nil
}

// Observer learns, on the proxy's own goroutine, that a proxy received a response of a type
// (at is when it arrived). It must be quick and safe for concurrent use.
type Observer func(p *Proxy, typeURL string, at time.Time)

// Fleet owns the gRPC connections and the proxies' stream goroutines.
type Fleet struct {
	cfg   Config
	creds credentials.TransportCredentials
	obs   Observer
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	conns   []*sharedConn
	proxies map[*Proxy]bool
}

type sharedConn struct {
	cc    *grpc.ClientConn
	users int
}

// NewFleet returns a fleet; obs may be nil. Close it to stop every proxy.
func NewFleet(cfg Config, obs Observer, log *slog.Logger) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // a flag the user sets
	if cfg.CAFile != "" && !cfg.InsecureSkipVerify {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("proxy: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("proxy: no certificate in %s", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if obs == nil {
		obs = func(*Proxy, string, time.Time) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Fleet{cfg: cfg, creds: credentials.NewTLS(tc), obs: obs, log: log, ctx: ctx, cancel: cancel,
		proxies: map[*Proxy]bool{}}, nil
}

// conn returns a connection with room for one more proxy.
func (f *Fleet) conn() (*sharedConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		if c.users < f.cfg.PerConn {
			c.users++
			return c, nil
		}
	}
	cc, err := grpc.NewClient(f.cfg.Address, grpc.WithTransportCredentials(f.creds))
	if err != nil {
		return nil, fmt.Errorf("proxy: dial %s: %w", f.cfg.Address, err)
	}
	c := &sharedConn{cc: cc, users: 1}
	f.conns = append(f.conns, c)
	return c, nil
}

func (f *Fleet) release(c *sharedConn) {
	f.mu.Lock()
	c.users--
	f.mu.Unlock()
}

// Connect starts a proxy: it opens its ADS stream in the background. The stream stays open
// until the proxy or the fleet is closed, or the server ends it (see Proxy.Err).
func (f *Fleet) Connect(id Identity) (*Proxy, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, fmt.Errorf("proxy: fleet closed")
	}
	c, err := f.conn()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(f.ctx)
	p := newProxy(id, f.cfg, cancel)
	f.mu.Lock()
	f.proxies[p] = true
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(p.done)
		defer f.release(c)
		err := p.run(ctx, c.cc, f.obs)
		p.finish(err)
		if err != nil && ctx.Err() == nil {
			f.log.Warn("proxy stream ended", "node", p.NodeID(), "err", err)
		}
		f.mu.Lock()
		delete(f.proxies, p)
		f.mu.Unlock()
	}()
	return p, nil
}

// Close stops every proxy, waits for their goroutines and closes the connections.
func (f *Fleet) Close() error {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	for _, c := range f.conns {
		if err := c.cc.Close(); err != nil && first == nil {
			first = fmt.Errorf("proxy: close connection: %w", err)
		}
	}
	f.conns = nil
	return first
}

// Conns is the number of gRPC connections open.
func (f *Fleet) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}
