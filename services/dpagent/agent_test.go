package dpagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// agentEnv is a fake control plane that answers with a real generated bootstrap whose
// admin is on adminPort, and a record file for the fake Envoy.
type agentEnv struct {
	cp        *fakeCP
	adminPort uint32
	record    string
	cfg       Config
}

func newAgentEnv(t *testing.T) *agentEnv {
	e := &agentEnv{cp: newFakeCP(t), adminPort: freePort(t), record: filepath.Join(t.TempDir(), "envoy.jsonl")}
	e.cp.generate = func(req bootstrap.Request) []byte {
		server := bootstrap.ServerParams{XDSPort: 5678, AdminPort: e.adminPort, CACert: e.cp.srv.Certificate().Raw}
		b, err := bootstrap.Generate(bootstrap.NewParams(req, "127.0.0.1", server, bootstrap.Proxy{Service: "backend"}))
		if err != nil {
			panic(err)
		}
		return must(bootstrap.Marshal(b))
	}
	t.Setenv("FAKE_ENVOY_RECORD", e.record)
	e.cfg = *fetchConfig(t, e.cp)
	e.cfg.BinaryPath = fakeEnvoy
	e.cfg.WorkDir = t.TempDir()
	e.cfg.Resource = seedTemplate
	e.cfg.ResourceVars = map[string]string{"name": "dp-1", "address": "127.0.0.1"}
	e.cfg.ReadinessPort = freePort(t)
	// The indirect lifecycle runs the DNS proxy: keep it off the well-known port.
	e.cfg.DNSProxyPort = freePort(t)
	e.cfg.DrainTime = time.Minute
	e.cfg.StopTimeout = 10 * time.Second
	return e
}

// run is a Run in progress; done closes when it returns err.
type run struct {
	done chan struct{}
	err  error
}

// start runs the agent in the background; cleanup cancels it and waits for it.
func (e *agentEnv) start(t *testing.T) (chan<- os.Signal, *run) {
	sigs := make(chan os.Signal, 4)
	r := &run{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		r.err = New(e.cfg, testLogger(t), discard).Run(ctx, sigs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("agent did not stop")
		}
	})
	return sigs, r
}

func (e *agentEnv) waitFor(t *testing.T, what string, match func(event) bool) {
	t.Helper()
	eventually(t, 20*time.Second, what, func() bool { return hasEvent(readEvents(t, e.record), match) })
}

func (e *agentEnv) envoyUp(t *testing.T) {
	t.Helper()
	e.waitFor(t, "the fake Envoy's admin", func(ev event) bool { return ev.Event == "admin-listening" })
}

func waitResult(t *testing.T, r *run) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func isAdmin(uri string) func(event) bool {
	return func(ev event) bool { return ev.Event == "admin" && ev.Method == http.MethodPost && ev.URI == uri }
}

func isSignal(ev event) bool { return ev.Event == "signal" }

func getReady(t *testing.T, port uint32) (int, string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/ready", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// SIGTERM: fail health checks, drain; a second SIGTERM ends the wait; Envoy gets SIGTERM
// and the agent returns its status.
func TestAgentLifecycle(t *testing.T) {
	e := newAgentEnv(t)
	t.Setenv("FAKE_ENVOY_EXIT_CODE", "7")
	e.cfg.Token = testJWT
	sigs, result := e.start(t)
	e.envoyUp(t)
	if code, body := getReady(t, e.cfg.ReadinessPort); code != 200 || body != "READY" {
		t.Errorf("/ready before shutdown: %d %q", code, body)
	}

	sigs <- syscall.SIGTERM
	e.waitFor(t, "POST /healthcheck/fail", isAdmin("/healthcheck/fail"))
	if code, body := getReady(t, e.cfg.ReadinessPort); code != 503 || body != "TERMINATING" {
		t.Errorf("/ready while draining: %d %q", code, body)
	}
	if hasEvent(readEvents(t, e.record), isSignal) {
		t.Fatal("Envoy got a signal before the drain time")
	}
	sigs <- syscall.SIGTERM
	err := waitResult(t, result)
	var exit *EnvoyExitError
	if !errors.As(err, &exit) || exit.Code != 7 {
		t.Fatalf("Run = %v, want Envoy's status 7", err)
	}

	events := readEvents(t, e.record)
	kinds := []string{}
	for _, ev := range events {
		kinds = append(kinds, ev.Event+" "+ev.URI+ev.Signal)
	}
	want := []string{"start ", "admin-listening ", "admin /healthcheck/fail", "signal terminated"}
	if !slices.Equal(kinds, want) {
		t.Errorf("events %q, want %q", kinds, want)
	}
	configPath := filepath.Join(e.cfg.WorkDir, "bootstrap.yaml")
	wantArgs := []string{"--config-path", configPath, "--drain-time-s", "60", "--drain-strategy", "immediate", "--disable-hot-restart", "--log-level", "info"}
	if args := events[0].Argv; len(args) < len(wantArgs) || !slices.Equal(args[:len(wantArgs)], wantArgs) {
		t.Errorf("envoy args %q, want them to start with %q", args, wantArgs)
	}
	checkBootstrapRequest(t, e, configPath)
}

func checkBootstrapRequest(t *testing.T, e *agentEnv, configPath string) {
	t.Helper()
	req := e.cp.requests[0]
	if req.Mesh != "default" || req.Name != "dp-1" || req.ProxyType != "dataplane" ||
		!strings.Contains(req.DataplaneResource, `"name":"dp-1"`) || req.ReadinessPort != e.cfg.ReadinessPort ||
		req.Workdir != e.cfg.WorkDir || req.DataplaneToken != testJWT || req.DataplaneTokenPath != filepath.Join(e.cfg.WorkDir, "dp-1") || req.Version.Envoy.Version != "1.38.2" || !req.Version.Envoy.KumaDpCompatible ||
		req.Version.KumaDp.Version != KumaDPVersion || req.CaCert == "" || req.OperatingSystem == "" ||
		!slices.Equal(req.Features, []string{bootstrap.FeatureStrictInboundPorts, bootstrap.FeatureReusePort}) {
		t.Errorf("bootstrap request %+v", req)
	}
	written, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != string(e.cp.generate(req)) {
		t.Error("bootstrap.yaml is not what the control plane sent")
	}
}

func TestAgentDrainTimeElapses(t *testing.T) {
	e := newAgentEnv(t)
	e.cfg.DrainTime = 50 * time.Millisecond
	e.cfg.Resource, e.cfg.Name, e.cfg.Mesh = "", "dp-indirect", "default" // indirect lifecycle
	sigs, result := e.start(t)
	e.envoyUp(t)
	sigs <- syscall.SIGINT
	if err := waitResult(t, result); err != nil {
		t.Fatalf("Run = %v, want nil (Envoy exited 0)", err)
	}
	events := readEvents(t, e.record)
	if !hasEvent(events, isAdmin("/healthcheck/fail")) || !hasEvent(events, isSignal) {
		t.Errorf("events %+v", events)
	}
	if req := e.cp.requests[0]; req.Name != "dp-indirect" || req.Mesh != "default" || req.DataplaneResource != "" {
		t.Errorf("indirect request %+v", req)
	}
}

func TestAgentReturnsWhenEnvoyExitsWhileDraining(t *testing.T) {
	e := newAgentEnv(t)
	e.cfg.DrainTime = time.Hour
	t.Setenv("FAKE_ENVOY_EXIT_ON_HEALTHCHECK_FAIL", "1")
	t.Setenv("FAKE_ENVOY_EXIT_CODE", "3")
	sigs, result := e.start(t)
	e.envoyUp(t)
	sigs <- syscall.SIGTERM
	var exit *EnvoyExitError
	if err := waitResult(t, result); !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("Run = %v, want status 3", err)
	}
	if hasEvent(readEvents(t, e.record), isSignal) {
		t.Error("Envoy had already exited; it should not have been signalled")
	}
}

func TestAgentSIGUSR2DrainsForever(t *testing.T) {
	e := newAgentEnv(t)
	sigs, result := e.start(t)
	e.envoyUp(t)
	sigs <- syscall.SIGUSR2
	e.waitFor(t, "POST /drain_listeners", isAdmin("/drain_listeners?inboundonly&graceful&skip_exit"))
	sigs <- syscall.SIGTERM // already drained: stop at once
	if err := waitResult(t, result); err != nil {
		t.Fatal(err)
	}
	if hasEvent(readEvents(t, e.record), isAdmin("/healthcheck/fail")) {
		t.Error("a drained Envoy should be stopped without another drain")
	}
}

func TestAgentKillsEnvoyThatIgnoresSIGTERM(t *testing.T) {
	e := newAgentEnv(t)
	e.cfg.StopTimeout = 100 * time.Millisecond
	t.Setenv("FAKE_ENVOY_IGNORE_SIGTERM", "1")
	sigs, result := e.start(t)
	e.envoyUp(t)
	sigs <- syscall.SIGTERM
	e.waitFor(t, "POST /healthcheck/fail", isAdmin("/healthcheck/fail"))
	sigs <- syscall.SIGTERM
	var exit *EnvoyExitError
	if err := waitResult(t, result); !errors.As(err, &exit) || exit.Code != 128+int(syscall.SIGKILL) {
		t.Fatalf("Run = %v, want 137", err)
	}
}

func TestAgentStopsWhileFetching(t *testing.T) {
	e := newAgentEnv(t)
	e.cp.notFound = 1 << 30
	e.cfg.RetryBackoff = time.Hour
	sigs, result := e.start(t)
	eventually(t, 20*time.Second, "the first bootstrap request", func() bool { return e.cp.count() > 0 })
	sigs <- syscall.SIGTERM
	if err := waitResult(t, result); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.record); !os.IsNotExist(err) {
		t.Error("Envoy was started")
	}
}

func TestAgentWithoutEnvoy(t *testing.T) {
	for bin, want := range map[string]string{
		"no-such-envoy-binary":   `envoy binary "no-such-envoy-binary" not found on PATH; install Envoy 1.38 (https://www.envoyproxy.io/docs/envoy/latest/start/install) or pass --binary-path`,
		"/nonexistent/bin/envoy": `"/nonexistent/bin/envoy" not found or not executable`,
	} {
		e := newAgentEnv(t)
		e.cfg.BinaryPath = bin
		err := New(e.cfg, testLogger(t), discard).Run(context.Background(), nil)
		if !errors.Is(err, ErrEnvoyNotFound) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", bin, err)
		}
		if e.cp.count() != 0 {
			t.Errorf("%s: the control plane was contacted", bin)
		}
	}
}

func TestAgentReportsRejectedBootstrap(t *testing.T) {
	e := newAgentEnv(t)
	e.cp.status, e.cp.body = http.StatusUnprocessableEntity, bootstrap.TokenRequiredMessage
	err := New(e.cfg, testLogger(t), discard).Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "Dataplane Token is required") {
		t.Errorf("Run = %v", err)
	}
}

func TestEnvoyVersionParsing(t *testing.T) {
	for out, want := range map[string]bootstrap.EnvoyVersion{
		"\nenvoy  version: abc/1.38.2/Clean/RELEASE/BoringSSL\n":  {Version: "1.38.2", Build: "abc/1.38.2/Clean/RELEASE/BoringSSL", KumaDpCompatible: true},
		"envoy version: abc/1.38.7/Modified/DEBUG/BoringSSL-FIPS": {Version: "1.38.7", Build: "abc/1.38.7/Modified/DEBUG/BoringSSL-FIPS", KumaDpCompatible: true},
		"envoy version: abc/1.37.0/Clean/RELEASE/BoringSSL":       {Version: "1.37.0", Build: "abc/1.37.0/Clean/RELEASE/BoringSSL"},
		"envoy version: abc/1.38.1/Clean/RELEASE/BoringSSL":       {Version: "1.38.1", Build: "abc/1.38.1/Clean/RELEASE/BoringSSL"},
	} {
		got, err := parseEnvoyVersion(out)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v", out, got, err)
		}
	}
	if _, err := parseEnvoyVersion("hello"); err == nil {
		t.Error("no error for garbage")
	}
}

func TestAdminFromBootstrap(t *testing.T) {
	for doc, want := range map[string]adminAddress{
		"admin:\n  address:\n    socketAddress:\n      address: 127.0.0.1\n      portValue: 9901\n": {Host: "127.0.0.1", Port: 9901},
		`{"admin":{"address":{"socket_address":{"address":"::1","port_value":9000}}}}`:              {Host: "::1", Port: 9000},
		"admin:\n  address:\n    pipe:\n      path: /tmp/w/kuma-envoy-admin.sock\n":                 {SocketPath: "/tmp/w/kuma-envoy-admin.sock"},
	} {
		if got, ok := adminFromBootstrap([]byte(doc)); !ok || got != want {
			t.Errorf("%q: %+v %v", doc, got, ok)
		}
	}
	if _, ok := adminFromBootstrap([]byte("node: {}\n")); ok {
		t.Error("found an admin in a bootstrap without one")
	}
}
