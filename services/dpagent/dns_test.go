package dpagent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/jetmesh/jetmesh/services/dynconf"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// tproxyTemplate is the seed Dataplane with transparent proxying, IPv4 only so the proxy
// listens on one address.
const tproxyTemplate = seedTemplate + `  transparentProxying:
    redirectPortInbound: 15006
    redirectPortOutbound: 15001
    ipFamilyMode: IPv4
`

// startUpstreamDNS is a real resolver on loopback, UDP and TCP, that knows example.com.
func startUpstreamDNS(t *testing.T) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg)
		resp.SetReply(req)
		if req.Question[0].Name == "example.com." {
			rr, _ := dns.NewRR("example.com. 60 IN A 192.0.2.7")
			resp.Answer = append(resp.Answer, rr)
		} else {
			resp.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(resp)
	})
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ln == nil; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			_ = pc.Close()
			if attempt == 10 {
				t.Fatal(err)
			}
		}
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started, done := make(chan struct{}), make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { defer close(done); _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	}
	return pc.LocalAddr().String()
}

// serveDynamicConfig plays the control plane's _kuma:dynamicconfig listener in Envoy:
// GET /dns with the table and its ETag, 304 for If-None-Match.
func serveDynamicConfig(t *testing.T, workdir, table string) {
	t.Helper()
	ln, err := net.Listen("unix", dynconf.SocketPath(workdir))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(table))
	etag := hex.EncodeToString(sum[:])
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/dns":
			http.NotFound(w, r)
		case r.Header.Get("If-None-Match") == etag:
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Etag", etag)
			_, _ = io.WriteString(w, table)
		}
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
}

func dnsQuery(t *testing.T, port uint32, network, name string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatalf("%s %s: %v", network, name, err)
	}
	return resp
}

// A transparently proxied Dataplane: jetmesh-dp announces the embedded DNS, serves DNS on
// its port, holds /ready until the control plane's table arrives through the Envoy socket,
// then answers mesh names from it and forwards the rest; it stops serving with Envoy.
func TestAgentEmbeddedDNS(t *testing.T) {
	e := newAgentEnv(t)
	e.cfg.Resource = tproxyTemplate
	e.cfg.DNSUpstreams = startUpstreamDNS(t)
	e.cfg.DynamicConfigRefresh = 10 * time.Millisecond
	e.cfg.DNSReadyTimeout = time.Hour
	sigs, result := e.start(t)
	e.envoyUp(t)

	if f := e.cp.requests[0].Features; !slices.Contains(f, bootstrap.FeatureEmbeddedDNS) {
		t.Errorf("features %q lack %s", f, bootstrap.FeatureEmbeddedDNS)
	}
	if code, body := getReady(t, e.cfg.ReadinessPort); code != 503 || body != "NOT_READY" {
		t.Errorf("/ready before the DNS table: %d %q", code, body)
	}
	if resp := dnsQuery(t, e.cfg.DNSProxyPort, "udp", "backend.mesh."); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("backend.mesh before the table: %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}

	serveDynamicConfig(t, e.cfg.WorkDir, `{"records":[{"name":"backend.mesh","ips":["240.0.0.1","::ffff:f000:1"]},`+
		`{"name":"backend-kuma-demo-svc-8080.mesh","ips":["240.0.0.1"]}],"ttl":30,"extraLabels":{"kuma_io_mesh":"default"}}`)
	eventually(t, 20*time.Second, "backend.mesh to resolve", func() bool {
		return len(dnsQuery(t, e.cfg.DNSProxyPort, "udp", "backend.mesh.").Answer) == 1
	})
	if code, body := getReady(t, e.cfg.ReadinessPort); code != 200 || body != "READY" {
		t.Errorf("/ready after the DNS table: %d %q", code, body)
	}
	for _, network := range []string{"udp", "tcp"} {
		for name, want := range map[string]string{
			"backend-kuma-demo-svc-8080.mesh.": "NOERROR [backend-kuma-demo-svc-8080.mesh.\t30\tIN\tA\t240.0.0.1]",
			"unknown.mesh.":                    "NXDOMAIN []",
			"example.com.":                     "NOERROR [example.com.\t60\tIN\tA\t192.0.2.7]",
		} {
			resp := dnsQuery(t, e.cfg.DNSProxyPort, network, name)
			if got := fmt.Sprintf("%s %v", dns.RcodeToString[resp.Rcode], resp.Answer); got != want {
				t.Errorf("%s %s: %s, want %s", network, name, got, want)
			}
		}
	}

	sigs <- syscall.SIGTERM
	sigs <- syscall.SIGTERM
	if err := waitResult(t, result); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(e.cfg.DNSProxyPort))), time.Second); err == nil {
		_ = c.Close()
		t.Error("the DNS proxy still listens after the agent returned")
	}
}

// The DNS proxy's port being taken fails the start with a message naming the setting.
func TestAgentDNSPortBusy(t *testing.T) {
	e := newAgentEnv(t)
	e.cfg.Resource = tproxyTemplate
	e.cfg.DNSUpstreams = "127.0.0.1:53"
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	e.cfg.DNSProxyPort = uint32(busy.LocalAddr().(*net.UDPAddr).Port)
	_, result := e.start(t)
	err = waitResult(t, result)
	if err == nil || !strings.Contains(err.Error(), "KUMA_DNS_PROXY_PORT") {
		t.Fatalf("Run = %v, want the DNS proxy's listen error", err)
	}
	if hasEvent(readEvents(t, e.record), func(ev event) bool { return ev.Event == "start" }) {
		t.Error("Envoy was started although the DNS proxy could not listen")
	}
}

// The readiness gate opens with the first table, or gives up at its deadline.
func TestDNSReadinessGate(t *testing.T) {
	if g := dnsGate(nil, time.Hour); !g.passes() {
		t.Error("no DNS proxy, yet /ready is held")
	}
	open := make(chan struct{})
	g := dnsGate(open, time.Hour)
	if g.passes() {
		t.Error("passes before the table")
	}
	close(open)
	if !g.passes() {
		t.Error("held after the table")
	}
	late := dnsGate(make(chan struct{}), -time.Second)
	late.log = testLogger(t)
	if !late.passes() || !late.passes() {
		t.Error("held past the deadline")
	}
}
