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

	"golang.org/x/net/http2"
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

// Server serves gRPC (ADS) and HTTP (/bootstrap) on one TLS listener. Connections are split
// after the TLS handshake (split.go): gRPC connections go to grpc-go's own transport, the rest
// to net/http.
type Server struct {
	cfg  Config
	grpc *grpc.Server
	http http.Handler
	log  *slog.Logger

	mu      sync.Mutex
	addr    net.Addr
	cert    tls.Certificate
	ln      net.Listener
	httpSrv *http.Server
	h2      *http2.Server
	httpLn  *chanListener
	grpcLn  *chanListener
	cancel  context.CancelFunc
	// owned are the connections the splitter still owns: handshaking, sniffing, or served by
	// the HTTP/2 fallback; Stop closes them.
	owned map[net.Conn]struct{}
	wg    sync.WaitGroup // accept loop, per-connection routing, the two Serve loops
	errs  chan error     // the Serve loops' results
}

// handshakeTimeout bounds the TLS handshake and, on h2, the wait for the first request.
const handshakeTimeout = 10 * time.Second

// New returns a DP server; register gRPC services on GRPC() before Start.
func New(cfg Config, httpHandler http.Handler, log *slog.Logger) *Server {
	g := grpc.NewServer(grpcOptions()...)
	return &Server{cfg: cfg, grpc: g, http: httpHandler, log: log}
}

// grpcOptions are the gRPC server's settings (docs/performance.md has what each costs).
func grpcOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.Creds(tlsInfoCreds{}),
		// No read buffer: frames are read from the TLS connection, which buffers a record
		// already; gRPC's default 32 KiB bufio.Reader per connection was the largest per-proxy
		// item with a connection per proxy (as Envoy has). Writes keep gRPC's default 32 KiB
		// buffer, shared between connections (taken from a pool only while writing).
		grpc.ReadBufferSize(0),
		// net/http's HTTP/2 server allowed 250 streams per connection; keep that bound.
		grpc.MaxConcurrentStreams(250),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 15 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
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
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
	httpSrv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: handshakeTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	h2 := &http2.Server{}
	// Registers the HTTP/2 fallback connections for httpSrv.Shutdown's GOAWAY.
	if err := http2.ConfigureServer(httpSrv, h2); err != nil {
		_ = ln.Close()
		return fmt.Errorf("dp server: http2: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	httpLn, grpcLn := newChanListener(ln.Addr()), newChanListener(ln.Addr())
	s.mu.Lock()
	s.addr, s.cert, s.ln, s.httpSrv, s.h2 = ln.Addr(), cert, ln, httpSrv, h2
	s.httpLn, s.grpcLn, s.cancel = httpLn, grpcLn, cancel
	s.owned, s.errs = map[net.Conn]struct{}{}, make(chan error, 2)
	s.mu.Unlock()

	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		err := s.grpc.Serve(grpcLn)
		if errors.Is(err, grpc.ErrServerStopped) {
			err = nil
		}
		s.errs <- err
	}()
	go func() {
		defer s.wg.Done()
		err := httpSrv.Serve(httpLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.errs <- err
	}()
	go func() {
		defer s.wg.Done()
		s.accept(runCtx, ln, tlsCfg)
	}()
	s.log.Info("DP server listening", "address", ln.Addr().String(), "caCert", s.CACertFile())
	return nil
}

// accept hands every connection to route until the listener is closed.
func (s *Server) accept(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("DP server accept failed", "err", err, "retryIn", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !s.own(c) {
			_ = c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.route(ctx, c, tlsCfg)
		}()
	}
}

// route completes the TLS handshake and passes the connection to the server for its protocol.
func (s *Server) route(ctx context.Context, raw net.Conn, tlsCfg *tls.Config) {
	tc := tls.Server(raw, tlsCfg)
	_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Debug("DP server TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		s.disown(raw)
		_ = raw.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
		_ = tc.SetDeadline(time.Time{})
		s.disown(raw)
		s.httpLn.deliver(ctx, tc)
		return
	}
	read, isGRPC, err := sniffH2(tc)
	if err != nil {
		s.log.Debug("DP server got no HTTP/2 request", "remote", raw.RemoteAddr().String(), "err", err)
		s.disown(raw)
		_ = raw.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	rc := &replayConn{Conn: tc, pending: read}
	if isGRPC {
		s.disown(raw)
		s.grpcLn.deliver(ctx, rc)
		return
	}
	s.h2.ServeConn(newACKFilter(rc), &http2.ServeConnOpts{Context: ctx, BaseConfig: s.httpSrv, Handler: s})
	s.disown(raw)
	_ = raw.Close()
}

// own records a connection the splitter is responsible for; false once stopping.
func (s *Server) own(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owned == nil {
		return false
	}
	s.owned[c] = struct{}{}
	return true
}

func (s *Server) disown(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.owned, c)
}

// ServeHTTP serves plain HTTP, and gRPC that arrives on an HTTP/2 connection whose first
// request was not gRPC (HTTP/2 with content-type application/grpc), as before the split.
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
	ln, httpSrv, cancel := s.ln, s.httpSrv, s.cancel
	s.ln = nil
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	cancel()
	_ = ln.Close()
	// ADS streams never end by themselves: stop them first so Shutdown does not wait on them.
	s.grpc.Stop()
	shutErr := httpSrv.Shutdown(ctx)
	if shutErr != nil {
		_ = httpSrv.Close()
	}
	s.mu.Lock()
	owned := s.owned
	s.owned = nil
	s.mu.Unlock()
	for c := range owned {
		_ = c.Close()
	}
	s.wg.Wait()
	close(s.errs)
	errs := []error{}
	if shutErr != nil {
		errs = append(errs, fmt.Errorf("dp server: shutdown: %w", shutErr))
	}
	for err := range s.errs {
		if err != nil {
			errs = append(errs, fmt.Errorf("dp server: %w", err))
		}
	}
	return errors.Join(errs...)
}
