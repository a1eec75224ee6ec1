package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/postgres"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// listKey is one resource of the list tests' reference, as the in-memory model orders them.
type listKey struct {
	mesh, name string
	labels     map[string]string
}

// refList answers q the way projections/state's List and the API's paging do.
func refList(all []listKey, q postgres.ListQuery) (int, []string) {
	var out []listKey
	for _, k := range all {
		if q.Mesh != "" && k.mesh != q.Mesh || !strings.Contains(k.name, q.NameLike) {
			continue
		}
		keep := true
		for lk, lv := range q.Labels {
			if got, ok := k.labels[lk]; !ok || got != lv {
				keep = false
			}
		}
		if keep {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b listKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.mesh, b.mesh)
	})
	var page []string
	for i, k := range out {
		if i >= q.Offset && (q.Limit == 0 || i < q.Offset+q.Limit) {
			page = append(page, k.mesh+"/"+k.name)
		}
	}
	return len(out), page
}

// Lists answer what the in-memory model answers: byte-wise name-then-mesh order (upper case
// before lower, "é" after "z"), substring and label filters, offsets past the end; only the
// listed type, from this CP's own log and the replicated streams it follows.
func TestListEqualsMemoryOrder(t *testing.T) {
	p := newTestDB(t).migrated(t)
	m, err := postgres.New(testCtx(t), p, "pg")
	if err != nil {
		t.Fatal(err)
	}
	var all []listKey
	seq := uint64(0)
	apply := func(k events.Key) {
		seq++
		if err := m.Apply(handRecord(seq, k, 1, false)); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"b", "B", "a", "a-1", "a_1", "é", "z", "Z9", "web-10", "web-2", "web%", "x_y"}
	for i, n := range names {
		for _, mesh := range []string{"default", "demo", "Demo"}[:1+i%3] {
			k := events.Key{Scope: events.ZoneScope("zone-1"), Type: "Dataplane", Mesh: mesh, Name: n}
			apply(k)
			all = append(all, listKey{mesh: mesh, name: n, labels: map[string]string{"rev": "1"}})
		}
	}
	// Another type must not show.
	apply(events.Key{Scope: events.ZoneScope("zone-1"), Type: "MeshTimeout", Mesh: "default", Name: "a"})
	// Another zone's dataplane, delivered by a replicated stream, shows under "<name>.<zone>".
	replica, err := postgres.NewReplica(testCtx(t), p, "JETMESH_ZONE_PROXIES", events.ZoneScope("zone-1"))
	if err != nil {
		t.Fatal(err)
	}
	other := events.Key{Scope: events.ZoneScope("zone-2"), Type: "Dataplane", Mesh: "default", Name: "a"}
	if err := replica.Apply(handRecord(1, other, 1, false)); err != nil {
		t.Fatal(err)
	}
	all = append(all, listKey{mesh: "default", name: "a.zone-2", labels: map[string]string{"rev": "1",
		"kuma.io/origin": "zone", "kuma.io/zone": "zone-2", "kuma.io/display-name": "a"}})
	// A deleted resource must not show.
	seq++
	if err := m.Apply(handRecord(seq, events.Key{Scope: events.ZoneScope("zone-1"), Type: "Dataplane", Mesh: "default", Name: "z"}, 2, true)); err != nil {
		t.Fatal(err)
	}
	all = slices.DeleteFunc(all, func(k listKey) bool { return k.mesh == "default" && k.name == "z" })

	lists := postgres.NewResources(p)
	base := postgres.ListQuery{Type: "Dataplane"}
	with := func(f func(*postgres.ListQuery)) postgres.ListQuery { q := base; f(&q); return q }
	for name, q := range map[string]postgres.ListQuery{
		"all":            base,
		"first page":     with(func(q *postgres.ListQuery) { q.Limit = 4 }),
		"second page":    with(func(q *postgres.ListQuery) { q.Limit = 4; q.Offset = 4 }),
		"past the end":   with(func(q *postgres.ListQuery) { q.Limit = 4; q.Offset = 100 }),
		"mesh":           with(func(q *postgres.ListQuery) { q.Mesh = "demo" }),
		"mesh page":      with(func(q *postgres.ListQuery) { q.Mesh = "default"; q.Limit = 3; q.Offset = 2 }),
		"name substring": with(func(q *postgres.ListQuery) { q.NameLike = "a" }),
		"name wildcards": with(func(q *postgres.ListQuery) { q.NameLike = "_" }),
		"name percent":   with(func(q *postgres.ListQuery) { q.NameLike = "%" }),
		"label":          with(func(q *postgres.ListQuery) { q.Labels = map[string]string{"rev": "1"} }),
		"label mismatch": with(func(q *postgres.ListQuery) { q.Labels = map[string]string{"rev": "2"} }),
		"label absent":   with(func(q *postgres.ListQuery) { q.Labels = map[string]string{"team": ""} }),
		"zone label":     with(func(q *postgres.ListQuery) { q.Labels = map[string]string{"kuma.io/zone": "zone-2"} }),
		"mesh name labels": with(func(q *postgres.ListQuery) {
			q.Mesh = "demo"
			q.NameLike = "web"
			q.Labels = map[string]string{"rev": "1"}
		}),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := lists.List(testCtx(t), q)
			if err != nil {
				t.Fatal(err)
			}
			total, want := refList(all, q)
			var have []string
			for _, raw := range got.Items {
				var r struct{ Mesh, Name string }
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				have = append(have, r.Mesh+"/"+r.Name)
			}
			if got.Total != total || !slices.Equal(have, want) {
				t.Errorf("total %d, items %v\nwant total %d, items %v", got.Total, have, total, want)
			}
		})
	}
}

// loadResources bulk-loads n dataplanes of scope zone-1 with COPY, spread round-robin over
// meshes (half the dataplanes are in mesh-00), plus n/10 other resources, and vacuums.
func loadResources(tb testing.TB, p *pgxpool.Pool, n, meshes int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cols := []string{"scope", "type", "mesh", "name", "revision", "sequence", "actor", "labels", "spec",
		"resource", "creation_time", "modification_time"}
	total := n + n/10
	i := 0
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == total {
			return nil, nil
		}
		typ := listResourceKey(i, n, meshes).Type
		k := listResourceKey(i, n, meshes)
		data := string(resourceJSON(k, 1))
		if typ == "Dataplane" {
			data = string(dataplaneJSON(k, i))
		}
		row := []any{k.Scope.Zone, k.Type, k.Mesh, k.Name, int64(1), int64(i + 1), "user:admin",
			listLabels(i), `{}`, data, at, at}
		i++
		return row, nil
	})
	began := time.Now()
	if _, err := p.CopyFrom(ctx, pgx.Identifier{"resources"}, cols, src); err != nil {
		tb.Fatalf("copy %d resources: %v", total, err)
	}
	if _, err := p.Exec(ctx, "VACUUM ANALYZE resources"); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("loaded %d resources with COPY in %s", total, time.Since(began).Round(time.Millisecond))
}

// listResourceKey is the key of loadResources' resource i: dataplanes, then other resources.
func listResourceKey(i, n, meshes int) events.Key {
	typ := "Dataplane"
	if i >= n {
		typ = "MeshTimeout"
	}
	return events.Key{Scope: events.ZoneScope("zone-1"), Type: typ, Mesh: listMesh(i, meshes), Name: fmt.Sprintf("dp-%07d", i)}
}

func listLabels(i int) string { return `{"rev":"1","team":"t` + strconv.Itoa(i%7) + `"}` }

// dataplaneJSON is a dataplane as the REST API shows it, with one inbound.
func dataplaneJSON(k events.Key, i int) []byte {
	return fmt.Appendf(nil, `{"type":"Dataplane","mesh":%q,"name":%q,"creationTime":"2026-01-01T00:00:00Z",`+
		`"modificationTime":"2026-01-01T00:00:00Z","labels":%s,"networking":{"address":"10.0.%d.%d",`+
		`"inbound":[{"port":8080,"servicePort":18080,"tags":{"kuma.io/service":"svc-%d","kuma.io/protocol":"http"}}]}}`,
		k.Mesh, k.Name, listLabels(i), i/250%250, i%250, i%500)
}

// listMesh puts every other dataplane in mesh-00, the rest round-robin over the others.
func listMesh(i, meshes int) string {
	if i%2 == 0 || meshes == 1 {
		return "mesh-00"
	}
	return fmt.Sprintf("mesh-%02d", 1+(i/2)%(meshes-1))
}

// listQueries are the typical list pages over a loaded set.
func listQueries(n int) map[string]postgres.ListQuery {
	return map[string]postgres.ListQuery{
		"all_meshes_first_page":  {Type: "Dataplane", Limit: 100},
		"all_meshes_deep_page":   {Type: "Dataplane", Limit: 100, Offset: n / 2},
		"one_mesh_first_page":    {Type: "Dataplane", Mesh: "mesh-00", Limit: 100},
		"one_mesh_name_filtered": {Type: "Dataplane", Mesh: "mesh-00", NameLike: "dp-00001", Limit: 100},
		"one_mesh_label_page":    {Type: "Dataplane", Mesh: "mesh-00", Labels: map[string]string{"team": "t3"}, Limit: 100},
	}
}

// List pages are read in index order, never by scanning or sorting the resources table.
func TestListQueriesUseIndexes(t *testing.T) {
	p := newTestDB(t).migrated(t)
	const n = 20000
	loadResources(t, p, n, 10)
	for name, q := range listQueries(n) {
		if name == "one_mesh_label_page" {
			continue // a containment filter: the GIN index or a filtered index scan, the planner's pick
		}
		t.Run(name, func(t *testing.T) {
			sql, args, err := postgres.BuildList(q)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := p.Query(testCtx(t), "EXPLAIN ANALYZE "+sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan") || !strings.Contains(text, "resources_list") {
				t.Errorf("plan scans the table:\n%s\n%s", sql, text)
			}
			// The page is read in index order: a sort, if any, holds only the page.
			for _, line := range plan {
				if !strings.Contains(line, "Sort") {
					continue
				}
				if m := regexpRows.FindStringSubmatch(line); m != nil {
					if r, _ := strconv.Atoi(m[1]); r > q.Limit {
						t.Errorf("plan sorts %d rows:\n%s\n%s", r, sql, text)
					}
				}
			}
		})
	}
}

// benchResourcesEnv sets how many dataplanes the list benchmark loads; the default keeps CI's
// smoke run short. docs/audit.md's numbers come from JETMESH_BENCH_LIST_RESOURCES=100000.
const benchResourcesEnv = "JETMESH_BENCH_LIST_RESOURCES"

// BenchmarkList times one list page over n dataplanes (and n/10 other resources) as the API
// serves it: from PostgreSQL (the query, and decoding the page as the API does) and from the
// in-memory read model (state.List, which filters and sorts every match, then the page).
func BenchmarkList(b *testing.B) {
	n := 2000
	if v := os.Getenv(benchResourcesEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", benchResourcesEnv, v)
		}
	}
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		b.Skipf("%s is not set", dsnEnv)
	}
	db := &testDB{dsn: dsn, schema: fmt.Sprintf("jm_bench_%d", time.Now().UnixNano())}
	db.exec(b, "CREATE SCHEMA "+db.schema)
	b.Cleanup(func() { db.exec(b, "DROP SCHEMA IF EXISTS "+db.schema+" CASCADE") })
	p := db.pool(b)
	if err := postgres.Migrate(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	const meshes = 10
	loadResources(b, p, n, meshes)
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		b.Fatal(err)
	}
	desc, _ := reg.ByName("Dataplane")
	view := state.NewScoped(reg, events.ZoneScope("zone-1"))
	for i := range n {
		k := listResourceKey(i, n, meshes)
		rec := events.Record{Key: k, Sequence: uint64(i + 1), Event: events.Event{
			Type: events.TypeResourceUpserted, Revision: 1, Data: dataplaneJSON(k, i)}}
		if err := view.Apply(rec); err != nil {
			b.Fatal(err)
		}
	}
	lists := postgres.NewResources(p)
	for name, q := range listQueries(n) {
		b.Run(fmt.Sprintf("%s/backend=postgres/resources=%d", name, n), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				page, err := lists.List(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) == 0 {
					b.Fatal("empty page")
				}
				for _, raw := range page.Items {
					if _, err := resources.DecodeAs(desc, raw); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("%s/backend=memory/resources=%d", name, n), func(b *testing.B) {
			f := state.Filter{Mesh: q.Mesh, NameLike: q.NameLike, Labels: q.Labels}
			for b.Loop() {
				entries := view.List(q.Type, f)
				page := entries[min(q.Offset, len(entries)):min(q.Offset+q.Limit, len(entries))]
				if len(page) == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
}
