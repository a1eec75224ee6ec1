package natsd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair("testdata/leaf.crt", "testdata/leaf.key")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// zoneGrant is zonesync.Grant for a global whose replicated stream is G (zonesync imports
// this package, so the test cannot call it).
func zoneGrant(zone string) LeafGrant {
	subjects := []string{
		"$JS.global.API.CONSUMER.CREATE.G",
		"$JS.global.API.CONSUMER.CREATE.G.>",
		"$JS.global.API.CONSUMER.INFO.G.>",
		"$JS.global.API.CONSUMER.DELETE.G.>",
		"$JS." + zone + ".API.>",
		"$JSC.R.>",
		"$JS.FC.>",
		"$JS.ACK.>",
		"jm.link." + zone + ".>",
		"_INBOX.>",
	}
	return LeafGrant{Subjects: subjects}
}

func TestLeafMirrorsBothWays(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TRACE") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	hubCfg := testConfig(t)
	hubCfg.Domain = "global"
	hubCfg.ServerName = "global"
	hubCfg.Trace = os.Getenv("TRACE") != ""
	hubCfg.Leaf = &LeafListen{Host: "127.0.0.1", Port: RandomPort, TLS: testTLS(t),
		Authenticate: func(user, password string) (LeafGrant, error) {
			if user != "z1" || password != "secret" {
				return LeafGrant{}, errors.New("bad credentials")
			}
			return zoneGrant(user), nil
		}}
	hub, err := New(hubCfg, logger.With("server", "hub"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })

	leafCfg := testConfig(t)
	leafCfg.Domain = "z1"
	leafCfg.ServerName = "z1"
	leafCfg.Trace = os.Getenv("TRACE") != ""
	u, _ := url.Parse("tls://127.0.0.1:" + strconv.Itoa(hub.LeafPort()))
	leafCfg.Remotes = []LeafRemote{{URL: u, Username: "z1", Password: "secret",
		TLS: &tls.Config{InsecureSkipVerify: true}}}
	leafSrv, err := New(leafCfg, logger.With("server", "leaf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := leafSrv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leafSrv.Stop(context.Background()) })
	leaf := leafSrv

	hnc, err := hub.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hnc.Close()
	lnc, err := leaf.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lnc.Close()
	hjs, _ := jetstream.New(hnc)
	ljs, _ := jetstream.New(lnc)
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "G", Subjects: []string{"jm.global.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ljs.CreateStream(ctx, jetstream.StreamConfig{Name: "Z", Subjects: []string{"jm.zone.z1.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ljs.CreateStream(ctx, jetstream.StreamConfig{Name: "G", Mirror: &jetstream.StreamSource{Name: "G",
		External: &jetstream.ExternalStream{APIPrefix: "$JS.global.API", DeliverPrefix: "jm.link.z1.in"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "Z_z1", Mirror: &jetstream.StreamSource{Name: "Z",
		External: &jetstream.ExternalStream{APIPrefix: "$JS.z1.API", DeliverPrefix: "jm.link.z1.out"}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := hjs.Publish(ctx, "jm.global.Mesh.~.m"+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := ljs.Publish(ctx, "jm.zone.z1.Dataplane.m.d"+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitMsgs := func(js jetstream.JetStream, stream string, n uint64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, err := js.Stream(ctx, stream)
			if err == nil {
				info, err := s.Info(ctx)
				if err == nil && info.State.Msgs == n {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream %s: want %d messages (err %v)", stream, n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitMsgs(ljs, "G", 3)
	waitMsgs(hjs, "Z_z1", 3)

	// The zone publishes on a global subject through the link: it must not land, neither as
	// a core publish nor as a JetStream publish expecting the global stream.
	if err := lnc.Publish("jm.global.Mesh.~.evil", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := lnc.Flush(); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := ljs.Publish(short, "jm.global.Mesh.~.evil2", []byte("x"), jetstream.WithExpectStream("G")); err == nil {
		t.Fatal("a zone's JetStream publish on a global subject was acknowledged")
	}
	// A message the hub publishes after the attempts reaches the zone's mirror: had the evil
	// ones landed in the hub's stream, the mirror would hold them too.
	if _, err := hjs.Publish(ctx, "jm.global.Mesh.~.late", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitMsgs(ljs, "G", 4)
	waitMsgs(hjs, "G", 4)

	// The zone cannot read a stream of the global it does not replicate (another zone's log),
	// even with the JetStream API through the link.
	if _, err := hjs.CreateStream(ctx, jetstream.StreamConfig{Name: "Z_z2", Subjects: []string{"jm.zone.z2.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hjs.Publish(ctx, "jm.zone.z2.Dataplane.m.secret", []byte("x")); err != nil {
		t.Fatal(err)
	}
	gjs, err := jetstream.NewWithDomain(lnc, "global")
	if err != nil {
		t.Fatal(err)
	}
	short2, cancelShort2 := context.WithTimeout(ctx, time.Second)
	defer cancelShort2()
	if c, err := gjs.CreateOrUpdateConsumer(short2, "Z_z2", jetstream.ConsumerConfig{}); err == nil {
		if msg, err := c.Next(jetstream.FetchMaxWait(time.Second)); err == nil {
			t.Fatalf("a zone read another zone's log through its link: %s", msg.Subject())
		}
		t.Fatal("a zone created a consumer on a global stream it does not replicate")
	}
}

func TestLeafRefusesBadCredentials(t *testing.T) {
	refused := make(chan string, 10)
	hubCfg := testConfig(t)
	hubCfg.Domain = "global"
	hubCfg.Leaf = &LeafListen{Host: "127.0.0.1", Port: RandomPort, TLS: testTLS(t),
		Authenticate: func(user, password string) (LeafGrant, error) {
			return LeafGrant{}, errors.New("no such zone")
		},
		OnRefused: func(user string, _ error) { refused <- user }}
	hub := startServer(t, hubCfg)
	leafCfg := testConfig(t)
	leafCfg.Domain = "z1"
	u, _ := url.Parse("tls://127.0.0.1:" + strconv.Itoa(hub.LeafPort()))
	leafCfg.Remotes = []LeafRemote{{URL: u, Username: "z1", Password: "wrong",
		TLS: &tls.Config{InsecureSkipVerify: true}}}
	startServer(t, leafCfg)
	select {
	case user := <-refused:
		if user != "z1" {
			t.Errorf("refused user %q, want z1", user)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the hub never refused the link")
	}
	links, err := hub.LeafLinks()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 0 {
		t.Errorf("links = %v, want none", links)
	}
}
