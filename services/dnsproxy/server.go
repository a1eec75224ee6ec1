// Package dnsproxy is jetmesh-dp's embedded DNS proxy, the counterpart of kuma-dp 2.14's
// (KUMA_DNS_PROXY_PORT). The transparent proxy redirects the application's DNS traffic to
// it; it answers the mesh's names (backend.mesh, its RFC 1123 form, hostnames of
// MeshServices...) with their virtual IPs from the table the control plane serves through
// Envoy (see Path and ReloadMap) and forwards every other question to the host's resolver.
//
// Unlike kuma-dp it answers NXDOMAIN for unknown names under the mesh domain instead of
// forwarding them: the upstream resolver cannot know them, and forwarding leaks the names
// the application asks for and costs a round trip to find that out.
package dnsproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Config configures the proxy.
type Config struct {
	// Addresses are host:port pairs, each served over UDP and TCP on the same port. Port 0
	// picks a free port (see Server.Addrs).
	Addresses []string
	// Upstreams are the resolvers (host:port) for names not in the table, tried in order;
	// empty reads the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty (default /etc/resolv.conf).
	ResolvConf string
	// MeshDomain (default "mesh") is the zone the control plane's names live in: a name
	// below it that is not in the table gets NXDOMAIN. Set it to "-" to forward such names
	// upstream, as kuma-dp does.
	MeshDomain string
	// UpstreamTimeout bounds each upstream exchange (default 2s).
	UpstreamTimeout time.Duration
}

// DefaultConfig returns the defaults without addresses.
func DefaultConfig() Config {
	return Config{ResolvConf: "/etc/resolv.conf", MeshDomain: "mesh", UpstreamTimeout: 2 * time.Second}
}

// Server is the DNS proxy. ServeDNS answers from the table last given to ReloadMap.
type Server struct {
	cfg       Config
	domain    string // canonical mesh domain, "" when names under it are forwarded
	upstreams []string
	log       *slog.Logger

	table     atomic.Pointer[table]
	ready     chan struct{}
	readyOnce sync.Once

	mu     sync.Mutex
	addrs  []string
	ctx    context.Context // cancelled by Stop or the Start ctx; bounds upstream exchanges
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks cfg and finds the upstream resolvers; Start serves.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	def := DefaultConfig()
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = def.ResolvConf
	}
	if cfg.MeshDomain == "" {
		cfg.MeshDomain = def.MeshDomain
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = def.UpstreamTimeout
	}
	if len(cfg.Addresses) == 0 {
		return nil, errors.New("dns proxy: no listen address")
	}
	s := &Server{cfg: cfg, log: log, ready: make(chan struct{}), upstreams: cfg.Upstreams}
	if cfg.MeshDomain != "-" {
		s.domain = dns.CanonicalName(cfg.MeshDomain)
	}
	if len(s.upstreams) == 0 {
		rc, err := dns.ClientConfigFromFile(cfg.ResolvConf)
		if err != nil {
			return nil, fmt.Errorf("dns proxy: read the upstream resolvers: %w", err)
		}
		for _, ns := range rc.Servers {
			s.upstreams = append(s.upstreams, net.JoinHostPort(ns, rc.Port))
		}
		if len(s.upstreams) == 0 {
			return nil, fmt.Errorf("dns proxy: no nameserver in %s", cfg.ResolvConf)
		}
	}
	for _, up := range s.upstreams {
		if slices.Contains(cfg.Addresses, up) {
			return nil, fmt.Errorf("dns proxy: upstream %s is the proxy itself", up)
		}
	}
	s.table.Store(&table{names: map[string]*entry{}})
	return s, nil
}

// Start listens on every address (UDP and TCP) and serves until ctx is cancelled or Stop
// is called. It returns once all listeners accept queries, or the first listen error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return errors.New("dns proxy: already started")
	}
	var servers []*dns.Server
	var addrs []string
	for _, a := range s.cfg.Addresses {
		pc, ln, err := listenPair(a)
		if err != nil {
			for _, srv := range servers {
				closeServer(srv)
			}
			return fmt.Errorf("dns proxy: listen on %s: %w", a, err)
		}
		addrs = append(addrs, ln.Addr().String())
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: s},
			&dns.Server{Listener: ln, Handler: s})
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.addrs, s.done = addrs, make(chan struct{})

	var wg sync.WaitGroup
	up := make([]chan struct{}, len(servers))
	var serving atomic.Int32
	errs := make(chan error, len(servers))
	for i, srv := range servers {
		up[i] = make(chan struct{})
		// Serving, or gone without serving: either way Shutdown may be called after it.
		settled := sync.OnceFunc(func() { close(up[i]) })
		srv.NotifyStartedFunc = func() { serving.Add(1); settled() }
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer settled()
			if err := srv.ActivateAndServe(); err != nil && s.ctx.Err() == nil {
				errs <- err
				s.log.Error("DNS proxy listener failed", "err", err.Error())
			}
		}()
	}
	// Shutdown before a server has started is refused, so wait for all of them.
	for _, ch := range up {
		<-ch
	}
	go func() {
		defer close(s.done)
		<-s.ctx.Done()
		for _, srv := range servers {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.ShutdownContext(sctx)
			cancel()
		}
		wg.Wait()
	}()
	if int(serving.Load()) != len(servers) {
		s.cancel()
		<-s.done // every serving goroutine has returned, so errs holds all it will
		err := cmp.Or(ctx.Err(), errors.New("cancelled"))
		select {
		case err = <-errs:
		default:
		}
		return fmt.Errorf("dns proxy: a listener stopped before serving: %w", err)
	}
	s.log.Info("DNS proxy listening", "addresses", addrs, "upstreams", s.upstreams)
	return nil
}

// closeServer releases the sockets of a server that was never activated.
func closeServer(srv *dns.Server) {
	if srv.PacketConn != nil {
		_ = srv.PacketConn.Close()
	}
	if srv.Listener != nil {
		_ = srv.Listener.Close()
	}
}

// listenPair binds UDP and TCP on the same port. With port 0 the kernel picks the UDP
// port and TCP follows it; if that TCP port is taken it tries another.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}

// Addrs are the host:port pairs served (UDP and TCP alike), with ports resolved.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Stop shuts the listeners down and waits for in-flight queries, or until ctx is done.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	done, cancel := s.done, s.cancel
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dns proxy: stop: %w", ctx.Err())
	}
}

// Done is closed once a started server has stopped completely.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Ready is closed once the first table has been loaded.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ReloadMap replaces the table with the JSON document read from r (a Table), atomically:
// a query sees either the old table or the new one. A document that does not decode
// leaves the old table in place and returns the error.
func (s *Server) ReloadMap(ctx context.Context, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := parseTable(r, s.log)
	if err != nil {
		return err
	}
	s.table.Store(t)
	first := false
	s.readyOnce.Do(func() { close(s.ready); first = true })
	s.log.Info("DNS table loaded", "names", len(t.names), "ttl", t.ttl, "first", first)
	return nil
}

// ServeDNS answers one query: from the table, NXDOMAIN under the mesh domain, or by
// forwarding upstream over the transport the query came in on.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := s.resolve(w.RemoteAddr().Network(), req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("could not write a DNS answer", "err", err.Error())
	}
}

func (s *Server) resolve(network string, req *dns.Msg) *dns.Msg {
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		// Several questions (which practically no server supports), none, or another
		// opcode: not ours to judge; the upstream answers as it would without us.
		return s.forward(network, req)
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET {
		return s.forward(network, req)
	}
	name := dns.CanonicalName(q.Name)
	t := s.table.Load()
	if e, ok := t.names[name]; ok {
		resp := s.authoritative(req, dns.RcodeSuccess)
		resp.Answer = e.answers(q, t.ttl)
		s.log.Debug("DNS answer from the table", "name", q.Name, "type", dns.TypeToString[q.Qtype], "answers", len(resp.Answer))
		return resp
	}
	below, apex := underDomain(name, s.domain)
	switch {
	case apex:
		return s.authoritative(req, dns.RcodeSuccess)
	case below && !s.loaded():
		// Not known yet is not "does not exist": a SERVFAIL is not cached as an NXDOMAIN is.
		resp := new(dns.Msg)
		resp.SetRcode(req, dns.RcodeServerFailure)
		return resp
	case below:
		s.log.Debug("DNS name not in the mesh", "name", q.Name)
		// No SOA in the authority section on purpose: without one resolvers do not cache
		// the negative answer, so a service created a moment later resolves at once.
		return s.authoritative(req, dns.RcodeNameError)
	}
	return s.forward(network, req)
}

func (s *Server) loaded() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

func (s *Server) authoritative(req *dns.Msg, rcode int) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetRcode(req, rcode)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	return resp
}

// forward asks the upstreams in order and relays the first answer with the client's id;
// when none answers the client gets SERVFAIL.
func (s *Server) forward(network string, req *dns.Msg) *dns.Msg {
	if network != "tcp" {
		network = "udp"
	}
	c := &dns.Client{Net: network, Timeout: s.cfg.UpstreamTimeout}
	var errs []error
	for _, up := range s.upstreams {
		resp, _, err := c.ExchangeContext(s.ctx, req, up)
		if err == nil {
			resp.Id = req.Id
			return resp
		}
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
		if s.ctx.Err() != nil {
			break
		}
	}
	s.log.Warn("DNS upstream failed", "err", errors.Join(errs...).Error())
	resp := new(dns.Msg)
	resp.SetRcode(req, dns.RcodeServerFailure)
	resp.RecursionAvailable = true
	return resp
}

// ListenAddresses are where the proxy must listen for the transparent proxy's DNS redirect
// to reach it (kuma-dp's choice): iptables REDIRECT in the OUTPUT chain sends the
// application's queries to 127.0.0.1 and ::1, so loopback suffices; with virtual networks
// (vnet) PREROUTING redirects to the interface address, so every address is needed. IPv4
// and IPv6 get a socket each, since one "::" socket misses IPv4 where
// net.ipv6.bindv6only=1.
func ListenAddresses(port uint32, dualStack, vnet bool) []string {
	p := strconv.FormatUint(uint64(port), 10)
	v4, v6 := "127.0.0.1", "::1"
	if vnet {
		v4, v6 = "0.0.0.0", "::"
	}
	out := []string{net.JoinHostPort(v4, p)}
	if dualStack {
		out = append(out, net.JoinHostPort(v6, p))
	}
	return out
}
