package controlplane_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/natsd"
)

// With nats.url set, the CP uses that server (here a separate JetStream server) instead of
// starting its own, and its state lives there across CP restarts.
func TestExternalNATS(t *testing.T) {
	cfg := natsd.DefaultConfig()
	cfg.Port, cfg.StoreDir = natsd.RandomPort, t.TempDir()
	srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) }) // after the CPs' cleanups
	external := func(c *controlplane.Config) { c.NATS.URL = srv.ClientURL() }

	cp := cptest.Start(t, "", external)
	req, _ := http.NewRequest(http.MethodPut, cp.URL+"/meshes/shared", strings.NewReader(`{"type":"Mesh","name":"shared"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	cp.Stop(t)

	// A new CP with an empty data directory sees the mesh: the state is in the external server.
	cp2 := cptest.Start(t, "", external)
	resp, err = http.Get(cp2.URL + "/meshes/shared")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("mesh not found through the external NATS server: %d", resp.StatusCode)
	}
}
