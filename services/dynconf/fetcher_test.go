package dynconf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// envoy plays the control plane's _kuma:dynamicconfig listener: GET <path> answers the
// document with the SHA-256 of its body as ETag, or 304 to If-None-Match with that ETag.
type envoy struct {
	socket string
	mu     sync.Mutex
	docs   map[string]string
	status int // when not 0, every request gets it
	full   int // 200 answers
	not    int // 304 answers
	asked  int
	srv    *http.Server
	done   chan struct{}
}

func newEnvoy(t *testing.T, dir string) *envoy {
	t.Helper()
	return &envoy{socket: SocketPath(dir), docs: map[string]string{}}
}

func (e *envoy) listen(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: time.Second}
	e.done = make(chan struct{})
	go func() { defer close(e.done); _ = e.srv.Serve(ln) }()
	t.Cleanup(func() { _ = e.srv.Close(); <-e.done })
}

func (e *envoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asked++
	if e.status != 0 {
		w.WriteHeader(e.status)
		return
	}
	doc, ok := e.docs[r.URL.Path]
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256([]byte(doc))
	etag := hex.EncodeToString(sum[:])
	if r.Header.Get("If-None-Match") == etag {
		e.not++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	e.full++
	w.Header().Set("Etag", etag)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, doc)
}

func (e *envoy) set(path, doc string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.docs[path] = doc
}

func (e *envoy) setStatus(s int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status = s
}

func (e *envoy) counts() (asked, full, notModified int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asked, e.full, e.not
}

// recorder is a handler that remembers what it applied and fails while failing is set.
type recorder struct {
	mu      sync.Mutex
	applied []string
	failing int
}

func (r *recorder) apply(_ context.Context, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing > 0 {
		r.failing--
		return errors.New("refused")
	}
	r.applied = append(r.applied, string(b))
	return nil
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.applied...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts f in the background; cleanup cancels it and waits.
func run(t *testing.T, f *Fetcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("fetcher did not stop")
		}
	})
}

func TestAppliesOnlyChangedDocuments(t *testing.T) {
	e := newEnvoy(t, t.TempDir())
	e.set("/dns", `{"records":[],"ttl":30}`)
	e.set("/other", `{"x":1}`)
	e.listen(t)
	f := New(e.socket, 5*time.Millisecond, testLogger(t))
	dnsDocs, otherDocs := &recorder{}, &recorder{}
	if err := f.Handle("/dns", dnsDocs.apply); err != nil {
		t.Fatal(err)
	}
	if err := f.Handle("/other", otherDocs.apply); err != nil {
		t.Fatal(err)
	}
	run(t, f)

	// Many polls of an unchanged document: applied once, the rest answered 304.
	eventually(t, "ten 304s", func() bool { _, _, n := e.counts(); return n >= 10 })
	if got := dnsDocs.get(); len(got) != 1 || got[0] != `{"records":[],"ttl":30}` {
		t.Fatalf("/dns applied %q, want the document once", got)
	}
	if got := otherDocs.get(); len(got) != 1 || got[0] != `{"x":1}` {
		t.Fatalf("/other applied %q, want its own document once", got)
	}

	changed := `{"records":[{"name":"a.mesh","ips":["240.0.0.1"]}],"ttl":30}`
	e.set("/dns", changed)
	eventually(t, "the changed document", func() bool { return len(dnsDocs.get()) == 2 })
	_, _, before := e.counts()
	eventually(t, "more 304s", func() bool { _, _, n := e.counts(); return n >= before+10 })
	if got := dnsDocs.get(); len(got) != 2 || got[1] != changed {
		t.Fatalf("/dns applied %q, want the change once", got)
	}
	if _, full, _ := e.counts(); full != 3 {
		t.Fatalf("%d full answers, want 3 (two /dns documents and one /other)", full)
	}
}

func TestRefetchesAfterAFailedApply(t *testing.T) {
	e := newEnvoy(t, t.TempDir())
	e.set("/dns", `{"ttl":30}`)
	e.listen(t)
	f := New(e.socket, 5*time.Millisecond, testLogger(t))
	rec := &recorder{failing: 2}
	if err := f.Handle("/dns", rec.apply); err != nil {
		t.Fatal(err)
	}
	run(t, f)
	// The failed document is not remembered, so the same one is offered again in full.
	eventually(t, "the document applied", func() bool { return len(rec.get()) == 1 })
	if _, full, _ := e.counts(); full != 3 {
		t.Fatalf("%d full answers, want 3 (two refused, one applied)", full)
	}
}

func TestWaitsForTheSocket(t *testing.T) {
	e := newEnvoy(t, t.TempDir())
	e.set("/dns", `{"ttl":30}`)
	logs := &logCounter{Handler: testLogger(t).Handler(), counts: map[string]int{}}
	f := New(e.socket, 5*time.Millisecond, slog.New(logs))
	rec := &recorder{}
	if err := f.Handle("/dns", rec.apply); err != nil {
		t.Fatal(err)
	}
	run(t, f)
	const waiting = "dynamic configuration socket not served yet"
	eventually(t, "polls before the socket exists", func() bool { return logs.count(waiting) >= 2 })
	// A stale socket file nobody listens on, as Envoy leaves behind: not an error either.
	ln, err := net.Listen("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	n := logs.count(waiting)
	eventually(t, "polls of a stale socket", func() bool { return logs.count(waiting) >= n+2 })
	if err := os.Remove(e.socket); err != nil {
		t.Fatal(err)
	}
	e.listen(t)
	eventually(t, "the document once Envoy listens", func() bool { return len(rec.get()) == 1 })
	if w := logs.count("dynamic configuration fetch failed"); w != 0 {
		t.Fatalf("%d fetch failures logged while Envoy was not listening yet", w)
	}
}

// logCounter counts log messages by text.
type logCounter struct {
	slog.Handler
	mu     sync.Mutex
	counts map[string]int
}

func (l *logCounter) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	l.counts[r.Message]++
	l.mu.Unlock()
	return l.Handler.Handle(ctx, r)
}

func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[msg]
}

func TestNotFoundAndErrorsApplyNothing(t *testing.T) {
	e := newEnvoy(t, t.TempDir())
	e.listen(t)
	f := New(e.socket, 5*time.Millisecond, testLogger(t))
	rec := &recorder{}
	if err := f.Handle("/dns", rec.apply); err != nil {
		t.Fatal(err)
	}
	run(t, f)
	eventually(t, "polls of a path not served", func() bool { a, _, _ := e.counts(); return a >= 3 })
	e.setStatus(http.StatusInternalServerError)
	asked, _, _ := e.counts()
	eventually(t, "polls answered 500", func() bool { a, _, _ := e.counts(); return a >= asked+2 })
	e.setStatus(0)
	e.set("/dns", `{"ttl":1}`)
	eventually(t, "the document after the errors", func() bool { return len(rec.get()) == 1 })
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	f := New("/nonexistent.sock", time.Second, testLogger(t))
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 50: 30 * time.Second} {
		if got := f.backoff(failures); got != want {
			t.Errorf("backoff after %d failures: %s, want %s", failures, got, want)
		}
	}
}

func TestSocketPath(t *testing.T) {
	if got := SocketPath("/tmp/kuma-dp-123"); got != "/tmp/kuma-dp-123/kuma-mesh-metric-config.sock" {
		t.Fatalf("got %s", got)
	}
	long := "/" + strings.Repeat("d", 120)
	got := SocketPath(long)
	if want := filepath.Join(long, "kuma-mesh-metric-config")[:98] + ".sock"; got != want || len(got) != 103 {
		t.Fatalf("got %s (%d bytes)", got, len(got))
	}
}

func TestHandleRejectsBadPaths(t *testing.T) {
	f := New("/nonexistent.sock", time.Second, testLogger(t))
	noop := func(context.Context, io.Reader) error { return nil }
	if err := f.Handle("dns", noop); err == nil {
		t.Error("accepted a path without /")
	}
	if err := f.Handle("/dns", noop); err != nil {
		t.Fatal(err)
	}
	if err := f.Handle("/dns", noop); err == nil {
		t.Error("accepted /dns twice")
	}
}
