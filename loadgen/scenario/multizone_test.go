package scenario

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// The multizone scenario against a real global and two zones in-process: policies written on
// the global reach zone A's proxies, and dataplanes joining zone B reach zone A's consumer
// through zone B's ingress.
func TestMultiZoneAgainstInProcessCPs(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	ctx := context.Background()
	gc := kumaapi.New(g.URL, 1)
	defer gc.Close()
	var zones []*cptest.CP
	for _, name := range []string{ZoneA, ZoneB} {
		token, err := gc.ZoneToken(ctx, name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, cptest.Start(t, "", cptest.Zone(name, port, g.KDSCACertFile(), token)))
	}
	za, zb := zones[0], zones[1]

	env := testEnv(t, za, false)
	env.Opts.API, env.Opts.XDS, env.Opts.CAFile = "", "", ""
	env.Opts.GlobalAPI, env.Opts.ZoneAPI, env.Opts.ZoneXDS, env.Opts.ZoneCAFile, env.Opts.ZoneBAPI =
		g.URL, za.URL, za.DPAddress, za.CACertFile, zb.URL
	var out strings.Builder
	env.Out = &out
	r, err := Run(ctx, "multizone", env)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	f := r.Fields
	if num(t, f, "changes") != 3 || num(t, f, "affected") != 3 || num(t, f, "change_each_count") != 9 {
		t.Errorf("global -> zone: %v changes reaching %v proxies (%v samples), want 3 reaching 3", f["changes"], f["affected"], f["change_each_count"])
	}
	ordered(t, f, "change_last")
	ordered(t, f, "change_each")
	if num(t, f, "cross_zone_count") != 3 {
		t.Errorf("cross-zone: %v joins measured, want 3", f["cross_zone_count"])
	}
	ordered(t, f, "cross_zone")
	healthy(t, f)
	if !strings.Contains(out.String(), "zone B join -> zone A consumer EDS") || !strings.Contains(out.String(), `"scenario":"multizone"`) {
		t.Errorf("output lacks the table or the JSON line:\n%s", out.String())
	}

	// Everything created is gone: the mesh on the global (and so on the zones), zone B's
	// dataplanes and ingress.
	cleanedUp(t, &cptest.CP{URL: g.URL}, env.Opts.Mesh)
	resp, err := http.Get(zb.URL + "/zoneingresses/" + env.Opts.Mesh + "-ingress")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("zone B's ingress left behind: GET = %d", resp.StatusCode)
	}
	if _, err := gc.GetMesh(ctx, env.Opts.Mesh); !errors.Is(err, kumaapi.ErrNotFound) {
		t.Errorf("mesh left on the global: %v", err)
	}
}
