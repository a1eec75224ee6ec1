package zonesync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// PostgreSQL follows the replicated streams as well as a CP's own log: on the global, the
// zones' dataplanes list (as "<name>.<zone>", with their labels) and show their history from
// PostgreSQL, as the zone's own log holds it; on a zone, the global's policies do. Deleting a
// zone deletes its rows.
func TestPostgresListsReplicated(t *testing.T) {
	port := cptest.FreePort(t)
	gdb := cptest.Postgres(t)
	g := cptest.Start(t, "", cptest.Global(port), cptest.WithPostgres(gdb))
	z := cptest.Start(t, "", cptest.Zone("zone-1", port, g.KDSCACertFile(), zoneToken(t, g, "zone-1")),
		cptest.WithPostgres(cptest.Postgres(t)))
	eventually(t, "zone-1 online on the global", func() (bool, string) { return zoneOnline(t, g, "zone-1") })

	mustCall(t, http.MethodPut, g.URL+"/meshes/demo", `{"type":"Mesh","name":"demo"}`, http.StatusCreated)
	mustCall(t, http.MethodPut, g.URL+"/meshes/demo/meshtrafficpermissions/allow-all",
		`{"type":"MeshTrafficPermission","mesh":"demo","name":"allow-all","spec":{"targetRef":{"kind":"Mesh"},
		"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, http.StatusCreated)
	eventually(t, "policy on the zone", status(t, z.URL+"/meshes/demo/meshtrafficpermissions/allow-all", http.StatusOK))
	mustCall(t, http.MethodPut, z.URL+"/meshes/demo/dataplanes/backend-1", dataplane, http.StatusCreated)
	mustCall(t, http.MethodPut, z.URL+"/meshes/demo/dataplanes/backend-1",
		strings.Replace(dataplane, `"name":"backend-1",`, `"name":"backend-1","labels":{"rev":"2"},`, 1), http.StatusOK)
	eventually(t, "revision 2 on the global", func() (bool, string) {
		_, body := call(t, http.MethodGet, g.URL+"/meshes/demo/dataplanes/backend-1.zone-1", "")
		return strings.Contains(compact(body), `"rev":"2"`), body
	})

	for _, c := range []struct {
		url, want string
	}{
		{g.URL + "/meshes/demo/dataplanes", "[backend-1.zone-1]"}, // replicated from the zone
		{g.URL + "/dataplanes", "[backend-1.zone-1]"},
		{g.URL + "/meshes/demo/dataplanes?filter[labels.kuma.io/zone]=zone-1", "[backend-1.zone-1]"},
		{g.URL + "/meshes/demo/dataplanes?filter[labels.kuma.io/display-name]=backend-1", "[backend-1.zone-1]"},
		{g.URL + "/meshes/demo/meshtrafficpermissions", "[allow-all]"}, // the global's own
		{g.URL + "/meshes?name=demo", "[demo]"},
		{z.URL + "/meshes/demo/dataplanes", "[backend-1]"},             // the zone's own
		{z.URL + "/meshes/demo/meshtrafficpermissions", "[allow-all]"}, // replicated from the global
		{z.URL + "/meshes/demo/meshtrafficpermissions?filter[labels.kuma.io/origin]=global", "[allow-all]"},
	} {
		got, from := listFrom(t, c.url)
		if fmt.Sprint(got) != c.want || from != "postgres" {
			t.Errorf("GET %s: %v from %q, want %s from postgres", c.url, got, from, c.want)
		}
	}
	// The copy listed from PostgreSQL is the one the global serves by name.
	one := compact(mustCall(t, http.MethodGet, g.URL+"/meshes/demo/dataplanes/backend-1.zone-1", "", http.StatusOK))
	list := compact(mustCall(t, http.MethodGet, g.URL+"/meshes/demo/dataplanes", "", http.StatusOK))
	if !strings.Contains(list, one) {
		t.Errorf("listed copy differs from the one served by name:\n%s\n%s", list, one)
	}

	// History of replicated resources, from PostgreSQL, equals the origin's own.
	for _, c := range []struct{ replica, origin string }{
		{g.URL + "/meshes/demo/dataplanes/backend-1.zone-1/_history", z.URL + "/meshes/demo/dataplanes/backend-1/_history"},
		{z.URL + "/meshes/demo/meshtrafficpermissions/allow-all/_history", g.URL + "/meshes/demo/meshtrafficpermissions/allow-all/_history"},
	} {
		got, from := historyOf(t, c.replica)
		want, _ := historyOf(t, c.origin)
		if from != "postgres" || got != want || !strings.Contains(got, `"revision":1`) {
			t.Errorf("GET %s from %q:\n%s\nwant (the origin's)\n%s", c.replica, from, got, want)
		}
	}

	// Deleting the zone deletes its rows from the global's PostgreSQL.
	z.Stop(t)
	eventually(t, "zone-1 offline", func() (bool, string) {
		on, body := zoneOnline(t, g, "zone-1")
		return !on, body
	})
	mustCall(t, http.MethodDelete, g.URL+"/zones/zone-1", "", http.StatusOK)
	pool := cptest.PostgresPool(t, gdb)
	eventually(t, "zone-1's rows gone from postgres", func() (bool, string) {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM resources WHERE scope = 'zone-1') +
			(SELECT count(*) FROM replica_events WHERE scope = 'zone-1')`).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d rows left", n)
	})
	if got, from := listFrom(t, g.URL+"/meshes/demo/dataplanes"); len(got) != 0 || from != "postgres" {
		t.Errorf("dataplanes after the zone is deleted: %v from %q", got, from)
	}
}

// historyOf returns a history page's items (revision, type, actor, origin and resource of
// each; not the sequences, which differ between a log and its mirror only in name) and the
// store that answered it.
func historyOf(t *testing.T, url string) (string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(page.Items)
	return string(b), resp.Header.Get("X-Jetmesh-Audit-Source")
}
