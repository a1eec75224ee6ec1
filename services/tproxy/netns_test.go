package tproxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The netns tests need root, ip (iproute2) and iptables. Outside CI they skip without them; in
// CI (CI=true) a missing tool fails them, so CI cannot pass without running them.
func requireNetnsTools(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ip", "iptables-save", "iptables-restore", "ip6tables-restore", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("netns tests need %s (CI=true: .ci/run installs iptables and iproute2)", strings.Join(missing, ", "))
	}
	t.Skipf("netns tests need %s", strings.Join(missing, ", "))
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// testNet is two namespaces joined by a veth pair: app (10.77.0.1, fd77::1), where the rules
// are installed, and peer (10.77.0.2 and 10.77.0.3, fd77::2), the rest of the network.
type testNet struct{ app, peer string }

func newTestNet(t *testing.T) testNet {
	t.Helper()
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	n := testNet{app: "jmtp-app-" + id, peer: "jmtp-peer-" + id}
	for _, ns := range []string{n.app, n.peer} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "link", "add", "jmtpa", "netns", n.app, "type", "veth", "peer", "name", "jmtpp", "netns", n.peer)
	sh(t, "ip", "-n", n.app, "addr", "add", "10.77.0.1/24", "dev", "jmtpa")
	sh(t, "ip", "-n", n.app, "-6", "addr", "add", "fd77::1/64", "dev", "jmtpa", "nodad")
	sh(t, "ip", "-n", n.peer, "addr", "add", "10.77.0.2/24", "dev", "jmtpp")
	sh(t, "ip", "-n", n.peer, "addr", "add", "10.77.0.3/24", "dev", "jmtpp")
	sh(t, "ip", "-n", n.peer, "-6", "addr", "add", "fd77::2/64", "dev", "jmtpp", "nodad")
	sh(t, "ip", "-n", n.app, "link", "set", "jmtpa", "up")
	sh(t, "ip", "-n", n.peer, "link", "set", "jmtpp", "up")
	return n
}

// inNetns runs fn on an OS thread moved into namespace ns. Sockets fn creates stay in ns; child
// processes it starts are forked from that thread and so start in ns too. The thread is never
// returned to the scheduler (the goroutine exits locked), so no other code runs in ns by accident.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// hit is one connection a test listener accepted: which listener, the token the client sent,
// and the destination the client asked for (SO_ORIGINAL_DST; the local address when not NATed).
type hit struct {
	listener string
	token    string
	orig     netip.AddrPort
}

// listeners are the test's TCP servers; every accepted connection becomes a hit.
type listeners struct {
	t    *testing.T
	hits chan hit
	wg   sync.WaitGroup
}

func newListeners(t *testing.T) *listeners {
	l := &listeners{t: t, hits: make(chan hit, 64)}
	t.Cleanup(l.wg.Wait) // runs after the listeners' own cleanups close them
	return l
}

func (l *listeners) listen(ns, name, network, addr string) {
	t := l.t
	var ln net.Listener
	if err := inNetns(ns, func() (err error) { ln, err = net.Listen(network, addr); return err }); err != nil {
		t.Fatalf("listen %s %s in %s: %v", network, addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				tok, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					t.Errorf("%s: read token: %v", name, err)
					return
				}
				orig, err := originalDst(c.(*net.TCPConn))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				l.hits <- hit{listener: name, token: strings.TrimSpace(tok), orig: orig}
			}()
		}
	}()
}

// await returns the hit of token, failing the test when no listener sees it in time.
func (l *listeners) await(token string) hit {
	l.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case h := <-l.hits:
			if h.token == token {
				return h
			}
			l.t.Errorf("unexpected connection %+v while waiting for %s", h, token)
		case <-timeout:
			l.t.Fatalf("no listener accepted the connection of %s", token)
		}
	}
}

// originalDst is the destination the connection had before REDIRECT: SO_ORIGINAL_DST for IPv4,
// IP6T_SO_ORIGINAL_DST (the same number) for IPv6. Without NAT the kernel answers ENOENT, and
// the local address is the original destination.
func originalDst(c *net.TCPConn) (netip.AddrPort, error) {
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	rc, err := c.SyscallConn()
	if err != nil {
		return local, err
	}
	var orig netip.AddrPort
	var serr error
	err = rc.Control(func(fd uintptr) {
		if local.Addr().Unmap().Is4() {
			var mreq *unix.IPv6Mreq // 16 bytes: room for a sockaddr_in
			mreq, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
			if serr == nil {
				b := mreq.Multiaddr
				orig = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4]))
			}
			return
		}
		var info *unix.IPv6MTUInfo // starts with a sockaddr_in6
		info, serr = unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, unix.SO_ORIGINAL_DST)
		if serr == nil {
			p := info.Addr.Port
			port := binary.BigEndian.Uint16([]byte{byte(p), byte(p >> 8)}) // stored in network order
			orig = netip.AddrPortFrom(netip.AddrFrom16(info.Addr.Addr), port)
		}
	})
	if err != nil {
		return local, err
	}
	if errors.Is(serr, unix.ENOENT) {
		return local, nil
	}
	if serr != nil {
		return local, fmt.Errorf("SO_ORIGINAL_DST: %w", serr)
	}
	return orig, nil
}

var tokenSeq struct {
	sync.Mutex
	n int
}

func newToken() string {
	tokenSeq.Lock()
	defer tokenSeq.Unlock()
	tokenSeq.n++
	return fmt.Sprintf("tok-%d", tokenSeq.n)
}

// dial connects from ns to addr and sends a fresh token, as root (UID 0) or, with uid > 0, from
// a bash child running as uid, so the owner match sees that UID.
func dial(t *testing.T, ns string, uid uint32, addr netip.AddrPort) string {
	t.Helper()
	tok := newToken()
	err := inNetns(ns, func() error {
		if uid == 0 {
			c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = fmt.Fprintln(c, tok)
			return err
		}
		// bash's /dev/tcp takes a bare IPv6 address, without brackets.
		script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d && echo %s >&3", addr.Addr(), addr.Port(), tok)
		cmd := exec.Command("bash", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bash as uid %d: %w: %s", uid, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ns, err)
	}
	return tok
}

// udpServe answers every datagram on addr in ns with reply, until the test ends.
func udpServe(t *testing.T, ns, addr, reply string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(func() { pc.Close() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(reply+"\n"), from) // head wants a whole line
		}
	}()
}

// udpAsk sends a datagram from ns to addr (as uid, via bash, when uid > 0) and returns the reply.
func udpAsk(t *testing.T, ns string, uid uint32, addr string) string {
	t.Helper()
	var reply string
	err := inNetns(ns, func() error {
		if uid > 0 {
			host, port, _ := net.SplitHostPort(addr)
			// head, not bash's read: read takes a byte at a time, and a datagram's rest is lost.
			script := fmt.Sprintf("exec 3<>/dev/udp/%s/%s && echo q >&3 && timeout 5 head -n1 <&3", host, port)
			cmd := exec.Command("bash", "-c", script)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
			out, err := cmd.Output()
			reply = strings.TrimSpace(string(out))
			return err
		}
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("q")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		reply = strings.TrimSpace(string(buf[:n]))
		return err
	})
	if err != nil {
		t.Fatalf("udp %s from %s as uid %d: %v", addr, ns, uid, err)
	}
	return reply
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestNetnsRedirection installs the rules in a namespace and checks where real connections
// land: on the proxy's listeners with their original destination, or directly on their target
// when excluded; then that uninstall restores direct traffic and leaves foreign rules alone.
func TestNetnsRedirection(t *testing.T) {
	requireNetnsTools(t)
	n := newTestNet(t)
	l := newListeners(t)
	l.listen(n.app, "outbound", "tcp4", "0.0.0.0:15001")
	l.listen(n.app, "outbound6", "tcp6", "[::]:15001")
	l.listen(n.app, "inbound", "tcp4", "0.0.0.0:15006")
	l.listen(n.app, "inbound6", "tcp6", "[::]:15006")
	l.listen(n.app, "dns-tcp", "tcp4", "0.0.0.0:15053")
	l.listen(n.app, "app-9001", "tcp4", "0.0.0.0:9001")
	l.listen(n.peer, "peer-80", "tcp4", "0.0.0.0:80")
	l.listen(n.peer, "peer6-80", "tcp6", "[::]:80")
	l.listen(n.peer, "peer-8080", "tcp4", "0.0.0.0:8080")
	// kuma-dp's resolver binds the loopback, where REDIRECT sends locally made packets; a
	// wildcard-bound server would answer from another source address, which conntrack cannot
	// map back to the server the client asked.
	udpServe(t, n.app, "127.0.0.1:15053", "proxy")
	udpServe(t, n.peer, "10.77.0.2:53", "peer")
	udpServe(t, n.peer, "10.77.0.3:53", "peer")

	expect := func(t *testing.T, tok, listener string, orig netip.AddrPort) {
		t.Helper()
		h := l.await(tok)
		if h.listener != listener || h.orig != orig {
			t.Errorf("connection landed on %s with original destination %s, want %s with %s", h.listener, h.orig, listener, orig)
		}
	}
	// Without rules everything is direct.
	expect(t, dial(t, n.app, 0, ap("10.77.0.2:80")), "peer-80", ap("10.77.0.2:80"))

	// A rule of someone else's that install and uninstall must keep.
	sh(t, "ip", "netns", "exec", n.app, "iptables", "-t", "nat", "-A", "OUTPUT", "-d", "10.99.0.0/16", "-j", "RETURN")

	c := DefaultConfig()
	c.ExcludeOutboundPorts = []uint16{8080}
	c.ExcludeInboundPorts = []uint16{9001}
	c.ExcludeOutboundIPs = mustPrefixes(t, "10.77.0.3")
	c.ExcludeForUIDs = []UIDExclusion{mustUIDExclusion(t, "tcp:80:1234", ProtocolAny)}
	c.RedirectDNS = true
	c.DNSServers = []netip.Addr{netip.MustParseAddr("10.77.0.2")}
	a := Applier{Prefix: []string{"ip", "netns", "exec", n.app}}
	ctx := context.Background()
	for range 2 { // the second install replaces the first
		if err := a.Install(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		saved := sh(t, "ip", "netns", "exec", n.app, tool, "-t", "nat")
		for _, r := range []string{"-A OUTPUT -p tcp -m comment", "-A PREROUTING -p tcp -m comment", "-j REDIRECT --to-ports 15001"} {
			if got := strings.Count(saved, r); got != 1 {
				t.Errorf("%s after two installs: %d rules with %q, want 1:\n%s", tool, got, r, saved)
			}
		}
	}

	t.Run("outbound lands on 15001 with its original destination", func(t *testing.T) {
		expect(t, dial(t, n.app, 0, ap("10.77.0.2:80")), "outbound", ap("10.77.0.2:80"))
		expect(t, dial(t, n.app, 0, ap("10.77.0.2:5432")), "outbound", ap("10.77.0.2:5432"))
		expect(t, dial(t, n.app, 0, ap("[fd77::2]:80")), "outbound6", ap("[fd77::2]:80"))
		// A UID that is not excluded is redirected like root.
		expect(t, dial(t, n.app, 1235, ap("10.77.0.2:80")), "outbound", ap("10.77.0.2:80"))
	})
	t.Run("excluded port, address and UID go direct", func(t *testing.T) {
		expect(t, dial(t, n.app, 0, ap("10.77.0.2:8080")), "peer-8080", ap("10.77.0.2:8080"))
		expect(t, dial(t, n.app, 0, ap("10.77.0.3:80")), "peer-80", ap("10.77.0.3:80"))
		expect(t, dial(t, n.app, 1234, ap("10.77.0.2:80")), "peer-80", ap("10.77.0.2:80"))
	})
	t.Run("the proxy's own traffic goes direct", func(t *testing.T) {
		expect(t, dial(t, n.app, DefaultKumaDPUID, ap("10.77.0.2:80")), "peer-80", ap("10.77.0.2:80"))
		expect(t, dial(t, n.app, DefaultKumaDPUID, ap("[fd77::2]:80")), "peer6-80", ap("[fd77::2]:80"))
	})
	t.Run("inbound lands on 15006 unless its port is excluded", func(t *testing.T) {
		expect(t, dial(t, n.peer, 0, ap("10.77.0.1:9000")), "inbound", ap("10.77.0.1:9000"))
		expect(t, dial(t, n.peer, 0, ap("10.77.0.1:9001")), "app-9001", ap("10.77.0.1:9001"))
		expect(t, dial(t, n.peer, 0, ap("[fd77::1]:9000")), "inbound6", ap("[fd77::1]:9000"))
	})
	t.Run("DNS to the configured server lands on 15053", func(t *testing.T) {
		if got := udpAsk(t, n.app, 0, "10.77.0.2:53"); got != "proxy" {
			t.Errorf("UDP DNS to 10.77.0.2 answered by %q, want proxy", got)
		}
		expect(t, dial(t, n.app, 0, ap("10.77.0.2:53")), "dns-tcp", ap("10.77.0.2:53"))
		// Not a server from the configuration: direct.
		if got := udpAsk(t, n.app, 0, "10.77.0.3:53"); got != "peer" {
			t.Errorf("UDP DNS to 10.77.0.3 answered by %q, want peer", got)
		}
		// The DNS proxy's own queries reach the real server.
		if got := udpAsk(t, n.app, DefaultKumaDPUID, "10.77.0.2:53"); got != "peer" {
			t.Errorf("kuma-dp's UDP DNS answered by %q, want peer", got)
		}
	})

	t.Run("a changed configuration replaces the installed one", func(t *testing.T) {
		c2 := c
		c2.ExcludeOutboundPorts = nil
		if err := a.Install(ctx, c2); err != nil {
			t.Fatal(err)
		}
		expect(t, dial(t, n.app, 0, ap("10.77.0.2:8080")), "outbound", ap("10.77.0.2:8080"))
		expect(t, dial(t, n.app, 0, ap("10.77.0.3:80")), "peer-80", ap("10.77.0.3:80"))
	})

	if err := a.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		saved := sh(t, "ip", "netns", "exec", n.app, tool, "-t", "nat")
		if strings.Contains(saved, "KUMA_") || strings.Contains(saved, commentPrefix) {
			t.Errorf("%s after uninstall still has our rules:\n%s", tool, saved)
		}
		if tool == "iptables-save" && !strings.Contains(saved, "-A OUTPUT -d 10.99.0.0/16 -j RETURN") {
			t.Errorf("uninstall removed a foreign rule:\n%s", saved)
		}
	}
	t.Run("after uninstall everything is direct", func(t *testing.T) {
		expect(t, dial(t, n.app, 0, ap("10.77.0.2:80")), "peer-80", ap("10.77.0.2:80"))
		expect(t, dial(t, n.app, 0, ap("[fd77::2]:80")), "peer6-80", ap("[fd77::2]:80"))
		if got := udpAsk(t, n.app, 0, "10.77.0.2:53"); got != "peer" {
			t.Errorf("UDP DNS after uninstall answered by %q, want peer", got)
		}
	})
	if err := a.Uninstall(ctx); err != nil {
		t.Errorf("second uninstall: %v", err)
	}
}

// TestNetnsGoldenConfigsApply installs every golden configuration in a namespace, so the golden
// files are rules iptables-restore (the nft and the legacy backend) accepts, and checks that
// what is installed is what Rules says.
func TestNetnsGoldenConfigsApply(t *testing.T) {
	requireNetnsTools(t)
	n := newTestNet(t)
	binaries := []string{"iptables"}
	if _, err := exec.LookPath("iptables-legacy-restore"); err == nil {
		binaries = append(binaries, "iptables-legacy")
	}
	for _, bin := range binaries {
		a := Applier{Prefix: []string{"ip", "netns", "exec", n.app}, Binary: bin}
		for name, mod := range goldenCases(t) {
			t.Run(bin+"/"+name, func(t *testing.T) {
				c := DefaultConfig()
				mod(&c)
				for range 2 { // the second over the first: one copy must remain
					if err := a.Install(context.Background(), c); err != nil {
						t.Fatal(err)
					}
				}
				saved := sh(t, "ip", "netns", "exec", n.app, bin+"-save", "-t", "nat")
				want := 0
				for _, r := range Rules(c, IPv4) {
					if strings.HasPrefix(r, "-") {
						want++
					}
				}
				if got := strings.Count(saved, "\n-A "); got != want {
					t.Errorf("%d rules installed, want %d:\n%s", got, want, saved)
				}
				if err := a.Uninstall(context.Background()); err != nil {
					t.Fatal(err)
				}
				if saved := sh(t, "ip", "netns", "exec", n.app, bin+"-save", "-t", "nat"); strings.Contains(saved, "KUMA_") {
					t.Errorf("left after uninstall:\n%s", saved)
				}
			})
		}
	}
}
