package dpagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// An admin on a unix socket (kuma-cp 2.14's default): the agent drains through it and the
// readiness reporter relays Envoy's own /ready.
func TestAdminOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan string, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- r.Method + " " + r.URL.RequestURI()
		if r.URL.Path == "/ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("PRE_INITIALIZING\n"))
		}
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Shutdown(context.Background())
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()

	admin := newAdminClient(adminAddress{SocketPath: sock})
	if err := admin.post(context.Background(), "/healthcheck/fail"); err != nil {
		t.Fatal(err)
	}
	if got := <-calls; got != "POST /healthcheck/fail" {
		t.Errorf("admin got %q", got)
	}

	port := freePort(t)
	ready, err := startReadiness("127.0.0.1", port, admin, true, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ready.stop(context.Background())
	code, body := getReady(t, port)
	if code != http.StatusServiceUnavailable || body != "PRE_INITIALIZING\n" || <-calls != "GET /ready" {
		t.Errorf("relayed /ready: %d %q", code, body)
	}
	ready.setTerminating()
	if code, body := getReady(t, port); code != http.StatusServiceUnavailable || body != "TERMINATING" {
		t.Errorf("terminating /ready: %d %q", code, body)
	}
	if _, err := startReadiness("127.0.0.1", port, admin, true, nil, testLogger(t)); err == nil {
		t.Error("a busy readiness port should fail the start")
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/stats", port))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("only /ready is served, got %d for /stats", resp.StatusCode)
	}
}
