package controlplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// logCounts returns what the PostgreSQL tables must converge to: the number of events in the
// log and the number of live resources (the last event per key is not a deletion).
func logCounts(t *testing.T, s events.Store) (evs, live int) {
	t.Helper()
	last := map[events.Key]bool{}
	if _, err := s.Read(t.Context(), 1, func(r events.Record) error {
		evs++
		last[r.Key] = !r.Event.Deleted()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, alive := range last {
		if alive {
			live++
		}
	}
	return evs, live
}

// waitConverged waits until the PostgreSQL tables hold exactly the log's events and live
// resources. Query errors (the schema may be gone for a while) count as "not yet".
func waitConverged(t *testing.T, pool *pgxpool.Pool, s events.Store) {
	t.Helper()
	wantEvents, wantLive := logCounts(t, s)
	var gotEvents, gotLive int
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		err = pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM resources)`).
			Scan(&gotEvents, &gotLive)
		if err == nil && gotEvents == wantEvents && gotLive == wantLive {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling step of a deadline-bound wait
	}
	t.Fatalf("PostgreSQL did not converge to the log: events %d/%d, resources %d/%d (last error %v)",
		gotEvents, wantEvents, gotLive, wantLive, err)
}

// feed returns GET /events as sequences and the store that answered.
func feed(t *testing.T, url string) ([]uint64, string) {
	t.Helper()
	resp, err := http.Get(url + "/events?size=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %d", resp.StatusCode)
	}
	var page struct {
		Items []struct {
			Sequence uint64 `json:"sequence"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(page.Items))
	for i, it := range page.Items {
		seqs[i] = it.Sequence
	}
	return seqs, resp.Header.Get("X-Jetmesh-Audit-Source")
}

// wantFeed checks that GET /events answers every event of the log, from source ("": either).
func wantFeed(t *testing.T, cp *cptest.CP, source string) {
	t.Helper()
	n, _ := logCounts(t, cp.Store)
	got, from := feed(t, cp.URL)
	if len(got) != n || source != "" && from != source {
		t.Fatalf("GET /events: %d events from %q, want all %d from %q", len(got), from, n, source)
	}
}

// wantList checks that the MTP list answers every live MTP of the log, from source ("":
// either): "postgres", or "memory" when PostgreSQL lags or fails.
func wantList(t *testing.T, cp *cptest.CP, source string) {
	t.Helper()
	live := map[string]bool{}
	if _, err := cp.Store.Read(t.Context(), 1, func(r events.Record) error {
		if r.Key.Type == "MeshTrafficPermission" {
			live[r.Key.Name] = !r.Event.Deleted()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for name, alive := range live {
		if alive {
			want = append(want, name)
		}
	}
	slices.Sort(want)
	resp, err := http.Get(cp.URL + "/meshes/default/meshtrafficpermissions?size=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Total int `json:"total"`
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range page.Items {
		got = append(got, it.Name)
	}
	from := resp.Header.Get("X-Jetmesh-List-Source")
	if page.Total != len(want) || !slices.Equal(got, want) || source != "" && from != source {
		t.Fatalf("MTP list: %d %v from %q, want %v from %q", page.Total, got, from, want, source)
	}
}

func writeMTP(t *testing.T, cp *cptest.CP, name string, want int) {
	t.Helper()
	body := fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":%q,"spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, name)
	if code := status(t, "PUT", cp.URL+"/meshes/default/meshtrafficpermissions/"+name, body); code != want {
		t.Fatalf("PUT %s: %d, want %d", name, code, want)
	}
}

// A running CP with store.type postgres survives PostgreSQL losing its connections and then
// its whole schema: writes keep working, audit pages come from the log and lists from memory
// meanwhile, and without operator action the projection reconnects, re-creates the schema,
// rebuilds it from the log and serves audit pages and lists from PostgreSQL again. The server itself is never stopped.
func TestPostgresOutageRecovers(t *testing.T) {
	pg := cptest.Postgres(t)
	cp := cptest.Start(t, "", cptest.WithPostgres(pg))
	admin := cptest.PostgresPool(t, pg) // the test's own connections, not the CP's
	for i := range 5 {
		writeMTP(t, cp, fmt.Sprintf("before-%d", i), 201)
	}
	status(t, "DELETE", cp.URL+"/meshes/default/meshtrafficpermissions/before-0", "")
	waitConverged(t, admin, cp.Store)
	wantFeed(t, cp, "postgres")
	wantList(t, cp, "postgres")

	// 1. Every connection of the CP is killed.
	var killed int
	if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, postgres.ApplicationName(pg.Schema)).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("found no connection of the CP to terminate")
	}
	writeMTP(t, cp, "after-kill", 201)
	waitConverged(t, admin, cp.Store)

	// 2. The tables are emptied (a restore from an empty backup): PostgreSQL would answer
	// nothing, so the log answers until the projection has rebuilt them.
	if _, err := admin.Exec(context.Background(), "TRUNCATE events, resources, checkpoint"); err != nil {
		t.Fatal(err)
	}
	wantFeed(t, cp, "log")
	wantList(t, cp, "memory")
	writeMTP(t, cp, "after-truncate", 201)
	waitConverged(t, admin, cp.Store)
	wantFeed(t, cp, "postgres")
	wantList(t, cp, "postgres")

	// 3. The schema is dropped: the audit log and read model are gone.
	if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+pg.Schema+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	wantFeed(t, cp, "log") // the index fails; the log answers the same
	wantList(t, cp, "memory")
	for i := range 3 {
		writeMTP(t, cp, fmt.Sprintf("during-%d", i), 201) // writes never needed PostgreSQL
		// Complete answers throughout, from the log or from the rebuilt index, which may be
		// back already: the first failed apply re-creates the schema within milliseconds.
		wantFeed(t, cp, "")
		wantList(t, cp, "")
	}

	// 4. Recovery without operator action: the schema is re-created and rebuilt from the log.
	waitConverged(t, admin, cp.Store)
	writeMTP(t, cp, "after", 201)
	waitConverged(t, admin, cp.Store)
	wantFeed(t, cp, "postgres")
	wantList(t, cp, "postgres")
}
