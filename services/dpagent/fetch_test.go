package dpagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// fakeCP is a control plane's /bootstrap: 404 (Dataplane not found yet) for the first
// notFound requests, then status/body when set, else 200 with a bootstrap from generate.
type fakeCP struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []bootstrap.Request
	headers  []http.Header
	notFound int
	status   int
	body     string
	generate func(req bootstrap.Request) []byte
}

func newFakeCP(t *testing.T) *fakeCP {
	f := &fakeCP{generate: func(bootstrap.Request) []byte { return []byte("admin: {}\n") }}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake failures are expected
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCP) serve(w http.ResponseWriter, r *http.Request) {
	var req bootstrap.Request
	if r.URL.Path != "/bootstrap" || r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.headers = append(f.headers, r.Header.Clone())
	n, status, body := len(f.requests), f.status, f.body
	f.mu.Unlock()
	switch {
	case n <= f.notFound:
		w.WriteHeader(http.StatusNotFound)
	case status != 0:
		w.Header().Set("content-type", "text/plain")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	default:
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(bootstrap.Response{Bootstrap: f.generate(req)})
	}
}

func (f *fakeCP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// caFile writes the server's self-signed certificate, the CA to trust it by.
func (f *fakeCP) caFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, path, f.srv.Certificate().Raw)
	return path
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// otherCA is a CA that signed nothing the server uses.
func otherCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "someone else's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	writePEM(t, path, der)
	return string(must(os.ReadFile(path)))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func fetchConfig(t *testing.T, cp *fakeCP) *Config {
	c := DefaultConfig()
	c.CPAddress = cp.srv.URL
	c.CACert = string(must(os.ReadFile(cp.caFile(t))))
	c.RetryBackoff, c.RetryMaxDuration = 5*time.Millisecond, 10*time.Second
	return &c
}

func fetch(t *testing.T, c *Config) (*bootstrap.Response, error) {
	t.Helper()
	f, err := NewFetcher(c, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return f.Fetch(ctx, bootstrap.Request{Mesh: "default", Name: "dp-1", ProxyType: "dataplane"})
}

func TestFetchRetriesUntilDataplaneExists(t *testing.T) {
	cp := newFakeCP(t)
	cp.notFound = 3
	c := fetchConfig(t, cp)
	c.TokenPath = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(c.TokenPath, []byte("  jwt.token.sig\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := fetch(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Bootstrap) != "admin: {}\n" || cp.count() != 4 {
		t.Errorf("bootstrap %q after %d requests, want 4", resp.Bootstrap, cp.count())
	}
	h, req := cp.headers[3], cp.requests[3]
	if h.Get("accept") != "application/json" || h.Get("content-type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	if req.DataplaneToken != "jwt.token.sig" || req.Name != "dp-1" {
		t.Errorf("request %+v", req)
	}
}

func TestFetchFailsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"422 carries the server's message", bootstrap.TokenRequiredMessage, http.StatusUnprocessableEntity,
			"the control plane rejected the bootstrap request (422): Dataplane Token is required."},
		{"400 folds lines", bootstrap.NotCAMessage, http.StatusBadRequest, "is set to 'false'). Provide CA"},
		{"404 with a body is the wrong port", "404 page not found\n", http.StatusNotFound, "DP server port (5678 by default)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := newFakeCP(t)
			cp.status, cp.body = tc.status, tc.body
			_, err := fetch(t, fetchConfig(t, cp))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
			if cp.count() != 1 {
				t.Errorf("%d requests, want 1 (no retries)", cp.count())
			}
		})
	}
}

func TestFetchVerifiesTheControlPlane(t *testing.T) {
	for name, ca := range map[string]func(*testing.T) string{
		"wrong CA":             otherCA,
		"no CA (system roots)": func(*testing.T) string { return "" },
	} {
		t.Run(name, func(t *testing.T) {
			cp := newFakeCP(t)
			c := fetchConfig(t, cp)
			c.CACert = ca(t)
			_, err := fetch(t, c)
			if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "--ca-cert-file") {
				t.Errorf("error %v", err)
			}
			if cp.count() != 0 {
				t.Errorf("%d requests reached the server", cp.count())
			}
		})
	}
	t.Run("skip verify", func(t *testing.T) {
		cp := newFakeCP(t)
		c := fetchConfig(t, cp)
		c.CACert, c.SkipVerify = "", true
		if _, err := fetch(t, c); err != nil {
			t.Error(err)
		}
	})
}

func TestFetchRetriesServerErrorsAndGivesUp(t *testing.T) {
	cp := newFakeCP(t)
	cp.status, cp.body = http.StatusServiceUnavailable, "starting"
	c := fetchConfig(t, cp)
	// A budget that holds many 10ms back-offs even on a loaded machine, where one request can
	// take longer than a tight budget (it did, under CI-like load, with 50ms).
	c.RetryBackoff, c.RetryMaxDuration = 10*time.Millisecond, 2*time.Second
	_, err := fetch(t, c)
	if err == nil || !strings.Contains(err.Error(), "gave up after") || !strings.Contains(err.Error(), "unexpected status 503") {
		t.Errorf("error %v", err)
	}
	if cp.count() < 2 {
		t.Errorf("%d requests, want retries", cp.count())
	}
}

func TestFetchRetriesConnectionErrors(t *testing.T) {
	c := DefaultConfig()
	c.CPAddress = fmt.Sprintf("https://127.0.0.1:%d", freePort(t))
	c.RetryBackoff, c.RetryMaxDuration = 5*time.Millisecond, 50*time.Millisecond
	_, err := fetch(t, &c)
	if err == nil || !strings.Contains(err.Error(), "gave up after") || strings.Contains(err.Error(), "gave up after 1 attempts") {
		t.Errorf("error %v", err)
	}
}

func TestFetchStopsWithContext(t *testing.T) {
	cp := newFakeCP(t)
	cp.notFound = 1 << 30
	c := fetchConfig(t, cp)
	c.RetryBackoff = time.Hour
	f, err := NewFetcher(c, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.Fetch(ctx, bootstrap.Request{Name: "n"}); done <- err }()
	eventually(t, 10*time.Second, "the first attempt", func() bool { return cp.count() == 1 })
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch ignored the cancelled context")
	}
}
