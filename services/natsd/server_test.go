package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Port = RandomPort
	cfg.StoreDir = t.TempDir()
	return cfg
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestDefaultConfig(t *testing.T) {
	want := Config{Host: "127.0.0.1", Port: 5690, SyncAlways: true, StartTimeout: 10 * time.Second}
	if diff := cmp.Diff(want, DefaultConfig()); diff != "" {
		t.Errorf("DefaultConfig() mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	valid.StoreDir = "/tmp/x"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "defaults with store dir", mutate: func(*Config) {}},
		{name: "random port", mutate: func(c *Config) { c.Port = RandomPort }},
		{name: "port zero", mutate: func(c *Config) { c.Port = 0 }, wantErr: "port 0"},
		{name: "port too large", mutate: func(c *Config) { c.Port = 70000 }, wantErr: "out of range"},
		{name: "port below -1", mutate: func(c *Config) { c.Port = -2 }, wantErr: "out of range"},
		{name: "no store dir", mutate: func(c *Config) { c.StoreDir = "" }, wantErr: "storeDir is required"},
		{name: "no host", mutate: func(c *Config) { c.Host = "" }, wantErr: "host is required"},
		{name: "negative max store", mutate: func(c *Config) { c.MaxStore = -1 }, wantErr: "must not be negative"},
		{name: "domain", mutate: func(c *Config) { c.Domain = "zone-1" }},
		{name: "dotted domain", mutate: func(c *Config) { c.Domain = "a.b" }, wantErr: "domain"},
		{name: "no start timeout", mutate: func(c *Config) { c.StartTimeout = 0 }, wantErr: "startTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTwoServersOnRandomPorts(t *testing.T) {
	a := startServer(t, testConfig(t))
	b := startServer(t, testConfig(t))
	if a.ClientURL() == b.ClientURL() {
		t.Fatalf("both servers at %s", a.ClientURL())
	}
	for _, s := range []*Server{a, b} {
		if strings.HasSuffix(s.ClientURL(), ":4222") || strings.HasSuffix(s.ClientURL(), ":0") {
			t.Fatalf("ClientURL() = %s, want the real random port", s.ClientURL())
		}
		// Over TCP, as another process would connect.
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatalf("connect %s: %v", s.ClientURL(), err)
		}
		checkJetStream(t, nc)
		nc.Close()
		// In process.
		nc, err = s.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkJetStream(t, nc)
		nc.Close()
	}
}

// checkJetStream writes and reads one message through a file stream.
func checkJetStream(t *testing.T, nc *nats.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, "t.1", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "hello" {
		t.Fatalf("read %q, want hello", msg.Data)
	}
}

func TestTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	cfg := testConfig(t)
	cfg.Port = port
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Start(context.Background())
	if err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("Start on a taken port succeeded")
	}
	want := fmt.Sprintf("embedded NATS: listen 127.0.0.1:%d: address already in use", port)
	if err.Error() != want {
		t.Errorf("Start() error = %q, want %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("errors.Is(%v, EADDRINUSE) = false", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Start took %s to fail, want fast", d)
	}
	// Stop after a failed Start must not hang.
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartTwice(t *testing.T) {
	s := startServer(t, testConfig(t))
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
}

// recordHandler keeps the level and "log" attribute of every record.
type recordHandler struct {
	got *[]string
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "log" {
			*h.got = append(*h.got, r.Level.String()+" "+a.Value.String())
		}
		return true
	})
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func TestLogAdapterLevels(t *testing.T) {
	var got []string
	la := &logAdapter{logger: slog.New(recordHandler{got: &got})}
	la.Noticef("notice %d", 1)
	la.Warnf("warn %d", 2)
	la.Errorf("error %d", 3)
	la.Fatalf("fatal %d", 4)
	la.Fatalf("fatal %d", 5)
	la.Debugf("debug %d", 6)
	la.Tracef("trace %d", 7)
	// Notices are demoted to debug: see Noticef.
	want := []string{"DEBUG notice 1", "WARN warn 2", "ERROR error 3", "ERROR fatal 4", "ERROR fatal 5",
		"DEBUG debug 6", "DEBUG trace 7"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged (-want +got):\n%s", diff)
	}
	if err := la.fatal(); err == nil || err.Error() != "fatal 4" {
		t.Errorf("fatal() = %v, want the first fatal message", err)
	}
}

func TestStoreDirLocked(t *testing.T) {
	cfg := testConfig(t)
	startServer(t, cfg)
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("a second server started on the same store dir")
	}
	want := fmt.Sprintf("embedded NATS: store dir %s is used by another server", cfg.StoreDir)
	if err.Error() != want {
		t.Errorf("Start() error = %q, want %q", err, want)
	}
}

func TestStoreDirReusableAfterStop(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	startServer(t, cfg) // the lock was released
}

func TestDomain(t *testing.T) {
	cfg := testConfig(t)
	cfg.Domain = "zone-1"
	s := startServer(t, cfg)
	nc, err := s.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, "zone-1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := js.AccountInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Domain != "zone-1" {
		t.Fatalf("JetStream domain %q, want zone-1", info.Domain)
	}
}
