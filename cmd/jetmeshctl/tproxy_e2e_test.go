package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/dnsproxy"
	"github.com/jetmesh/jetmesh/services/dynconf"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// The end-to-end test of issue 10 runs this test binary as jetmeshctl inside the network
// namespace (to install the redirection there) and as a small client under the proxy's UID.
// These variables select those roles in TestMain.
const (
	runMainEnv  = "JETMESHCTL_TEST_RUN_MAIN" // run jetmeshctl with the arguments
	dialEnv     = "JETMESHCTL_TEST_DIAL"     // connect to this address, write, exit
	dialUIDEnv  = "JETMESHCTL_TEST_DIAL_UID" // first become this UID
	e2eDPUID    = 5678                       // Kuma's default kuma-dp UID
	redirectOut = 15001
	redirectIn  = 15006
	dnsPort     = 15053
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(runMainEnv) == "1":
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	case os.Getenv(dialEnv) != "":
		os.Exit(dialAs(os.Getenv(dialEnv), os.Getenv(dialUIDEnv)))
	}
	os.Exit(m.Run())
}

// dialAs connects to addr as uid (when set) and sends one line; exit status 0 when sent.
func dialAs(addr, uid string) int {
	if uid != "" {
		n, err := strconv.Atoi(uid)
		if err == nil {
			err = syscall.Setuid(n)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "setuid:", err)
			return 2
		}
	}
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	return 0
}

// requireNetns skips without root, ip and iptables, and fails instead under CI, whose
// .ci/run installs them.
func requireNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ip", "iptables-restore", "ip6tables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("network namespace test needs %s (.ci/run installs iptables)", strings.Join(missing, ", "))
	}
	t.Skipf("network namespace test needs %s", strings.Join(missing, ", "))
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns is a network namespace joined to the root one by a veth pair: host is the root
// side's address, addr the namespace's, which routes everything through host.
type netns struct {
	name, host, addr string
}

func newNetns(t *testing.T) netns {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	n := netns{name: "jm-" + id, host: fmt.Sprintf("10.%d.%d.1", 200+int(b[0])%50, b[1]), addr: fmt.Sprintf("10.%d.%d.2", 200+int(b[0])%50, b[1])}
	hostIf, nsIf := "jmh"+id, "jmn"+id
	sh(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	sh(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", hostIf).Run() })
	sh(t, "ip", "link", "set", nsIf, "netns", n.name)
	sh(t, "ip", "addr", "add", n.host+"/30", "dev", hostIf)
	sh(t, "ip", "link", "set", hostIf, "up")
	in := func(args ...string) { sh(t, append([]string{"ip", "netns", "exec", n.name}, args...)...) }
	in("ip", "addr", "add", n.addr+"/30", "dev", nsIf)
	in("ip", "link", "set", nsIf, "up")
	in("ip", "link", "set", "lo", "up")
	in("ip", "route", "add", "default", "via", n.host)
	return n
}

// do runs fn on an OS thread inside the namespace: sockets it creates belong to the
// namespace for their whole life. The thread is discarded afterwards, never reused.
func (n netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open(filepath.Join("/var/run/netns", n.name))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// exec runs this test binary inside the namespace in one of TestMain's roles.
func (n netns) exec(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// originalDst is the destination a REDIRECTed connection was sent to (SO_ORIGINAL_DST).
func originalDst(c net.Conn) (string, error) {
	sc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return "", err
	}
	var addr string
	var serr error
	err = sc.Control(func(fd uintptr) {
		// sockaddr_in: family (2), port (2, network order), address (4), padding
		raw, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, 80 /* SO_ORIGINAL_DST */)
		if err != nil {
			serr = err
			return
		}
		b := raw.Multiaddr
		addr = net.JoinHostPort(net.IP(b[4:8]).String(), strconv.Itoa(int(binary.BigEndian.Uint16(b[2:4]))))
	})
	if err == nil {
		err = serr
	}
	return addr, err
}

// sink stands in for Envoy's listener on a redirect port: it records where each accepted
// connection was originally going.
type sink struct {
	ln   net.Listener
	mu   sync.Mutex
	dsts []string
	got  chan struct{}
}

func newSink(t *testing.T, n netns, port int) *sink {
	t.Helper()
	s := &sink{got: make(chan struct{}, 100)}
	if err := n.do(func() (err error) {
		s.ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.ln.Close() })
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			dst, err := originalDst(c)
			if err != nil {
				dst = "error: " + err.Error()
			}
			_ = c.Close()
			s.mu.Lock()
			s.dsts = append(s.dsts, dst)
			s.mu.Unlock()
			s.got <- struct{}{}
		}
	}()
	return s
}

// waitFor waits until the sink saw a connection to dst.
func (s *sink) waitFor(t *testing.T, dst string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		for _, d := range s.dsts {
			if d == dst {
				s.mu.Unlock()
				return
			}
		}
		seen := fmt.Sprint(s.dsts)
		s.mu.Unlock()
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("no redirected connection to %s (saw %s)", dst, seen)
		}
	}
}

func (s *sink) saw(dst string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dsts {
		if d == dst {
			return true
		}
	}
	return false
}

// direct is a plain server on the root side: what a bypassed connection reaches.
func direct(t *testing.T, addr string) chan string {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	got := make(chan string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 6)
			_, _ = c.Read(buf)
			_ = c.Close()
			got <- string(buf)
		}
	}()
	return got
}

// serveDynamicConfig plays Envoy's part for the dynamic-config listener the CP generated:
// the listener's direct responses on the unix socket jetmesh-dp polls, If-None-Match and all.
func serveDynamicConfig(t *testing.T, socket string, l *listenerv3.Listener) {
	t.Helper()
	var hcm hcmv3.HttpConnectionManager
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range routes {
			if rt.GetMatch().GetPath() != r.URL.Path {
				continue
			}
			matches := true
			for _, h := range rt.GetMatch().GetHeaders() {
				if r.Header.Get(h.GetName()) != h.GetStringMatch().GetExact() {
					matches = false
				}
			}
			if !matches {
				continue
			}
			for _, h := range rt.GetResponseHeadersToAdd() {
				w.Header().Set(h.GetHeader().GetKey(), h.GetHeader().GetValue())
			}
			dr := rt.GetDirectResponse()
			w.WriteHeader(int(dr.GetStatus()))
			_, _ = w.Write([]byte(dr.GetBody().GetInlineString()))
			return
		}
		http.NotFound(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// A dataplane with transparent proxying reaches "<service>.mesh" by name with no outbound
// section, in its own zone and across zones, in a network namespace the test makes:
// jetmeshctl installs the iptables redirection there; the DNS proxy of jetmesh-dp, fed the
// table the zone CP generated, answers both name forms (NXDOMAIN for unknown mesh names);
// connecting to the answer lands on the outbound redirect port with the virtual IP as the
// original destination, and the CP gives the proxy a listener on exactly that address whose
// service's endpoints are local (api) or the other zone's ingress (backend). Inbound traffic
// lands on the inbound port; an excluded port and the proxy's own UID bypass the redirection;
// uninstalling restores direct traffic.
func TestTransparentProxyEndToEnd(t *testing.T) {
	requireNetns(t)
	n := newNetns(t)

	g, zones, _ := cptest.StartMultizone(t, "zone-1", "zone-2")
	z1, z2 := zones[0], zones[1]
	mustDo := func(cp *cptest.CP, method, path, body string, want int) {
		t.Helper()
		if code, out := cptest.Do(t, method, cp.URL+path, body); code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, out)
		}
	}
	mustDo(g, http.MethodPut, "/meshes/demo", `{"type":"Mesh","name":"demo",
		"mtls":{"enabledBackend":"ca-1","backends":[{"name":"ca-1","type":"builtin"}]}}`, http.StatusCreated)
	for _, z := range zones {
		cptest.Eventually(t, "mesh on a zone", func() (bool, string) {
			code, body := cptest.Do(t, http.MethodGet, z.URL+"/meshes/demo", "")
			return code == http.StatusOK, body
		})
	}
	mustDo(z1, http.MethodPut, "/zoneingresses/zi-1", `{"type":"ZoneIngress","name":"zi-1",
		"networking":{"address":"127.0.0.1","port":10001,"advertisedAddress":"127.0.0.11","advertisedPort":10001}}`, http.StatusCreated)
	mustDo(z1, http.MethodPut, "/meshes/demo/dataplanes/backend-1", `{"type":"Dataplane","mesh":"demo","name":"backend-1",
		"networking":{"address":"127.0.0.1","inbound":[{"port":8080,"tags":{"kuma.io/service":"backend_shop_svc_8080"}}]}}`, http.StatusCreated)
	mustDo(z2, http.MethodPut, "/meshes/demo/dataplanes/api-1", `{"type":"Dataplane","mesh":"demo","name":"api-1",
		"networking":{"address":"127.0.0.2","inbound":[{"port":9090,"tags":{"kuma.io/service":"api"}}]}}`, http.StatusCreated)
	mustDo(z2, http.MethodPut, "/meshes/demo/dataplanes/web-1", fmt.Sprintf(`{"type":"Dataplane","mesh":"demo","name":"web-1",
		"networking":{"address":%q,"inbound":[{"port":8080,"tags":{"kuma.io/service":"web"}}],
		"transparentProxying":{"redirectPortInbound":%d,"redirectPortOutbound":%d}}}`, n.addr, redirectIn, redirectOut), http.StatusCreated)

	// The proxy's config in zone-2: VIP listeners for all three services and the DNS table.
	ls := cptest.Listeners(t, z2, "demo.web-1", []string{"feature-embedded-dns"}, "VIPs and names of backend and api",
		func(ls map[string]*listenerv3.Listener) bool {
			v := cptest.VIPs(ls)
			return v["backend_shop_svc_8080"] != "" && v["api"] != "" &&
				strings.Contains(cptest.DNSTable(t, ls), "backend.shop.svc.8080.mesh")
		})
	vips := cptest.VIPs(ls)
	backendVIP, apiVIP := vips["backend_shop_svc_8080"], vips["api"]

	// jetmesh-dp's DNS proxy in the namespace, fed through the dynamic-config socket.
	socket := filepath.Join(t.TempDir(), "dynconf.sock")
	serveDynamicConfig(t, socket, ls[generate.DynamicConfigListener])
	cfg := dnsproxy.DefaultConfig()
	cfg.Addresses = []string{fmt.Sprintf("127.0.0.1:%d", dnsPort)}
	cfg.Upstreams = []string{net.JoinHostPort(n.host, "53")} // nothing answers: only mesh names are asked
	proxy, err := dnsproxy.New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := n.do(func() error { return proxy.Start(ctx) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Stop(context.Background()) })
	fetcher := dynconf.New(socket, 50*time.Millisecond, discardLog())
	if err := fetcher.Handle(dnsproxy.Path, proxy.ReloadMap); err != nil {
		t.Fatal(err)
	}
	go func() { _ = fetcher.Run(ctx) }()
	select {
	case <-proxy.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the DNS proxy got no table")
	}

	out := newSink(t, n, redirectOut)
	in := newSink(t, n, redirectIn)

	// Install the redirection in the namespace, as kuma-init would.
	install := []string{"install", "transparent-proxy", "--redirect-outbound-port", strconv.Itoa(redirectOut),
		"--redirect-inbound-port", strconv.Itoa(redirectIn), "--redirect-dns-port", strconv.Itoa(dnsPort),
		"--redirect-all-dns-traffic", "--kuma-dp-uid", strconv.Itoa(e2eDPUID), "--exclude-outbound-ports", "9999"}
	if o, err := n.exec(t, []string{runMainEnv + "=1"}, install...); err != nil {
		t.Fatalf("jetmeshctl %s: %v\n%s", strings.Join(install, " "), err, o)
	}

	// An application asks any resolver on port 53: the query reaches the DNS proxy.
	resolve := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		var resp *dns.Msg
		if err := n.do(func() (err error) {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(name), qtype)
			c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
			resp, _, err = c.Exchange(m, net.JoinHostPort(n.host, "53"))
			return err
		}); err != nil {
			t.Fatalf("resolve %s: %v", name, err)
		}
		return resp
	}
	for name, want := range map[string]string{
		"backend_shop_svc_8080.mesh": backendVIP, "backend.shop.svc.8080.mesh": backendVIP, "api.mesh": apiVIP,
	} {
		resp := resolve(name, dns.TypeA)
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != want {
			t.Errorf("A %s = %v, want %s", name, resp.Answer, want)
		}
	}
	if resp := resolve("nope.mesh", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("nope.mesh: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}

	// Connecting to the answer lands on the outbound port with the VIP as destination; the
	// CP's listener on that address leads to the service's endpoints.
	connect := func(addr string) error {
		return n.do(func() error {
			c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		})
	}
	for svc, vip := range map[string]string{"backend_shop_svc_8080": backendVIP, "api": apiVIP} {
		dst := net.JoinHostPort(vip, "80")
		if err := connect(dst); err != nil {
			t.Fatalf("connect %s (%s): %v", dst, svc, err)
		}
		out.waitFor(t, dst)
		if _, ok := ls["outbound:"+dst]; !ok {
			t.Errorf("the CP has no listener for %s (%s)", dst, svc)
		}
	}
	z2Endpoints := func(cluster string) []string {
		return cptest.Endpoints(t, z2, "demo.web-1", "", cluster, func(eps []string) bool { return len(eps) > 0 })
	}
	if eps := z2Endpoints("backend_shop_svc_8080"); len(eps) != 1 || !strings.HasPrefix(eps[0], "127.0.0.11:10001") {
		t.Errorf("backend (zone-1) endpoints in zone-2: %v, want zone-1's ingress", eps)
	}
	if eps := z2Endpoints("api"); len(eps) != 1 || !strings.HasPrefix(eps[0], "127.0.0.2:9090") {
		t.Errorf("api (zone-2) endpoints: %v, want api-1", eps)
	}

	// Inbound: a connection to the proxy's inbound port lands on the inbound redirect port.
	dialIn, err := net.DialTimeout("tcp4", net.JoinHostPort(n.addr, "8080"), 3*time.Second)
	if err != nil {
		t.Fatalf("inbound connection: %v", err)
	}
	_ = dialIn.Close()
	in.waitFor(t, net.JoinHostPort(n.addr, "8080"))

	// An excluded port and the proxy's own UID go straight out.
	got := direct(t, net.JoinHostPort(n.host, "9999"))
	if err := connect(net.JoinHostPort(n.host, "9999")); err != nil {
		t.Fatalf("excluded port: %v", err)
	}
	waitDirect(t, got, "the excluded port 9999")
	got7777 := direct(t, net.JoinHostPort(n.host, "7777"))
	if o, err := n.exec(t, []string{dialEnv + "=" + net.JoinHostPort(n.host, "7777"), dialUIDEnv + "=" + strconv.Itoa(e2eDPUID)}); err != nil {
		t.Fatalf("dial as the proxy's UID: %v\n%s", err, o)
	}
	waitDirect(t, got7777, "the proxy's UID")
	if out.saw(net.JoinHostPort(n.host, "7777")) || out.saw(net.JoinHostPort(n.host, "9999")) {
		t.Error("bypassed traffic was redirected too")
	}
	// ... while the application's connection to the same port is redirected.
	if err := connect(net.JoinHostPort(n.host, "7777")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, net.JoinHostPort(n.host, "7777"))

	// Uninstalling restores direct traffic.
	if o, err := n.exec(t, []string{runMainEnv + "=1"}, "uninstall", "transparent-proxy"); err != nil {
		t.Fatalf("jetmeshctl uninstall transparent-proxy: %v\n%s", err, o)
	}
	if err := connect(net.JoinHostPort(n.host, "7777")); err != nil {
		t.Fatalf("after uninstall: %v", err)
	}
	waitDirect(t, got7777, "a connection after uninstall")
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func waitDirect(t *testing.T, got chan string, what string) {
	t.Helper()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not reach the server directly", what)
	}
}
