// Package natsd runs an embedded NATS server with JetStream (nats-server/v2, in-process) for
// control planes that do not point at an external NATS cluster.
package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readyPoll is how long one ReadyForConnections probe waits; Start probes repeatedly so that a
// fatal startup error (logged by nats-server, not returned) ends the wait at once.
const readyPoll = 50 * time.Millisecond

// Server is one embedded NATS server. It is started once and stopped once.
type Server struct {
	cfg    Config
	logger *slog.Logger
	log    *logAdapter
	srv    *server.Server
	auth   *authenticator // nil unless the server is a leafnode hub

	mu      sync.Mutex
	started bool
	unlock  func() error // releases the store dir lock; nil when not held
}

// New checks the configuration and prepares a server; nothing listens until Start.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               cfg.Host,
		Port:               cfg.Port,
		NoSigs:             true, // the embedding process owns signals
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		SyncAlways:         cfg.SyncAlways,
		JetStreamDomain:    cfg.Domain,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
	}
	var auth *authenticator
	if cfg.Leaf != nil {
		if cfg.Leaf.Port == RandomPort {
			leaf := *cfg.Leaf
			port, err := freePort(leaf.Host)
			if err != nil {
				return nil, fmt.Errorf("embedded NATS: %w", err)
			}
			leaf.Port = port
			cfg.Leaf = &leaf
		}
		auth = &authenticator{password: randomSecret(), leaf: cfg.Leaf, links: map[uint64]leafLink{}}
		opts.CustomClientAuthentication = auth
	}
	cfg.leafOptions(opts)
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	la := &logAdapter{logger: logger}
	srv.SetLoggerV2(la, logger.Enabled(context.Background(), slog.LevelDebug), cfg.Trace, false)
	return &Server{cfg: cfg, logger: logger, log: la, srv: srv, auth: auth}, nil
}

// Start listens and waits until the server accepts connections and JetStream is up, at most
// Config.StartTimeout or until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("embedded NATS: already started")
	}
	s.started = true
	// nats-server reports a listen failure only in its log, after which ReadyForConnections
	// would wait the whole timeout; probing the address first gives a clear, immediate error.
	// (Someone may still take the port between the probe and the real listen: the fatal-log
	// capture below covers that window.)
	if s.cfg.Port != RandomPort {
		if err := probeListen(s.cfg.addr()); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.cfg.StoreDir, 0o750); err != nil {
		return fmt.Errorf("embedded NATS: store dir: %w", err)
	}
	unlock, err := lockStoreDir(s.cfg.StoreDir)
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	s.unlock = unlock
	s.srv.Start()

	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	for !s.srv.ReadyForConnections(readyPoll) || !s.srv.JetStreamEnabled() {
		err := s.log.fatal()
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("not ready: %w", ctx.Err())
		}
		if err != nil {
			s.srv.Shutdown()
			s.srv.WaitForShutdown()
			s.releaseLock()
			return fmt.Errorf("embedded NATS: %w", err)
		}
	}
	s.logger.Info("embedded NATS started", "url", s.ClientURL(), "storeDir", s.cfg.StoreDir,
		"domain", s.cfg.Domain, "syncAlways", s.cfg.SyncAlways)
	return nil
}

// probeListen binds and releases addr, turning "address in use" into a one-line error.
func probeListen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		var sysErr *os.SyscallError
		if errors.As(err, &sysErr) {
			return fmt.Errorf("embedded NATS: listen %s: %w", addr, sysErr.Err)
		}
		return fmt.Errorf("embedded NATS: %w", err)
	}
	return l.Close()
}

// Stop shuts the server down and waits until it is gone or ctx ends. On ctx end the shutdown
// keeps running in the background and Stop returns ctx's error.
func (s *Server) Stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.releaseLock()
	}()
	select {
	case <-done:
		s.logger.Info("embedded NATS stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("embedded NATS: stop: %w", ctx.Err())
	}
}

// releaseLock drops the store dir lock; s.mu must be held.
func (s *Server) releaseLock() {
	if s.unlock == nil {
		return
	}
	if err := s.unlock(); err != nil {
		s.logger.Warn("embedded NATS: release store dir lock", "error", err)
	}
	s.unlock = nil
}

// ClientURL is the nats:// URL clients in other processes connect to (the real port when the
// configured one is random).
func (s *Server) ClientURL() string {
	if addr, ok := s.srv.Addr().(*net.TCPAddr); ok && addr != nil {
		return "nats://" + net.JoinHostPort(s.cfg.Host, fmt.Sprint(addr.Port))
	}
	return s.srv.ClientURL()
}

// Connect opens an in-process client connection (no TCP) to the server. Extra options are
// applied after jetmesh's defaults. The caller closes the connection.
func (s *Server) Connect(ctx context.Context, opts ...nats.Option) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded NATS: connect: %w", err)
	}
	name := "jetmesh"
	if s.cfg.ServerName != "" {
		name = "jetmesh@" + s.cfg.ServerName
	}
	all := []nats.Option{nats.InProcessServer(s.srv), nats.Name(name)}
	if s.auth != nil {
		all = append(all, nats.UserInfo(internalUser, s.auth.password))
	}
	all = append(all, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: connect: %w", err)
	}
	return nc, nil
}

// NATS returns the underlying nats-server, for wiring that needs more than this package offers
// (leafnode status, monitoring).
func (s *Server) NATS() *server.Server { return s.srv }
