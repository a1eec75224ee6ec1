package dnsproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// upstream is a real DNS server on loopback that stands for the host's resolver: it knows
// example.com. and answers NXDOMAIN for anything else, recording every query it gets.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []seenQuery
}

type seenQuery struct {
	id      uint16
	name    string
	network string
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		u.mu.Lock()
		u.seen = append(u.seen, seenQuery{req.Id, req.Question[0].Name, w.RemoteAddr().Network()})
		u.mu.Unlock()
		resp := new(dns.Msg)
		resp.SetReply(req)
		if dns.CanonicalName(req.Question[0].Name) == "example.com." && req.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A 192.0.2.7")
			resp.Answer = append(resp.Answer, rr)
		} else {
			resp.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(resp)
	})
	pc, ln, err := listenPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	}
	return u
}

func (u *upstream) queries() []seenQuery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenQuery(nil), u.seen...)
}

// deadUpstream is a loopback port nobody serves (bound a moment ago, then released).
func deadUpstream(t *testing.T) string {
	t.Helper()
	pc, ln, err := listenPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = pc.Close()
	_ = ln.Close()
	return addr
}

func startProxy(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Addresses == nil {
		cfg.Addresses = []string{"127.0.0.1:0"}
	}
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func load(t *testing.T, s *Server, doc string) {
	t.Helper()
	if err := s.ReloadMap(context.Background(), strings.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
}

var nextID uint16 = 1000

// query asks s over network (udp or tcp) with a fresh id and checks the answer carries it.
func query(t *testing.T, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	nextID++
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = nextID
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, s.Addrs()[0])
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	if resp.Id != m.Id {
		t.Fatalf("answer id %d, query id %d", resp.Id, m.Id)
	}
	return resp
}

func addrs(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.A:
			out = append(out, fmt.Sprintf("%s %d A %s", r.Hdr.Name, r.Hdr.Ttl, r.A))
		case *dns.AAAA:
			ip, _ := netip.AddrFromSlice(r.AAAA)
			out = append(out, fmt.Sprintf("%s %d AAAA %s", r.Hdr.Name, r.Hdr.Ttl, ip))
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

const meshTable = `{"records":[
 {"name":"backend.mesh","ips":["240.0.0.1","::ffff:f000:1"]},
 {"name":"backend_kuma-demo_svc_8080.mesh","ips":["240.0.0.1","::ffff:240.0.0.1"]},
 {"name":"backend-kuma-demo-svc-8080.mesh","ips":["240.0.0.1","::ffff:240.0.0.1"]},
 {"name":"redis.svc.cluster.local","ips":["240.0.0.9"]},
 {"name":"v6only.mesh","ips":["fd00::5"]},
 {"name":"broken.mesh","ips":["not-an-ip","240.0.0.3"]}
],"ttl":30,"extraLabels":{"kuma_io_mesh":"default"}}`

func TestAnswersFromTheTable(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{up.addr}})
	load(t, s, meshTable)
	select {
	case <-s.Ready():
	default:
		t.Fatal("not ready after the first table")
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range []struct {
			name  string
			qtype uint16
			want  []string
		}{
			{"backend.mesh.", dns.TypeA, []string{"backend.mesh. 30 A 240.0.0.1"}},
			{"backend.mesh.", dns.TypeAAAA, []string{"backend.mesh. 30 AAAA ::ffff:240.0.0.1"}},
			{"backend-kuma-demo-svc-8080.mesh.", dns.TypeA, []string{"backend-kuma-demo-svc-8080.mesh. 30 A 240.0.0.1"}},
			{"backend-kuma-demo-svc-8080.mesh.", dns.TypeAAAA, []string{"backend-kuma-demo-svc-8080.mesh. 30 AAAA ::ffff:240.0.0.1"}},
			// Case-insensitive, and the answer echoes the client's spelling.
			{"BackEnd.MESH.", dns.TypeA, []string{"BackEnd.MESH. 30 A 240.0.0.1"}},
			{"Redis.svc.cluster.local.", dns.TypeA, []string{"Redis.svc.cluster.local. 30 A 240.0.0.9"}},
			{"broken.mesh.", dns.TypeA, []string{"broken.mesh. 30 A 240.0.0.3"}},
			// Names that exist but have no address of the type asked: NODATA, not NXDOMAIN.
			{"v6only.mesh.", dns.TypeA, nil},
			{"v6only.mesh.", dns.TypeAAAA, []string{"v6only.mesh. 30 AAAA fd00::5"}},
			{"backend.mesh.", dns.TypeTXT, nil},
		} {
			t.Run(network+"/"+tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
				resp := query(t, s, network, tc.name, tc.qtype)
				if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative {
					t.Fatalf("rcode %s authoritative %v, want NOERROR authoritative", dns.RcodeToString[resp.Rcode], resp.Authoritative)
				}
				if got := addrs(resp.Answer); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("answers %q, want %q", got, tc.want)
				}
			})
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Fatalf("names from the table went upstream: %+v", q)
	}
}

func TestUnknownMeshNamesAreNXDOMAIN(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{up.addr}})
	// Before the first table the proxy cannot tell: a temporary failure, not an NXDOMAIN
	// that resolvers would remember.
	if resp := query(t, s, "udp", "backend.mesh.", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the first table: %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	load(t, s, meshTable)
	for _, network := range []string{"udp", "tcp"} {
		for _, name := range []string{"nope.mesh.", "NOPE.Mesh.", "a.b.backend.mesh."} {
			resp := query(t, s, network, name, dns.TypeA)
			if resp.Rcode != dns.RcodeNameError || !resp.Authoritative || len(resp.Answer) != 0 {
				t.Fatalf("%s %s: rcode %s authoritative %v answers %d, want authoritative NXDOMAIN",
					network, name, dns.RcodeToString[resp.Rcode], resp.Authoritative, len(resp.Answer))
			}
		}
	}
	if resp := query(t, s, "udp", "mesh.", dns.TypeA); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Fatalf("the mesh domain itself: %s with %d answers, want NODATA", dns.RcodeToString[resp.Rcode], len(resp.Answer))
	}
	if q := up.queries(); len(q) != 0 {
		t.Fatalf("mesh names went upstream: %+v", q)
	}
}

func TestKumaCompatibleForwardingOfMeshNames(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{up.addr}, MeshDomain: "-"})
	load(t, s, meshTable)
	resp := query(t, s, "udp", "nope.mesh.", dns.TypeA)
	if resp.Authoritative || resp.Rcode != dns.RcodeNameError {
		t.Fatalf("got authoritative %v rcode %s, want the upstream's NXDOMAIN", resp.Authoritative, dns.RcodeToString[resp.Rcode])
	}
	if q := up.queries(); len(q) != 1 || q[0].name != "nope.mesh." {
		t.Fatalf("upstream saw %+v, want the one query", q)
	}
}

func TestForwardsOtherNamesUpstream(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{up.addr}})
	load(t, s, meshTable)
	var ids []uint16
	for _, network := range []string{"udp", "tcp"} {
		resp := query(t, s, network, "example.com.", dns.TypeA)
		ids = append(ids, resp.Id)
		if resp.Rcode != dns.RcodeSuccess || resp.Authoritative {
			t.Fatalf("%s: rcode %s authoritative %v, want the upstream's answer", network, dns.RcodeToString[resp.Rcode], resp.Authoritative)
		}
		if got := addrs(resp.Answer); fmt.Sprint(got) != "[example.com. 60 A 192.0.2.7]" {
			t.Fatalf("%s: answers %q", network, got)
		}
		if resp := query(t, s, network, "missing.example.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
			t.Fatalf("%s: upstream NXDOMAIN came back as %s", network, dns.RcodeToString[resp.Rcode])
		}
	}
	q := up.queries()
	if len(q) != 4 {
		t.Fatalf("upstream saw %+v, want 4 queries", q)
	}
	// The query goes upstream with the client's id and over the client's transport.
	if q[0].id != ids[0] || q[0].network != "udp" || q[2].id != ids[1] || q[2].network != "tcp" {
		t.Fatalf("upstream saw %+v; client ids %v", q, ids)
	}
}

func TestServfailWhenUpstreamIsDown(t *testing.T) {
	s := startProxy(t, Config{Upstreams: []string{deadUpstream(t)}, UpstreamTimeout: 500 * time.Millisecond})
	load(t, s, meshTable)
	for _, network := range []string{"udp", "tcp"} {
		resp := query(t, s, network, "example.com.", dns.TypeA)
		if resp.Rcode != dns.RcodeServerFailure {
			t.Fatalf("%s: %s, want SERVFAIL", network, dns.RcodeToString[resp.Rcode])
		}
		// The table still answers.
		if resp := query(t, s, network, "backend.mesh.", dns.TypeA); len(resp.Answer) != 1 {
			t.Fatalf("%s: backend.mesh: %v", network, resp)
		}
	}
}

func TestNextUpstreamWhenTheFirstIsDown(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{deadUpstream(t), up.addr}, UpstreamTimeout: 500 * time.Millisecond})
	if resp := query(t, s, "tcp", "example.com.", dns.TypeA); len(resp.Answer) != 1 {
		t.Fatalf("got %v, want the second upstream's answer", resp)
	}
}

func TestReloadReplacesTheTable(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{up.addr}})
	load(t, s, `{"records":[{"name":"old.mesh","ips":["240.0.0.1"]}],"ttl":30}`)
	if resp := query(t, s, "udp", "old.mesh.", dns.TypeA); len(resp.Answer) != 1 {
		t.Fatalf("old.mesh before the reload: %v", resp)
	}
	load(t, s, `{"records":[{"name":"new.mesh","ips":["240.0.0.2"]},{"name":"new.mesh","ips":["240.0.0.3"]}],"ttl":5}`)
	if resp := query(t, s, "udp", "old.mesh.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("old.mesh after the reload: %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	resp := query(t, s, "udp", "new.mesh.", dns.TypeA)
	if got := addrs(resp.Answer); fmt.Sprint(got) != "[new.mesh. 5 A 240.0.0.2 new.mesh. 5 A 240.0.0.3]" {
		t.Fatalf("new.mesh: %q", got)
	}
	// A document that does not decode keeps the table.
	if err := s.ReloadMap(context.Background(), strings.NewReader(`{"records":[`)); err == nil {
		t.Fatal("a truncated document was accepted")
	}
	if resp := query(t, s, "udp", "new.mesh.", dns.TypeA); len(resp.Answer) != 2 {
		t.Fatalf("new.mesh after a bad document: %v", resp)
	}
}

func TestLargeAnswersTruncateOverUDP(t *testing.T) {
	up := startUpstream(t)
	s := startProxy(t, Config{Upstreams: []string{up.addr}})
	var ips []string
	for i := range 100 {
		ips = append(ips, fmt.Sprintf(`"240.0.%d.%d"`, i/250, i%250+1))
	}
	load(t, s, `{"records":[{"name":"big.mesh","ips":[`+strings.Join(ips, ",")+`]}],"ttl":30}`)
	udp := query(t, s, "udp", "big.mesh.", dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Fatalf("over UDP: truncated %v with %d answers, want TC with fewer than 100", udp.Truncated, len(udp.Answer))
	}
	if tcp := query(t, s, "tcp", "big.mesh.", dns.TypeA); tcp.Truncated || len(tcp.Answer) != 100 {
		t.Fatalf("over TCP: truncated %v with %d answers, want all 100", tcp.Truncated, len(tcp.Answer))
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/resolv.conf"
	if err := os.WriteFile(path, []byte("search example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addresses: []string{"127.0.0.1:0"}, ResolvConf: path}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.upstreams); got != "[192.0.2.53:53 [2001:db8::53]:53]" {
		t.Fatalf("upstreams %s", got)
	}
	if err := os.WriteFile(path, []byte("search example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Addresses: []string{"127.0.0.1:0"}, ResolvConf: path}, testLogger(t)); err == nil {
		t.Fatal("a resolv.conf without nameservers was accepted")
	}
}

func TestRefusesItselfAsUpstream(t *testing.T) {
	if _, err := New(Config{Addresses: []string{"127.0.0.1:15053"}, Upstreams: []string{"127.0.0.1:15053"}}, testLogger(t)); err == nil {
		t.Fatal("accepted itself as its upstream")
	}
}

func TestStartFailsOnABusyPort(t *testing.T) {
	first := startProxy(t, Config{Upstreams: []string{"127.0.0.1:53"}})
	s, err := New(Config{Addresses: first.Addrs(), Upstreams: []string{"127.0.0.1:53"}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("started on a port in use")
	}
}

func TestStopsWithItsContext(t *testing.T) {
	s, err := New(Config{Addresses: []string{"127.0.0.1:0"}, Upstreams: []string{"127.0.0.1:53"}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0]
	cancel()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop with its context")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Fatal("still accepting TCP after stopping")
	}
}

func TestListenAddresses(t *testing.T) {
	for _, tc := range []struct {
		dual, vnet bool
		want       string
	}{
		{false, false, "[127.0.0.1:15053]"},
		{true, false, "[127.0.0.1:15053 [::1]:15053]"},
		{false, true, "[0.0.0.0:15053]"},
		{true, true, "[0.0.0.0:15053 [::]:15053]"},
	} {
		if got := fmt.Sprint(ListenAddresses(15053, tc.dual, tc.vnet)); got != tc.want {
			t.Errorf("dual %v vnet %v: %s, want %s", tc.dual, tc.vnet, got, tc.want)
		}
	}
}
