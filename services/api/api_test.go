package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

type client struct {
	t    *testing.T
	base string
	// source, when set, is the X-Jetmesh-Audit-Source every successful audit page must name.
	source string
}

// onBothBackends runs an audit or list test twice: against a CP that answers history and event
// pages from the log and lists from the in-memory model, and against one with store.type
// postgres that answers them from PostgreSQL. The same assertions hold for both: the answers
// are the same.
func onBothBackends(t *testing.T, test func(t *testing.T, c client)) {
	t.Run("log", func(t *testing.T) {
		cp := cptest.Start(t, "", cptest.BareDefaultMesh())
		test(t, client{t: t, base: cp.URL, source: "log"})
	})
	t.Run("postgres", func(t *testing.T) {
		cp := cptest.Start(t, "", cptest.BareDefaultMesh(), cptest.WithPostgres(cptest.Postgres(t)))
		test(t, client{t: t, base: cp.URL, source: "postgres"})
	})
}

// listSource is the X-Jetmesh-List-Source a list page must name: PostgreSQL answers the lists
// it can answer exactly, the in-memory model the rest (api.listFromIndex).
func (c client) listSource(path string) string {
	if c.source != "postgres" {
		return "memory"
	}
	for _, memoryOnly := range []string{"_overview", "+insights", "overviews", "tag=", "gateway=", "at="} {
		if strings.Contains(path, memoryOnly) {
			return "memory"
		}
	}
	return "postgres"
}

// isAuditPage reports whether a GET path is a history or event page (not a live stream).
func isAuditPage(method, path string) bool {
	return method == "GET" && (strings.HasPrefix(path, "/events") && !strings.Contains(path, "follow=") ||
		strings.Contains(path, "/_history"))
}

// do sends a request and decodes a JSON answer (nil for non-JSON bodies).
func (c client) do(method, path, body string) (int, map[string]any, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if got := resp.Header.Get("X-Jetmesh-Audit-Source"); c.source != "" && resp.StatusCode == 200 &&
		isAuditPage(method, path) && got != c.source {
		c.t.Errorf("%s %s answered from %q, want %q", method, path, got, c.source)
	}
	if got := resp.Header.Get("X-Jetmesh-List-Source"); c.source != "" && got != "" && got != c.listSource(path) {
		c.t.Errorf("%s %s listed from %q, want %q", method, path, got, c.listSource(path))
	}
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, m, string(raw)
}

func (c client) must(method, path, body string, want int) map[string]any {
	c.t.Helper()
	code, m, raw := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, code, want, raw)
	}
	return m
}

func newClient(t *testing.T) (client, *cptest.CP) {
	cp := cptest.Start(t, "", cptest.BareDefaultMesh())
	return client{t: t, base: cp.URL}, cp
}

const dataplaneYAML = `type: Dataplane
mesh: %s
name: %s
networking:
  address: 127.0.0.1
  inbound:
  - port: %d
    servicePort: 8080
    tags:
      kuma.io/service: %s
      kuma.io/protocol: http
`

// kumactl's PUT body is the REST resource including server-owned fields.
const mtpJSON = `{"type":"MeshTrafficPermission","mesh":"default","name":"allow-all",
 "creationTime":"0001-01-01T00:00:00Z","modificationTime":"0001-01-01T00:00:00Z","kri":"kri_mtp_default____allow-all_",
 "spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`

func TestIndexSatisfiesKumactl(t *testing.T) {
	c, _ := newClient(t)
	m := c.must("GET", "/", "", 200)
	if m["product"] != "Kuma" || !strings.HasPrefix(fmt.Sprint(m["version"]), "2.") {
		t.Fatalf("index %v: kumactl needs product Kuma and a 2.x version", m)
	}
	for _, k := range []string{"hostname", "instanceId", "clusterId"} {
		if m[k] == "" || m[k] == nil {
			t.Errorf("index lacks %s: %v", k, m)
		}
	}
	code, _, raw := c.do("GET", "/versions", "")
	if code != 404 || raw != "404: Page Not Found" {
		t.Fatalf("unknown path: %d %q", code, raw)
	}
}

func TestDefaultMeshAndLabels(t *testing.T) { onBothBackends(t, testDefaultMeshAndLabels) }

func testDefaultMeshAndLabels(t *testing.T, c client) {
	m := c.must("GET", "/meshes/default", "", 200)
	if m["type"] != "Mesh" || m["name"] != "default" {
		t.Fatalf("default mesh: %v", m)
	}
	if _, has := m["mesh"]; has {
		t.Errorf("global-scoped Mesh must not carry a mesh field: %v", m)
	}
	// Kuma 2.14 computes origin/zone/env only for types a zone provides; meshes get none.
	if labels, has := m["labels"]; has {
		t.Errorf("a standalone CP's Mesh has no computed labels in Kuma 2.14: %v", labels)
	}
	list := c.must("GET", "/meshes", "", 200)
	if list["total"] != float64(1) || list["next"] != nil {
		t.Fatalf("list: %v", list)
	}
}

func TestCreateUpdateDeletePolicy(t *testing.T) { onBothBackends(t, testCreateUpdateDeletePolicy) }

func testCreateUpdateDeletePolicy(t *testing.T, c client) {
	path := "/meshes/default/meshtrafficpermissions/allow-all"
	c.must("GET", path, "", 404)
	c.must("PUT", path, mtpJSON, 201)
	got := c.must("GET", path, "", 200)
	spec, ok := got["spec"].(map[string]any)
	if !ok || got["type"] != "MeshTrafficPermission" || got["mesh"] != "default" {
		t.Fatalf("policy shape: %v", got)
	}
	if got["creationTime"] == "0001-01-01T00:00:00Z" {
		t.Errorf("creationTime from the body must be ignored: %v", got["creationTime"])
	}
	from := spec["from"].([]any)[0].(map[string]any)
	if from["default"].(map[string]any)["action"] != "Allow" {
		t.Fatalf("spec: %v", spec)
	}
	// Update: 200, creation time kept, content changed.
	updated := strings.Replace(mtpJSON, `"Allow"`, `"Deny"`, 1)
	c.must("PUT", path, updated, 200)
	again := c.must("GET", path, "", 200)
	if again["creationTime"] != got["creationTime"] {
		t.Errorf("creationTime changed on update: %v -> %v", got["creationTime"], again["creationTime"])
	}
	if !strings.Contains(fmt.Sprint(again["spec"]), "Deny") {
		t.Errorf("update not visible: %v", again["spec"])
	}
	list := c.must("GET", "/meshes/default/meshtrafficpermissions", "", 200)
	if list["total"] != float64(1) {
		t.Fatalf("list: %v", list)
	}
	c.must("DELETE", path, "", 200)
	c.must("GET", path, "", 404)
	e := c.must("DELETE", path, "", 404)
	if e["title"] != "Could not delete a resource" || e["detail"] != "Not found" {
		t.Errorf("404 shape: %v", e)
	}
	// Re-create after delete works and is a create again.
	c.must("PUT", path, mtpJSON, 201)
}

func TestValidationErrorsHaveKumaShape(t *testing.T) {
	c, _ := newClient(t)
	cases := []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"name mismatch", "/meshes/default/dataplanes/other",
			fmt.Sprintf(dataplaneYAML, "default", "dp-1", 18080, "backend"), 400, "name"},
		{"mesh mismatch", "/meshes/default/dataplanes/dp-1",
			fmt.Sprintf(dataplaneYAML, "other", "dp-1", 18080, "backend"), 400, "mesh"},
		{"no service tag", "/meshes/default/dataplanes/dp-1",
			strings.Replace(fmt.Sprintf(dataplaneYAML, "default", "dp-1", 18080, "backend"),
				"kuma.io/service: backend", "app: backend", 1), 400, `networking.inbound[0].tags["kuma.io/service"]`},
		{"port out of range", "/meshes/default/dataplanes/dp-1",
			fmt.Sprintf(dataplaneYAML, "default", "dp-1", 70000, "backend"), 400, "networking.inbound[0].port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := client{t: t, base: c.base}
			e := c.must("PUT", tc.path, tc.body, tc.status)
			if e["type"] != "/std-errors" || e["status"] != float64(tc.status) || e["title"] == "" {
				t.Fatalf("error shape: %v", e)
			}
			params, _ := e["invalid_parameters"].([]any)
			causes, _ := e["causes"].([]any)
			if len(params) == 0 || len(causes) != len(params) {
				t.Fatalf("want invalid_parameters and causes: %v", e)
			}
			found := false
			for _, p := range params {
				if p.(map[string]any)["field"] == tc.field {
					found = true
				}
			}
			if !found {
				t.Fatalf("no violation at %s: %v", tc.field, params)
			}
		})
	}
	t.Run("mesh does not exist", func(t *testing.T) {
		c := client{t: t, base: c.base}
		e := c.must("PUT", "/meshes/nope/dataplanes/dp-1", fmt.Sprintf(dataplaneYAML, "nope", "dp-1", 18080, "b"), 404)
		if e["title"] != "Failed to retrieve Mesh" {
			t.Fatalf("missing mesh: %v", e)
		}
	})
	t.Run("malformed body", func(t *testing.T) {
		c := client{t: t, base: c.base}
		e := c.must("PUT", "/meshes/default/meshtrafficpermissions/x", `{"type":`, 400)
		if e["title"] != "Could not process a resource" {
			t.Fatalf("malformed: %v", e)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		c := client{t: t, base: c.base}
		c.must("PUT", "/meshes/default/meshtrafficpermissions/x",
			`{"type":"MeshTrafficPermission","mesh":"default","name":"x","spec":{"targetRef":{"kind":"Mesh"}},"bogus":1}`, 400)
	})
	t.Run("insights are read-only", func(t *testing.T) {
		c := client{t: t, base: c.base}
		code, _, _ := c.do("PUT", "/meshes/default/dataplane-insights/x", `{"type":"DataplaneInsight","mesh":"default","name":"x"}`)
		if code != 405 && code != 404 {
			t.Fatalf("insight write: %d, want 405 (or 404 when not routed)", code)
		}
	})
}

func TestPaginationAndFilters(t *testing.T) { onBothBackends(t, testPaginationAndFilters) }

func testPaginationAndFilters(t *testing.T, c client) {
	for i := range 5 {
		team := "a"
		if i%2 == 1 {
			team = "b"
		}
		c.must("PUT", fmt.Sprintf("/meshes/m%d", i),
			fmt.Sprintf(`{"type":"Mesh","name":"m%d","labels":{"team":"%s"}}`, i, team), 201)
	}
	page := c.must("GET", "/meshes?size=2", "", 200)
	if page["total"] != float64(6) || len(page["items"].([]any)) != 2 {
		t.Fatalf("page 1: %v", page)
	}
	next, _ := page["next"].(string)
	if !strings.HasPrefix(next, c.base+"/meshes?") || !strings.Contains(next, "offset=2") || !strings.Contains(next, "size=2") {
		t.Fatalf("next link %q", next)
	}
	var names []string
	for next != "" {
		p := client{t: t, base: "", source: c.source}.must("GET", next, "", 200)
		for _, it := range p["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		next, _ = p["next"].(string)
	}
	if strings.Join(names, ",") != "m1,m2,m3,m4" { // page 1 held default and m0
		t.Fatalf("following next links gave %v", names)
	}
	if p := c.must("GET", "/meshes?offset=1&size=1", "", 200); p["items"].([]any)[0].(map[string]any)["name"] != "m0" {
		t.Fatalf("offset=1 size=1: %v", p)
	}
	e := c.must("GET", "/meshes?size=1001", "", 400)
	if e["detail"] != "Invalid page size" {
		t.Fatalf("size>1000: %v", e)
	}
	c.must("GET", "/meshes?size=abc", "", 400)
	if p := c.must("GET", "/meshes?name=m1", "", 200); p["total"] != float64(1) {
		t.Fatalf("name filter: %v", p)
	}
	if p := c.must("GET", "/meshes?filter%5Blabels.team%5D=b", "", 200); p["total"] != float64(2) {
		t.Fatalf("label filter: %v", p)
	}
}

func TestDataplanesAcrossMeshesAndOverview(t *testing.T) {
	onBothBackends(t, testDataplanesAcrossMeshesAndOverview)
}

func testDataplanesAcrossMeshesAndOverview(t *testing.T, c client) {
	c.must("PUT", "/meshes/demo", `{"type":"Mesh","name":"demo"}`, 201)
	c.must("PUT", "/meshes/default/dataplanes/web-1", fmt.Sprintf(dataplaneYAML, "default", "web-1", 18080, "web"), 201)
	c.must("PUT", "/meshes/demo/dataplanes/backend-1", fmt.Sprintf(dataplaneYAML, "demo", "backend-1", 18081, "backend"), 201)
	c.must("PUT", "/meshes/demo/dataplanes/backend-2", fmt.Sprintf(dataplaneYAML, "demo", "backend-2", 18082, "backend"), 201)

	if p := c.must("GET", "/dataplanes", "", 200); p["total"] != float64(3) {
		t.Fatalf("across meshes: %v", p)
	}
	if p := c.must("GET", "/meshes/demo/dataplanes", "", 200); p["total"] != float64(2) {
		t.Fatalf("in mesh: %v", p)
	}
	dp := c.must("GET", "/meshes/demo/dataplanes/backend-1", "", 200)
	labels := dp["labels"].(map[string]any)
	for k, v := range map[string]string{"kuma.io/mesh": "demo", "kuma.io/zone": "default", "kuma.io/origin": "zone", "kuma.io/env": "universal"} {
		if labels[k] != v {
			t.Errorf("label %s = %v, want %s", k, labels[k], v)
		}
	}
	if _, ok := dp["networking"]; !ok {
		t.Errorf("legacy types inline their spec: %v", dp)
	}
	for _, path := range []string{"/meshes/demo/dataplanes/_overview", "/meshes/demo/dataplanes+insights"} {
		ov := c.must("GET", path, "", 200)
		items := ov["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("%s: %v", path, ov)
		}
		first := items[0].(map[string]any)
		if first["type"] != "DataplaneOverview" || first["dataplane"] == nil || first["dataplaneInsight"] == nil {
			t.Fatalf("%s item: %v", path, first)
		}
	}
	one := c.must("GET", "/meshes/demo/dataplanes/backend-2/_overview", "", 200)
	if one["name"] != "backend-2" || one["type"] != "DataplaneOverview" {
		t.Fatalf("overview item: %v", one)
	}
	// The lists PostgreSQL answers are the in-memory model's, byte for byte: gateway=false
	// (every dataplane here) is a filter only the in-memory model answers.
	for _, path := range []string{"/dataplanes", "/meshes/demo/dataplanes?size=1", "/meshes/demo/dataplanes?size=1&offset=1"} {
		sep := map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")]
		_, _, indexed := c.do("GET", path, "")
		_, _, memory := c.do("GET", path+sep+"gateway=false", "")
		if strings.ReplaceAll(memory, `gateway=false\u0026`, "") != indexed {
			t.Errorf("%s differs from the in-memory list:\n%s\n%s", path, indexed, memory)
		}
	}
	if p := c.must("GET", "/meshes/demo/dataplanes/_overview?tag=kuma.io/service:backend", "", 200); p["total"] != float64(2) {
		t.Fatalf("tag filter: %v", p)
	}
	if p := c.must("GET", "/meshes/demo/dataplanes/_overview?tag=kuma.io/service:web", "", 200); p["total"] != float64(0) {
		t.Fatalf("tag filter (no match): %v", p)
	}
	// Deleting a mesh with dataplanes is refused.
	c.must("DELETE", "/meshes/demo", "", 400)
	for _, p := range []string{"/zones", "/zones/_overview", "/zones+insights", "/zoneingresses", "/zoneingresses/_overview", "/zoneegresses", "/zoneegressoverviews"} {
		if l := c.must("GET", p, "", 200); l["total"] != float64(0) {
			t.Errorf("%s: %v", p, l)
		}
	}
}

func TestMeshDeleteCascades(t *testing.T) { onBothBackends(t, testMeshDeleteCascades) }

func testMeshDeleteCascades(t *testing.T, c client) {
	c.must("PUT", "/meshes/demo", `{"type":"Mesh","name":"demo"}`, 201)
	body := strings.ReplaceAll(mtpJSON, `"mesh":"default"`, `"mesh":"demo"`)
	c.must("PUT", "/meshes/demo/meshtrafficpermissions/allow-all", body, 201)
	c.must("DELETE", "/meshes/demo", "", 200)
	c.must("GET", "/meshes/demo", "", 404)
	if p := c.must("GET", "/meshtrafficpermissions", "", 200); p["total"] != float64(0) {
		t.Fatalf("policies of a deleted mesh remain: %v", p)
	}
	// Re-creating the mesh does not resurrect its policies.
	c.must("PUT", "/meshes/demo", `{"type":"Mesh","name":"demo"}`, 201)
	c.must("GET", "/meshes/demo/meshtrafficpermissions/allow-all", "", 404)
}

func TestReadYourWrites(t *testing.T) { onBothBackends(t, testReadYourWrites) }

func testReadYourWrites(t *testing.T, c client) {
	path := "/meshes/default/dataplanes/dp"
	for i := range 30 {
		c.must("PUT", path, fmt.Sprintf(dataplaneYAML, "default", "dp", 20000+i, "svc"), map[bool]int{true: 201, false: 200}[i == 0])
		got := c.must("GET", path, "", 200)
		port := got["networking"].(map[string]any)["inbound"].([]any)[0].(map[string]any)["port"]
		if port != float64(20000+i) {
			t.Fatalf("write %d not visible to the next read: port %v", i, port)
		}
		// A list reflects the write too, whichever store answers it.
		c.must("PUT", fmt.Sprintf("/meshes/default/dataplanes/dp-%02d", i), fmt.Sprintf(dataplaneYAML, "default",
			fmt.Sprintf("dp-%02d", i), 21000+i, "svc"), 201)
		list := c.must("GET", "/meshes/default/dataplanes?name=dp-&size=1&offset="+fmt.Sprint(i), "", 200)
		items := list["items"].([]any)
		if list["total"] != float64(i+1) || len(items) != 1 || items[0].(map[string]any)["name"] != fmt.Sprintf("dp-%02d", i) {
			t.Fatalf("create %d not visible to the next list: %v", i, list)
		}
	}
}

func TestConcurrentCreatesOneWins(t *testing.T) {
	c, _ := newClient(t)
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", c.base+"/meshes/default/meshtrafficpermissions/allow-all", bytes.NewBufferString(mtpJSON))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	created := 0
	for _, code := range codes {
		switch code {
		case 201:
			created++
		case 200, 409:
		default:
			t.Fatalf("unexpected status %d in %v", code, codes)
		}
	}
	if created != 1 {
		t.Fatalf("exactly one create must win, got %d (%v)", created, codes)
	}
}

func TestRestartKeepsStateAndDeletedDefaultMesh(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	c := client{t: t, base: cp.URL}
	c.must("PUT", "/meshes/kept", `{"type":"Mesh","name":"kept"}`, 201)
	c.must("DELETE", "/meshes/default", "", 200)
	cp.Stop(t)

	cp2 := cptest.Start(t, dir)
	c2 := client{t: t, base: cp2.URL}
	c2.must("GET", "/meshes/kept", "", 200)
	c2.must("GET", "/meshes/default", "", 404) // a deleted default mesh stays deleted
}

func TestTypeDescriptions(t *testing.T) {
	c, _ := newClient(t)
	m := c.must("GET", "/_resources", "", 200)
	var mtp, dp map[string]any
	for _, r := range m["resources"].([]any) {
		switch d := r.(map[string]any); d["name"] {
		case "MeshTrafficPermission":
			mtp = d
		case "DataplaneInsight":
			dp = d
		}
	}
	if mtp == nil || mtp["path"] != "meshtrafficpermissions" || mtp["scope"] != "Mesh" || mtp["policy"] == nil ||
		mtp["pluralDisplayName"] != "Mesh Traffic Permissions" {
		t.Fatalf("MeshTrafficPermission description: %v", mtp)
	}
	if dp == nil || dp["readOnly"] != true {
		t.Fatalf("insights must be read-only: %v", dp)
	}
	p := c.must("GET", "/policies", "", 200)
	if ps := p["policies"].([]any); len(ps) == 0 || ps[0].(map[string]any)["isTargetRefBased"] != true {
		t.Fatalf("policies: %v", p)
	}
}

func TestMeshInsights(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", fmt.Sprintf(dataplaneYAML, "default", "web-1", 18080, "web"), 201)
	c.must("PUT", "/meshes/default/dataplanes/web-2", fmt.Sprintf(dataplaneYAML, "default", "web-2", 18081, "web"), 201)
	c.must("PUT", "/meshes/default/meshtrafficpermissions/allow-all", mtpJSON, 201)
	list := c.must("GET", "/mesh-insights", "", 200)
	if list["total"] != float64(1) {
		t.Fatalf("mesh insights: %v", list)
	}
	m := c.must("GET", "/mesh-insights/default", "", 200)
	dps := m["dataplanes"].(map[string]any)
	if m["type"] != "MeshInsight" || dps["total"] != float64(2) || dps["offline"] != float64(2) {
		t.Fatalf("dataplane stats: %v", m)
	}
	if m["policies"].(map[string]any)["MeshTrafficPermission"].(map[string]any)["total"] != float64(1) {
		t.Fatalf("policy stats: %v", m["policies"])
	}
	if m["services"].(map[string]any)["total"] != float64(1) {
		t.Fatalf("service stats: %v", m["services"])
	}
	c.must("GET", "/mesh-insights/nope", "", 404)
}
