package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/events/storetest"
	"github.com/jetmesh/jetmesh/services/natsd"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	goleak.VerifyTestMain(m)
}

// testServer is an embedded NATS server with one client connection.
type testServer struct {
	srv *natsd.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

// startServer starts a server on a random port over dir; the test stops it.
func startServer(tb testing.TB, dir string) *testServer {
	tb.Helper()
	cfg := natsd.DefaultConfig()
	cfg.Port = natsd.RandomPort
	cfg.StoreDir = dir
	srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	nc, err := srv.Connect(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ts := &testServer{srv: srv, nc: nc, js: js}
	tb.Cleanup(ts.stop)
	return ts
}

// stop closes the connection and stops the server; it may run twice.
func (ts *testServer) stop() {
	ts.nc.Close()
	_ = ts.srv.Stop(context.Background())
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Stream = "JM_TEST"
	for _, sc := range storetest.Scopes {
		cfg.Subjects = append(cfg.Subjects, sc.Wildcard())
	}
	return cfg
}

func newStore(tb testing.TB, ts *testServer) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, ts.js, testConfig(), storetest.Source, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) events.Store {
		return newStore(t, startServer(t, t.TempDir()))
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func key(name string) events.Key {
	return events.Key{Scope: storetest.Scopes[1], Type: "Dataplane", Mesh: "default", Name: name}
}

// chain appends n upserts to k (after prev, which may be zero) and returns them.
func chain(t *testing.T, s *Store, k events.Key, prev events.Record, n int) []events.Record {
	t.Helper()
	var out []events.Record
	for range n {
		rec, err := s.Append(testCtx(t), events.Change{
			Key: k, Op: events.OpUpsert, ExpectedSequence: prev.Sequence, Revision: prev.Event.Revision + 1,
			Data: []byte(fmt.Sprintf(`{"rev":%d}`, prev.Event.Revision+1)),
		})
		if err != nil {
			t.Fatalf("append %s: %v", k, err)
		}
		out = append(out, rec)
		prev = rec
	}
	return out
}

func tombstone(t *testing.T, s *Store, prev events.Record) events.Record {
	t.Helper()
	rec, err := s.Append(testCtx(t), events.Change{
		Key: prev.Key, Op: events.OpDelete, ExpectedSequence: prev.Sequence, Revision: prev.Event.Revision + 1,
	})
	if err != nil {
		t.Fatalf("delete %s: %v", prev.Key, err)
	}
	return rec
}

func history(t *testing.T, s events.Store, k events.Key) []events.Record {
	t.Helper()
	h, err := s.History(testCtx(t), k)
	if err != nil {
		t.Fatalf("History(%s): %v", k, err)
	}
	return h
}

func readAll(t *testing.T, s events.Store) []events.Record {
	t.Helper()
	var out []events.Record
	if _, err := s.Read(testCtx(t), 1, func(r events.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

func TestCompact(t *testing.T) {
	s := newStore(t, startServer(t, t.TempDir()))
	ctx := testCtx(t)

	// Old events.
	live := chain(t, s, key("live"), events.Record{}, 3)     // keeps its newest
	single := chain(t, s, key("single"), events.Record{}, 1) // unchanged
	gone := chain(t, s, key("gone"), events.Record{}, 2)     // old tombstone: vanishes
	goneDel := tombstone(t, s, gone[1])                      //
	mixed := chain(t, s, key("mixed"), events.Record{}, 2)   // old part goes
	dying := chain(t, s, key("dying"), events.Record{}, 2)   // recent tombstone stays
	lastOld, err := s.stream.GetMsg(ctx, dying[1].Sequence)  // the newest old event
	if err != nil {
		t.Fatal(err)
	}
	_ = goneDel

	// The cutoff lies just after the last old event's storage time; wait (without sleeping a
	// fixed time) until the clock has passed it, so that every later event is recent.
	cutoff := lastOld.Time.Add(time.Nanosecond)
	for !time.Now().After(cutoff) {
	}

	// Recent events.
	mixedNew := chain(t, s, key("mixed"), mixed[1], 2)
	dyingDel := tombstone(t, s, dying[1])
	fresh := chain(t, s, key("fresh"), events.Record{}, 3)
	before := readAll(t, s)

	const maxAge = time.Hour
	now := cutoff.Add(maxAge)
	if err := s.Compact(ctx, 0, now); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, readAll(t, s)); diff != "" {
		t.Fatalf("Compact with max age 0 changed the log (-before +after):\n%s", diff)
	}
	if err := s.Compact(ctx, maxAge, now.Add(-time.Hour)); err != nil { // cutoff before everything
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, readAll(t, s)); diff != "" {
		t.Fatalf("Compact with nothing old changed the log (-before +after):\n%s", diff)
	}

	if err := s.Compact(ctx, maxAge, now); err != nil {
		t.Fatal(err)
	}
	want := map[string][]events.Record{
		"live":   live[2:],
		"single": single,
		"gone":   nil,
		"mixed":  mixedNew,
		"dying":  {dyingDel},
		"fresh":  fresh,
	}
	for name, w := range want {
		if diff := cmp.Diff(w, history(t, s, key(name))); diff != "" {
			t.Errorf("History(%s) after Compact (-want +got):\n%s", name, diff)
		}
	}
	if _, err := s.Last(ctx, key("gone")); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("Last(gone) = %v, want ErrNotFound", err)
	}
	wantAll := append(append(append([]events.Record{}, live[2], single[0]), mixedNew...), dyingDel)
	wantAll = append(wantAll, fresh...)
	after := readAll(t, s)
	if diff := cmp.Diff(wantAll, after); diff != "" {
		t.Errorf("Read after Compact (-want +got):\n%s", diff)
	}

	// Compacting again changes nothing; a purged resource can be created anew.
	if err := s.Compact(ctx, maxAge, now); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(after, readAll(t, s)); diff != "" {
		t.Errorf("second Compact changed the log (-before +after):\n%s", diff)
	}
	if got := chain(t, s, key("gone"), events.Record{}, 1); got[0].Event.Revision != 1 {
		t.Errorf("re-created gone: %+v", got[0])
	}
	// Everything is old now: every resource keeps exactly its newest event, or nothing.
	if err := s.Compact(ctx, maxAge, time.Now().Add(2*maxAge)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"live", "single", "mixed", "fresh", "gone"} {
		if h := history(t, s, key(name)); len(h) != 1 {
			t.Errorf("History(%s) after compacting everything: %d events, want 1", name, len(h))
		}
	}
	if h := history(t, s, key("dying")); len(h) != 0 {
		t.Errorf("History(dying) after compacting everything: %+v, want none", h)
	}
}

func TestLongHistory(t *testing.T) {
	s := newStore(t, startServer(t, t.TempDir()))
	for _, n := range []int{directHistory - 1, directHistory, directHistory + 1, 3 * directHistory} {
		k := key(fmt.Sprintf("long-%d", n))
		var want []events.Record
		prev := events.Record{}
		for i := range n {
			want = append(want, chain(t, s, k, prev, 1)...)
			prev = want[len(want)-1]
			chain(t, s, key(fmt.Sprintf("noise-%d-%d", n, i)), events.Record{}, 1)
		}
		if diff := cmp.Diff(want, history(t, s, k)); diff != "" {
			t.Errorf("History of %d events (-want +got):\n%s", n, diff)
		}
	}
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	s := newStore(t, ts)
	a := chain(t, s, key("a"), events.Record{}, 3)
	del := tombstone(t, s, a[2])
	b := chain(t, s, key("b"), events.Record{}, 2)
	before := readAll(t, s)
	ts.stop()

	s2 := newStore(t, startServer(t, dir))
	if diff := cmp.Diff(append(append([]events.Record{}, a...), del), history(t, s2, key("a"))); diff != "" {
		t.Errorf("History(a) after restart (-want +got):\n%s", diff)
	}
	last, err := s2.Last(testCtx(t), key("b"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b[1], last); diff != "" {
		t.Errorf("Last(b) after restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, readAll(t, s2)); diff != "" {
		t.Errorf("Read after restart (-want +got):\n%s", diff)
	}
	// Concurrency control continues from the stored sequences.
	chain(t, s2, key("b"), b[1], 1)
	if _, err := s2.Append(testCtx(t), events.Change{Key: key("b"), Op: events.OpUpsert,
		ExpectedSequence: b[1].Sequence, Revision: 3, Data: []byte(`{}`)}); !errors.Is(err, events.ErrConflict) {
		t.Errorf("stale append after restart: %v, want ErrConflict", err)
	}
}

func TestUnavailableWhenServerDown(t *testing.T) {
	ts := startServer(t, t.TempDir())
	s := newStore(t, ts)
	rec := chain(t, s, key("a"), events.Record{}, 1)[0]
	if err := ts.srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	const deadline = 300 * time.Millisecond
	calls := map[string]func(ctx context.Context) error{
		"Append": func(ctx context.Context) error {
			_, err := s.Append(ctx, events.Change{Key: key("a"), Op: events.OpUpsert, ExpectedSequence: rec.Sequence,
				Revision: 2, Data: []byte(`{}`)})
			return err
		},
		"Last":         func(ctx context.Context) error { _, err := s.Last(ctx, key("a")); return err },
		"History":      func(ctx context.Context) error { _, err := s.History(ctx, key("a")); return err },
		"LastSequence": func(ctx context.Context) error { _, err := s.LastSequence(ctx); return err },
		"Read": func(ctx context.Context) error {
			_, err := s.Read(ctx, 1, func(events.Record) error { return nil })
			return err
		},
		"Compact": func(ctx context.Context) error { return s.Compact(ctx, time.Hour, time.Now()) },
	}
	check := func(t *testing.T, name string, call func(context.Context) error) {
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		start := time.Now()
		err := call(ctx)
		if !errors.Is(err, events.ErrUnavailable) {
			t.Errorf("%s = %v, want ErrUnavailable", name, err)
		}
		if took := time.Since(start); took > deadline+time.Second {
			t.Errorf("%s took %s, want about the %s deadline", name, took, deadline)
		}
	}
	for name, call := range calls {
		t.Run("reconnecting/"+name, func(t *testing.T) { check(t, name, call) })
	}
	ts.nc.Close()
	for name, call := range calls {
		t.Run("closed/"+name, func(t *testing.T) { check(t, name, call) })
	}
	// Watch ends with the context.
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := s.Watch(ctx, 1, func(events.Record) error { return nil }); err == nil {
		t.Error("Watch on a closed connection returned nil")
	}
}

func TestCorruptEventIsLoud(t *testing.T) {
	ts := startServer(t, t.TempDir())
	s := newStore(t, ts)
	ctx := testCtx(t)
	good := chain(t, s, key("a"), events.Record{}, 1)[0]
	ack, err := ts.js.Publish(ctx, key("b").Subject(), []byte(`{"specversion":"1.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	wantErr := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("sequence %d", ack.Sequence)) {
			t.Errorf("%s = %v, want ErrCorrupt naming sequence %d", what, err, ack.Sequence)
		}
	}
	_, err = s.Last(ctx, key("b"))
	wantErr("Last", err)
	_, err = s.History(ctx, key("b"))
	wantErr("History", err)
	var read []events.Record
	last, err := s.Read(ctx, 1, func(r events.Record) error { read = append(read, r); return nil })
	wantErr("Read", err)
	if diff := cmp.Diff([]events.Record{good}, read); diff != "" || last != good.Sequence {
		t.Errorf("Read before the corrupt event: last %d, (-want +got):\n%s", last, diff)
	}
	err = s.Watch(ctx, 1, func(events.Record) error { return nil })
	wantErr("Watch", err)
}

func TestAppendRefusesKeysOutsideStream(t *testing.T) {
	s := newStore(t, startServer(t, t.TempDir()))
	tooLong := key(strings.Repeat(".", 700)) // 2100 bytes encoded
	for name, k := range map[string]events.Key{
		"other zone": {Scope: events.ZoneScope("zone-2"), Type: "Dataplane", Mesh: "default", Name: "a"},
		"too long":   tooLong,
	} {
		_, err := s.Append(testCtx(t), events.Change{Key: k, Op: events.OpUpsert, Revision: 1, Data: []byte(`{}`)})
		if !errors.Is(err, ErrInvalidChange) {
			t.Errorf("%s: Append = %v, want ErrInvalidChange", name, err)
		}
	}
}

func TestIDReusedForOtherKey(t *testing.T) {
	s := newStore(t, startServer(t, t.TempDir()))
	ctx := testCtx(t)
	c := events.Change{Key: key("a"), Op: events.OpUpsert, Revision: 1, Data: []byte(`{}`), ID: "same-id"}
	if _, err := s.Append(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Key = key("b")
	_, err := s.Append(ctx, c)
	if !errors.Is(err, ErrInvalidChange) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("Append with an id of another key = %v, want ErrInvalidChange", err)
	}
	if h := history(t, s, key("b")); len(h) != 0 {
		t.Fatalf("History(b) = %+v, want none", h)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	ts := startServer(t, t.TempDir())
	tests := map[string]func(*Config){
		"no stream":        func(c *Config) { c.Stream = "" },
		"dot in stream":    func(c *Config) { c.Stream = "a.b" },
		"no subjects":      func(c *Config) { c.Subjects = nil },
		"bad subject":      func(c *Config) { c.Subjects = []string{"jm.>.x"} },
		"zero replicas":    func(c *Config) { c.Replicas = 0 },
		"zero duplicates":  func(c *Config) { c.Duplicates = 0 },
		"negative max age": func(c *Config) { c.HistoryMaxAge = -time.Second },
	}
	for name, mutate := range tests {
		cfg := testConfig()
		mutate(&cfg)
		if _, err := New(testCtx(t), ts.js, cfg, "src", nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(testCtx(t), ts.js, testConfig(), "", nil); err == nil {
		t.Error("New with an empty source succeeded")
	}
}

func TestStreamConfig(t *testing.T) {
	ts := startServer(t, t.TempDir())
	s := newStore(t, ts)
	info, err := s.stream.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.MaxAge != 0 || c.Discard != jetstream.DiscardNew || c.MaxMsgs != -1 || c.MaxBytes != -1 ||
		c.MaxMsgsPerSubject != -1 || !c.AllowDirect || c.Duplicates != DefaultDuplicates ||
		c.Storage != jetstream.FileStorage || c.Replicas != 1 || !c.DenyDelete || c.DenyPurge {
		t.Errorf("stream config %+v", c)
	}
	// New on an existing stream keeps working (CreateOrUpdate).
	newStore(t, ts)
}

func TestMatchSubject(t *testing.T) {
	tests := []struct {
		filter, subject string
		want            bool
	}{
		{"jm.zone.z.>", "jm.zone.z.T.m.n", true},
		{"jm.zone.z.>", "jm.zone.z", false},
		{"jm.zone.z.>", "jm.zone.y.T.m.n", false},
		{"jm.*.z.>", "jm.zone.z.T", true},
		{"jm.global.*.*.*", "jm.global.T.m.n", true},
		{"jm.global.*.*.*", "jm.global.T.m.n.x", false},
		{"jm.global.*.*.*", "jm.global.T.m", false},
		{">", "a", true},
	}
	for _, tt := range tests {
		if got := matchSubject(tt.filter, tt.subject); got != tt.want {
			t.Errorf("matchSubject(%q, %q) = %v, want %v", tt.filter, tt.subject, got, tt.want)
		}
	}
}

func TestWatchSurvivesServerRestart(t *testing.T) {
	// A fixed port, so that the client reconnects to the restarted server over TCP.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	start := func() *natsd.Server {
		cfg := natsd.DefaultConfig()
		cfg.Port, cfg.StoreDir = port, dir
		srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Stop(context.Background()) })
		return srv
	}
	srv := start()
	reconnected := make(chan struct{}, 1)
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(testCtx(t), js, testConfig(), storetest.Source, nil)
	if err != nil {
		t.Fatal(err)
	}

	got := make(chan events.Record, 100)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, 1, func(r events.Record) error { got <- r; return nil }) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch = %v, want context.Canceled", err)
		}
	}()
	receive := func(want []events.Record) {
		t.Helper()
		for i, w := range want {
			select {
			case r := <-got:
				if diff := cmp.Diff(w, r); diff != "" {
					t.Fatalf("event %d (-want +got):\n%s", i, diff)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("event %d of %d not delivered", i, len(want))
			}
		}
	}

	before := chain(t, s, key("a"), events.Record{}, 2)
	receive(before)
	if err := srv.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	start()
	select { // appends fail until the client has reconnected
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("client did not reconnect")
	}
	after := chain(t, s, key("a"), before[1], 2)
	receive(after) // no loss, and no duplicate of the events before the restart
	receive(chain(t, s, key("b"), events.Record{}, 1))
}
