// Package dpserver is the dataplane server on port 5678 (Kuma's DP server): gRPC ADS for the
// proxies and POST /bootstrap on the same TLS port, with the dataplane lifecycle behind them.
package dpserver

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Config of the DP server.
type Config struct {
	// Address to listen on. Loopback by default until dataplane tokens are checked.
	Address string `json:"address"`
	// Port of the DP server (KUMA_DP_SERVER_PORT).
	Port int `json:"port"`
	// CertDir holds the self-signed CP certificate (cp.crt, cp.key), created on first start.
	CertDir string `json:"certDir"`
	// Hosts are extra names and IPs the generated certificate is valid for.
	Hosts []string `json:"hosts"`
}

// DefaultConfig returns the defaults; CertDir must be set.
func DefaultConfig() Config {
	return Config{Address: "127.0.0.1", Port: 5678}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("dp server: port %d out of range", c.Port)
	}
	if c.CertDir == "" {
		return fmt.Errorf("dp server: certDir is required")
	}
	return nil
}

// Server serves gRPC (ADS) and HTTP (/bootstrap) on one TLS listener, dispatching on the
// request's protocol as Kuma's DP server does.
type Server struct {
	cfg  Config
	grpc *grpc.Server
	http http.Handler
	log  *slog.Logger

	mu   sync.Mutex
	srv  *http.Server
	addr net.Addr
	done chan error
	cert tls.Certificate
}

// New returns a DP server; register gRPC services on GRPC() before Start.
func New(cfg Config, httpHandler http.Handler, log *slog.Logger) *Server {
	g := grpc.NewServer(
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 15 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	return &Server{cfg: cfg, grpc: g, http: httpHandler, log: log}
}

// GRPC is the gRPC server to register services on.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// CACertFile is the path of the certificate dataplanes verify the CP with (--ca-cert-file).
func (s *Server) CACertFile() string { return s.cfg.CertDir + string(os.PathSeparator) + CertFile }

// CACertPEM is the certificate dataplanes verify the CP with, as PEM (nil before Start).
func (s *Server) CACertPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cert.Certificate) == 0 {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Certificate[0]})
}

// Start loads or creates the certificate and listens; a taken port fails here.
func (s *Server) Start(ctx context.Context) error {
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, s.cfg.Hosts...)
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	cert, err := LoadOrCreateCert(s.cfg.CertDir, hosts, time.Now())
	if err != nil {
		return fmt.Errorf("dp server: %w", err)
	}
	addr := net.JoinHostPort(s.cfg.Address, strconv.Itoa(s.cfg.Port))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return fmt.Errorf("dp server: listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	s.srv, s.addr, s.done, s.cert = srv, ln.Addr(), make(chan error, 1), cert
	s.mu.Unlock()
	go func() {
		err := srv.ServeTLS(ln, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.log.Info("DP server listening", "address", ln.Addr().String(), "caCert", s.CACertFile())
	return nil
}

// ServeHTTP dispatches gRPC (HTTP/2 with content-type application/grpc) and plain HTTP.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		s.grpc.ServeHTTP(w, r)
		return
	}
	s.http.ServeHTTP(w, r)
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes proxy streams (proxies reconnect to another CP or when this one is back) and
// stops the listener, waiting for HTTP requests until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// ADS streams never end by themselves: stop them first so Shutdown does not wait on them.
	s.grpc.Stop()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("dp server: shutdown: %w", err)
	}
	return <-done
}
