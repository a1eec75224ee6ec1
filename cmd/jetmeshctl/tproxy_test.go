package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInstallTransparentProxyDryRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"install", "transparent-proxy", "--dry-run", "--ip-family-mode", "ipv4",
		"--kuma-dp-user", "1001", "--exclude-outbound-ports", "5432", "--exclude-inbound-ports", "22",
		"--exclude-outbound-tcp-ports-for-uids", "443:1234", "--exclude-outbound-ports-for-uids", "udp:53:7",
		"--exclude-outbound-ips", "10.0.0.0/8", "--exclude-inbound-ips", "192.168.1.1",
		"--redirect-all-dns-traffic"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"### IPv4 ###\n*nat\n",
		"-A KUMA_MESH_OUTBOUND -p tcp --dport 5432 -j RETURN",
		"-A KUMA_MESH_INBOUND -p tcp --dport 22 -j RETURN",
		"-A KUMA_MESH_INBOUND -s 192.168.1.1/32 -j RETURN",
		"-p tcp -m multiport --dports 443 -m owner --uid-owner 1234 ",
		"-p udp -m multiport --dports 53 -m owner --uid-owner 7 ",
		"-d 10.0.0.0/8 -m comment",
		"-m owner --uid-owner 1001 -j RETURN",
		"-p udp --dport 53 -m comment --comment \"jetmesh/tproxy: redirect DNS\" -j REDIRECT --to-ports 15053",
		"-A KUMA_MESH_OUTBOUND_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "IPv6") {
		t.Errorf("--ip-family-mode ipv4 printed IPv6 rules:\n%s", out)
	}
}

func TestInstallTransparentProxyUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"install"},
		{"install", "gateway"},
		{"install", "transparent-proxy", "--exclude-outbound-ports", "x"},
		{"install", "transparent-proxy", "--exclude-outbound-ips", "10.0.0.300"},
		{"install", "transparent-proxy", "--exclude-outbound-ports-for-uids", "sctp:1:2"},
		{"install", "transparent-proxy", "--ip-family-mode", "ipv6"},
		{"install", "transparent-proxy", "--redirect-inbound-port", "15001"},
		{"install", "transparent-proxy", "--iptables-backend", "ebpf"},
		{"uninstall", "mesh"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
}

// TestInstallTransparentProxyInNetns runs the real command inside a namespace of its own: the
// command runs on a thread moved into it, so the iptables processes it starts run there.
func TestInstallTransparentProxyInNetns(t *testing.T) {
	var missing []string
	for _, tool := range []string{"ip", "iptables-restore", "ip6tables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs %v (CI=true: .ci/run installs iptables and iproute2)", missing)
		}
		t.Skipf("needs %v", missing)
	}
	ns := fmt.Sprintf("jmctl-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })

	ctl := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := -1
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			f, err := os.Open("/var/run/netns/" + ns)
			if err != nil {
				done <- err
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- err
				return
			}
			code = runContext(context.Background(), args, &stdout, &stderr)
			done <- nil
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			t.Fatalf("jetmeshctl %v: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	save := func(tool string) string {
		out, err := exec.Command("ip", "netns", "exec", ns, tool, "-t", "nat").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", tool, err, out)
		}
		return string(out)
	}

	for range 2 {
		if out := ctl("install", "transparent-proxy", "--exclude-outbound-ports", "5432"); !strings.Contains(out, "installed (IPv4, IPv6)") {
			t.Errorf("install said %q", out)
		}
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		saved := save(tool)
		for _, want := range []string{"-A OUTPUT -p tcp -m comment", "--dport 5432 -j RETURN", "-j REDIRECT --to-ports 15006"} {
			if n := strings.Count(saved, want); n != 1 {
				t.Errorf("%s: %d of %q after two installs, want 1:\n%s", tool, n, want, saved)
			}
		}
	}
	ctl("uninstall", "transparent-proxy")
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		if saved := save(tool); strings.Contains(saved, "KUMA_") {
			t.Errorf("%s after uninstall:\n%s", tool, saved)
		}
	}
}

// TestTransparentProxyDocsFlags keeps docs/transparent-proxy.md's flag table and the command's
// flags in step.
func TestTransparentProxyDocsFlags(t *testing.T) {
	doc, err := os.ReadFile("../../docs/transparent-proxy.md")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"install", "transparent-proxy", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, stderr.String())
	}
	help := stdout.String()
	var table strings.Builder // the flag table's rows; the prose also names flags we lack
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "| `--") {
			table.WriteString(l + "\n")
		}
	}
	documented := regexp.MustCompile("`--([a-z0-9-]+)").FindAllStringSubmatch(table.String(), -1)
	if len(documented) < 10 {
		t.Fatalf("found only %d flags in the docs", len(documented))
	}
	for _, m := range documented {
		if !strings.Contains(help, "  -"+m[1]+" ") && !strings.Contains(help, "  -"+m[1]+"\n") {
			t.Errorf("docs name --%s, which install transparent-proxy does not have", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		switch m[1] {
		case "api-address", "api-token", "ca-cert-file", "o": // every command's
			continue
		}
		if !strings.Contains(table.String(), "`--"+m[1]) {
			t.Errorf("--%s is not in docs/transparent-proxy.md", m[1])
		}
	}
}
