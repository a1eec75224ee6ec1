// Package api is the HTTP gateway: Kuma 2.x's REST API as kumactl and the GUI use it. It is the
// only place where domain errors become HTTP status codes.
package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/services/manager"
)

// Config of the API server.
type Config struct {
	// Address to listen on; loopback by default, so exposing the API is a deliberate choice.
	Address string `json:"address" yaml:"address"`
	// Port of the HTTP API (Kuma: KUMA_API_SERVER_HTTP_PORT).
	Port int `json:"port" yaml:"port"`
	// ReadOnly refuses every write (Kuma: KUMA_API_SERVER_READ_ONLY).
	ReadOnly bool `json:"readOnly" yaml:"readOnly"`
	// HTTPS serves the same API over TLS (Kuma: apiServer.https, port 5682).
	HTTPS HTTPSConfig `json:"https" yaml:"https"`
	// LocalhostIsAdmin makes direct requests from this machine act as the admin without a
	// token (Kuma: KUMA_API_SERVER_AUTHN_LOCALHOST_IS_ADMIN).
	LocalhostIsAdmin bool `json:"localhostIsAdmin" yaml:"localhostIsAdmin"`
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64 `json:"maxBodyBytes" yaml:"maxBodyBytes"`
	// WriteTimeout bounds one write request including waiting for the read model.
	WriteTimeout time.Duration `json:"writeTimeout" yaml:"writeTimeout"`
}

// HTTPSConfig is the API's TLS listener; its certificate comes from SetTLS.
type HTTPSConfig struct {
	Enabled bool   `json:"enabled" yaml:"enabled"`
	Address string `json:"address" yaml:"address"`
	Port    int    `json:"port" yaml:"port"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Address: "127.0.0.1", Port: 5681, MaxBodyBytes: 4 << 20, WriteTimeout: 30 * time.Second,
		LocalhostIsAdmin: true, HTTPS: HTTPSConfig{Enabled: true, Address: "127.0.0.1", Port: 5682}}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("api: port %d out of range", c.Port)
	}
	if c.HTTPS.Enabled && (c.HTTPS.Port < 0 || c.HTTPS.Port > 65535) {
		return fmt.Errorf("api: https port %d out of range", c.HTTPS.Port)
	}
	if net.ParseIP(c.Address) == nil && c.Address != "" && c.Address != "localhost" {
		return fmt.Errorf("api: address %q is not an IP address", c.Address)
	}
	if c.MaxBodyBytes <= 0 || c.WriteTimeout <= 0 {
		return fmt.Errorf("api: maxBodyBytes and writeTimeout must be positive")
	}
	return nil
}

// Info is what GET / reports.
type Info struct {
	Product    string
	Version    string
	InstanceID string
	ClusterID  string
	Mode       string // "zone" (standalone), "global"
	// JetmeshVersion is jetmesh's own version, next to the Kuma API version it implements.
	JetmeshVersion string
}

// Server serves the REST API.
type Server struct {
	cfg  Config
	info Info
	mgr  *manager.Manager
	log  *slog.Logger
	// audit serves history and feed pages when set (SetAuditIndex); nil reads the log.
	audit AuditIndex
	// lists serves resource lists when set (SetResourceIndex); nil lists the in-memory model.
	lists ResourceIndex
	// checkpoints shorten ?at= replays when set (SetCheckpoints).
	checkpoints Checkpoints

	// streams ends live event streams when the server shuts down (Shutdown does not cancel
	// request contexts, and a stream never finishes on its own).
	streams     context.Context
	stopStreams context.CancelFunc

	// userTokens verifies user tokens when set (SetUserTokens).
	userTokens UserTokens

	// extra are endpoints other services add (e.g. /tokens/zone on a global CP), by path.
	extra map[string]http.Handler

	// tlsCert is the HTTPS listener's certificate (SetTLS).
	tlsCert func() (tls.Certificate, error)

	mu      sync.Mutex
	srv     *http.Server
	addr    net.Addr
	done    chan error
	tlsSrv  *http.Server
	tlsAddr net.Addr
	tlsDone chan error
}

// SetTLS gives the HTTPS listener its certificate; call it before Start.
func (s *Server) SetTLS(cert func() (tls.Certificate, error)) { s.tlsCert = cert }

// New returns an API server.
func New(cfg Config, info Info, mgr *manager.Manager, log *slog.Logger) *Server {
	streams, stop := context.WithCancel(context.Background())
	return &Server{cfg: cfg, info: info, mgr: mgr, log: log, streams: streams, stopStreams: stop}
}

// Handle serves path with h. Call it before Start; the path must not be one of Kuma's
// resource routes.
func (s *Server) Handle(path string, h http.Handler) {
	if s.extra == nil {
		s.extra = map[string]http.Handler{}
	}
	s.extra[path] = h
}

// Start listens (so a taken port fails here) and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	// HTTPS first: the plain API answering is the sign that the control plane is up.
	if s.cfg.HTTPS.Enabled {
		if err := s.startTLS(ctx); err != nil {
			return err
		}
	}
	srv, addr, done, err := s.serve(ctx, net.JoinHostPort(s.cfg.Address, strconv.Itoa(s.cfg.Port)), nil)
	if err != nil {
		s.mu.Lock()
		if s.tlsSrv != nil {
			_ = s.tlsSrv.Close()
		}
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	s.srv, s.addr, s.done = srv, addr, done
	s.mu.Unlock()
	return nil
}

func (s *Server) startTLS(ctx context.Context) error {
	if s.tlsCert == nil {
		return errors.New("api: https is enabled but no certificate was given")
	}
	cert, err := s.tlsCert()
	if err != nil {
		return fmt.Errorf("api: https certificate: %w", err)
	}
	srv, addr, done, err := s.serve(ctx, net.JoinHostPort(s.cfg.HTTPS.Address, strconv.Itoa(s.cfg.HTTPS.Port)),
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.tlsSrv, s.tlsAddr, s.tlsDone = srv, addr, done
	s.mu.Unlock()
	return nil
}

// serve listens on addr (so a taken port fails here) and serves the API there in the
// background, over TLS when tlsCfg is set; done receives Serve's result.
func (s *Server) serve(ctx context.Context, addr string, tlsCfg *tls.Config) (*http.Server, net.Addr, chan error, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("api: listen %s: %w", addr, unwrapSyscall(err))
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         tlsCfg,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(s.stopStreams)
	done := make(chan error, 1)
	go func() {
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	msg := "API server listening"
	if tlsCfg != nil {
		msg = "API server listening with TLS" // a separate message: tools read the plain address from the first
	}
	s.log.Info(msg, "address", ln.Addr().String())
	return srv, ln.Addr(), done, nil
}

// TLSAddr is the bound HTTPS address, nil without HTTPS.
func (s *Server) TLSAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsAddr
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting connections and waits for in-flight requests until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done, tlsSrv, tlsDone := s.srv, s.done, s.tlsSrv, s.tlsDone
	s.mu.Unlock()
	s.stopStreams()
	if tlsSrv != nil {
		if err := tlsSrv.Shutdown(ctx); err != nil {
			_ = tlsSrv.Close()
		}
		if err := <-tlsDone; err != nil {
			s.log.Warn("API https server", "err", err)
		}
	}
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return <-done
}

// unwrapSyscall keeps "address already in use" readable in one line.
func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// writeJSON renders v as Kuma does: pretty-printed with a one-space indent.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"type":"/std-errors","status":500,"title":"Internal Server Error","detail":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }
