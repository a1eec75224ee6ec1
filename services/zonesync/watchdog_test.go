package zonesync

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/services/natsd"
)

func startJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	cfg := natsd.DefaultConfig()
	cfg.Port = natsd.RandomPort
	cfg.StoreDir = t.TempDir()
	srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	nc, err := srv.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func lastSeq(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.LastSeq
}

func waitSeq(t *testing.T, js jetstream.JetStream, stream string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for lastSeq(t, js, stream) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: last sequence %d, want %d", stream, lastSeq(t, js, stream), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The watchdog recreates a mirror that is behind its origin and not moving, and leaves one
// that has caught up alone. The stall is staged with an origin position the mirror cannot
// reach (a real stall needs a link flap timed against nats-server's internal timers); the
// recovery runs against a real JetStream mirror.
func TestWatchdogRecreatesStalledMirror(t *testing.T) {
	js := startJS(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORIGIN", Subjects: []string{"o.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx, "o.x", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	cfg := jsstore.DefaultConfig()
	cfg.Stream = "M"
	cfg.Mirror = &jetstream.StreamSource{Name: "ORIGIN"}
	if _, err := jsstore.New(ctx, js, cfg, "test", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	waitSeq(t, js, "M", 3)

	origin := uint64(3)
	w := NewWatchdog(js, func(context.Context) map[string]uint64 { return map[string]uint64{"M": origin} }, 0,
		slog.New(slog.DiscardHandler))
	w.Watch("M", "ORIGIN", cfg)
	for i := 0; i < 3; i++ {
		if err := w.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := w.Status()[0]; st.Stalled || st.Recoveries != 0 || st.Lag != 0 || st.ReplicaSequence != 3 {
		t.Fatalf("caught-up mirror: %+v", st)
	}

	origin = 10 // the origin is ahead and the mirror does not move
	if err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Status()[0]
	if st.Recoveries != 1 || st.Recovered == nil {
		t.Fatalf("stalled mirror not recovered: %+v", st)
	}
	// The recreated mirror copies the origin again, with the origin's sequences.
	waitSeq(t, js, "M", 3)
}
