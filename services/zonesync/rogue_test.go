package zonesync_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/natsd"
	"github.com/jetmesh/jetmesh/services/zonesync"
)

// A hand-crafted NATS server holding zone-1's valid credentials links to the global, and a
// client on it tries what a compromised zone would: write a global policy, write another
// zone's dataplane, read or delete the global's streams, read another zone's log. The link
// carries only what the mirrors need, so each request goes unanswered; a consumer request on
// the stream zones mirror is answered, which proves the link was up while the others failed.
func TestRogueZoneLinkIsConfined(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	nc := rogueZone(t, g, port, "zone-1", zoneToken(t, g, "zone-1"))

	api := "$JS." + zonesync.GlobalDomain + ".API."
	eventually(t, "the rogue link answers a mirror's consumer request", func() (bool, string) {
		_, err := nc.Request(api+"CONSUMER.CREATE."+zonesync.GlobalStream, []byte("{}"), time.Second)
		return err == nil, errString(err)
	})
	policy := []byte(`{"type":"MeshTrafficPermission","mesh":"demo","name":"evil"}`)
	for what, subject := range map[string]string{
		"write a global policy":           events.Key{Scope: events.GlobalScope, Type: "MeshTrafficPermission", Mesh: "demo", Name: "evil"}.Subject(),
		"write zone-2's dataplane":        events.Key{Scope: events.ZoneScope("zone-2"), Type: "Dataplane", Mesh: "demo", Name: "dp"}.Subject(),
		"read the global stream's info":   api + "STREAM.INFO." + zonesync.GlobalStream,
		"delete a global event":           api + "STREAM.MSG.DELETE." + zonesync.GlobalStream,
		"purge the global stream":         api + "STREAM.PURGE." + zonesync.GlobalStream,
		"read zone-2's log on the global": api + "CONSUMER.CREATE." + zonesync.ZoneStream("zone-2"),
		"list the global's streams":       api + "STREAM.LIST",
		"read the signing key vault":      api + "DIRECT.GET.KV_JETMESH_SIGNING_KEYS.$KV.JETMESH_SIGNING_KEYS.zone-token-signing-key-1",
		"get a vault message":             api + "STREAM.MSG.GET.KV_JETMESH_SIGNING_KEYS",
		"consume the vault":               api + "CONSUMER.CREATE.KV_JETMESH_SIGNING_KEYS",
	} {
		_, err := nc.Request(subject, policy, 2*time.Second)
		if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("%s (%s): answered (%v), want no answer", what, subject, err)
		}
	}
	if code, body := call(t, http.MethodGet, g.URL+"/meshes/demo/meshtrafficpermissions/evil", ""); code != http.StatusNotFound {
		t.Errorf("the rogue zone wrote a global policy: %d %s", code, body)
	}
}

// rogueZone starts a bare NATS server linked to the global at port as zone with token, and
// returns a client connection to it.
func rogueZone(t *testing.T, g *cptest.CP, port int, zone, token string) *nats.Conn {
	t.Helper()
	pem, err := os.ReadFile(g.KDSCACertFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := natsd.DefaultConfig()
	cfg.Port, cfg.StoreDir, cfg.Domain = natsd.RandomPort, t.TempDir(), zone
	u, _ := url.Parse("tls://127.0.0.1:" + strconv.Itoa(port))
	cfg.Remotes = []natsd.LeafRemote{{URL: u, Username: zone, Password: token,
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}}
	s, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	nc, err := s.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
