package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/services/dpagent"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// The test binary doubles as jetmesh-dp: with this variable set it runs main instead of the
// tests, so a real SIGTERM can be sent to a real agent process.
const childEnv = "JETMESH_TEST_DP_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, dpagent.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}, nil)
	return code, stdout.String(), stderr.String()
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runCmd("--help")
	if code != 0 || !strings.Contains(out, "kuma-dp") || !strings.Contains(out, "--dataplane-var") || !strings.Contains(out, "embedded DNS proxy") {
		t.Errorf("help: %d %q", code, out)
	}
	code, out, _ = runCmd("version")
	if code != 0 || !strings.Contains(out, "kuma-dp 2.14.3 compatible") {
		t.Errorf("version: %d %q", code, out)
	}
	code, _, errOut := runCmd("run", "--help")
	for _, want := range []string{"--cp-address", "[KUMA_CONTROL_PLANE_URL]", "--dataplane-file, -d", "KUMA_READINESS_PORT",
		"--dns-enabled", "--dns-proxy-port", "[KUMA_DNS_PROXY_PORT]", "JETMESH_DNS_MESH_DOMAIN", "KUMA_DATAPLANE_RUNTIME_DYNAMIC_CONFIGURATION_REFRESH_INTERVAL"} {
		if code != 0 || !strings.Contains(errOut, want) {
			t.Errorf("run --help: %d, missing %q in\n%s", code, want, errOut)
		}
	}
	if code, _, _ := runCmd(); code != 2 {
		t.Errorf("no command: %d", code)
	}
	if code, _, errOut := runCmd("launch"); code != 2 || !strings.Contains(errOut, `unknown command "launch"`) {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
}

func TestOneLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--binary-path", "no-such-envoy-here", "--name", "n", "--mesh", "m"}, 1,
			`jetmesh-dp: envoy binary "no-such-envoy-here" not found on PATH; install Envoy 1.38 (https://www.envoyproxy.io/docs/envoy/latest/start/install) or pass --binary-path`},
		{[]string{"run", "--proxy-type", "gateway", "--drain-time", "0s"}, 2,
			`jetmesh-dp: invalid configuration: --proxy-type "gateway": use dataplane, ingress or egress; --drain-time must be positive`},
		{[]string{"run", "extra"}, 2, `jetmesh-dp: unexpected argument "extra"`},
		{[]string{"run", "--dataplane-var", "nope"}, 2,
			`jetmesh-dp: invalid value "nope" for flag -dataplane-var: "nope" must be formatted as name=value; run 'jetmesh-dp run --help'`},
		{[]string{"run", "--no-such-flag"}, 2, `jetmesh-dp: flag provided but not defined: -no-such-flag; run 'jetmesh-dp run --help'`},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code != tc.code || errOut != tc.want+"\n" {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// TestSIGTERMToTheProcess runs the agent as a real process with a stand-in Envoy and a fake
// control plane, sends it SIGTERM and expects it to drain Envoy and exit with Envoy's status.
func TestSIGTERMToTheProcess(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "envoy")
	build := exec.Command("go", "build", "-o", fake, "../../services/dpagent/testdata/fakeenvoy")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the fake envoy: %v\n%s", err, out)
	}
	cp, caFile := fakeControlPlane(t, dir)
	record := filepath.Join(dir, "envoy.jsonl")
	cmd := exec.Command(os.Args[0], "run", "--cp-address", cp, "--ca-cert-file", caFile, "--binary-path", fake,
		"--name", "dp-1", "--mesh", "default", "--work-dir", dir, "--drain-time", "50ms", "--log-level", "off")
	cmd.Env = append(os.Environ(), childEnv+"=1", "FAKE_ENVOY_RECORD="+record, "FAKE_ENVOY_EXIT_CODE=5",
		fmt.Sprintf("KUMA_READINESS_PORT=%d", freePort(t)), fmt.Sprintf("KUMA_DNS_PROXY_PORT=%d", freePort(t)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, record, `"admin-listening"`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 5 {
			t.Fatalf("exit %v, want 5; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the agent did not exit")
	}
	got := string(must(os.ReadFile(record)))
	hc, sig := strings.Index(got, "/healthcheck/fail"), strings.Index(got, `"signal":"terminated"`)
	if hc < 0 || sig < hc {
		t.Errorf("want POST /healthcheck/fail, then SIGTERM to Envoy; got:\n%s", got)
	}
	if stderr.String() != "jetmesh-dp: envoy exited with status 5\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}

// fakeControlPlane serves /bootstrap with a generated bootstrap; it returns its URL and the
// file of its CA.
func fakeControlPlane(t *testing.T, dir string) (string, string) {
	adminPort := freePort(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req bootstrap.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		server := bootstrap.ServerParams{XDSPort: 5678, AdminPort: uint32(adminPort)}
		b, err := bootstrap.Generate(bootstrap.NewParams(req, "127.0.0.1", server, bootstrap.Proxy{}))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(bootstrap.Response{Bootstrap: must(bootstrap.Marshal(b))})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}

func waitForFile(t *testing.T, path, substr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), substr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in %s", substr, path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
