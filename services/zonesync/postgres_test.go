package zonesync_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// listFrom returns a list's names and the store that answered it.
func listFrom(t *testing.T, url string) ([]string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	var n names
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range n.Items {
		out = append(out, it.Name)
	}
	return out, resp.Header.Get("X-Jetmesh-List-Source")
}

// PostgreSQL follows only a CP's own log: a list of a type the CP also holds replicated copies
// of (a zone's dataplanes on the global, the global's policies on a zone) comes from the
// in-memory model, which holds both; the CP's own types still list from PostgreSQL.
func TestPostgresListsReplicated(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port), cptest.WithPostgres(cptest.Postgres(t)))
	z := cptest.Start(t, "", cptest.Zone("zone-1", port, g.KDSCACertFile(), zoneToken(t, g, "zone-1")),
		cptest.WithPostgres(cptest.Postgres(t)))
	eventually(t, "zone-1 online on the global", func() (bool, string) { return zoneOnline(t, g, "zone-1") })

	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/allow-all",
		`{"type":"MeshTrafficPermission","mesh":"demo","name":"allow-all","spec":{"targetRef":{"kind":"Mesh"},
		"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, http.StatusCreated)
	eventually(t, "policy on the zone", status(t, z.URL+"/meshes/demo/meshtrafficpermissions/allow-all", http.StatusOK))
	mustCall(t, http.MethodPut, z.URL+"/meshes/demo/dataplanes/backend-1", dataplane, http.StatusCreated)
	eventually(t, "dataplane on the global", status(t, g.URL+"/meshes/demo/dataplanes/backend-1.zone-1", http.StatusOK))

	for _, c := range []struct {
		url, want, from string
	}{
		{g.URL + "/meshes/demo/dataplanes", "[backend-1.zone-1]", "memory"}, // replicated from the zone
		{g.URL + "/dataplanes", "[backend-1.zone-1]", "memory"},
		{g.URL + "/meshes/demo/meshtrafficpermissions", "[allow-all]", "postgres"}, // the global's own
		{g.URL + "/meshes?name=demo", "[demo]", "postgres"},
		{z.URL + "/meshes/demo/dataplanes", "[backend-1]", "postgres"},           // the zone's own
		{z.URL + "/meshes/demo/meshtrafficpermissions", "[allow-all]", "memory"}, // replicated from the global
	} {
		got, from := listFrom(t, c.url)
		if fmt.Sprint(got) != c.want || from != c.from {
			t.Errorf("GET %s: %v from %q, want %s from %q", c.url, got, from, c.want, c.from)
		}
	}
}
