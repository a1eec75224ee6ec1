package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// getURL fetches an absolute URL (a next link) and decodes the JSON answer.
func getURL(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return m
}

// putWithRequestID writes a resource with an X-Request-Id, which becomes the correlation id.
func putWithRequestID(t *testing.T, c client, path, body, id string, want int) {
	t.Helper()
	req, _ := http.NewRequest("PUT", c.base+path, strings.NewReader(body))
	req.Header.Set("X-Request-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, raw)
	}
}

func items(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items: %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

func mtp(name, action string) string {
	return fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":%q,
 "spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":%q}}]}}`, name, action)
}

func action(t *testing.T, res map[string]any) string {
	t.Helper()
	spec, _ := res["spec"].(map[string]any)
	from, _ := spec["from"].([]any)
	if len(from) == 0 {
		t.Fatalf("no spec.from in %v", res)
	}
	return fmt.Sprint(from[0].(map[string]any)["default"].(map[string]any)["action"])
}

func TestResourceHistory(t *testing.T) { onBothBackends(t, testResourceHistory) }

func testResourceHistory(t *testing.T, c client) {
	path := "/meshes/default/meshtrafficpermissions/p"
	c.must("PUT", path, mtp("p", "Allow"), 201)
	putWithRequestID(t, c, path, mtp("p", "Deny"), "req-42", 200)
	c.must("PUT", path, mtp("p", "Deny"), 200) // no change: no event
	c.must("DELETE", path, "", 200)
	c.must("PUT", path, mtp("p", "Allow"), 201)

	h := c.must("GET", path+"/_history", "", 200)
	if h["total"] != float64(4) || h["next"] != nil {
		t.Fatalf("history total/next: %v", h)
	}
	its := items(t, h)
	wantTypes := []string{"upserted", "deleted", "upserted", "upserted"}
	wantActions := []string{"Allow", "", "Deny", "Allow"}
	prevSeq := float64(1 << 62)
	for i, it := range its {
		if it["revision"] != float64(4-i) || it["type"] != wantTypes[i] {
			t.Errorf("item %d: revision %v type %v, want %d %s", i, it["revision"], it["type"], 4-i, wantTypes[i])
		}
		if it["actor"] != "user:mesh-system:admin" || it["origin"] != "zone:default" || it["time"] == nil {
			t.Errorf("item %d attribution: %v", i, it)
		}
		seq := it["sequence"].(float64)
		if seq >= prevSeq {
			t.Errorf("item %d: sequence %v not below %v (newest first)", i, seq, prevSeq)
		}
		prevSeq = seq
		res, has := it["resource"].(map[string]any)
		if wantActions[i] == "" {
			if has {
				t.Errorf("deletion carries a resource: %v", it)
			}
			continue
		}
		if res["name"] != "p" || action(t, res) != wantActions[i] {
			t.Errorf("item %d resource: %v", i, res)
		}
	}
	if its[2]["correlationId"] != "req-42" {
		t.Errorf("X-Request-Id is the correlation id: %v", its[2])
	}

	asc := items(t, c.must("GET", path+"/_history?order=asc", "", 200))
	if asc[0]["revision"] != float64(1) || asc[3]["revision"] != float64(4) {
		t.Errorf("order=asc: %v", asc)
	}

	// Pagination: size 3, then the next link.
	p1 := c.must("GET", path+"/_history?size=3", "", 200)
	if len(items(t, p1)) != 3 || p1["total"] != float64(4) || p1["next"] == nil {
		t.Fatalf("page 1: %v", p1)
	}
	p2 := getURL(t, p1["next"].(string))
	if got := items(t, p2); len(got) != 1 || got[0]["revision"] != float64(1) || p2["next"] != nil {
		t.Fatalf("page 2: %v", p2)
	}

	// Global-scoped types: /{ws}/{name}/_history; the default mesh was made by the CP itself.
	mh := items(t, c.must("GET", "/meshes/default/_history", "", 200))
	if len(mh) != 1 || mh[0]["actor"] != "system:control-plane" || mh[0]["resource"].(map[string]any)["type"] != "Mesh" {
		t.Errorf("mesh history: %v", mh)
	}

	// Never existed: 404 in Kuma's error shape.
	nf := c.must("GET", "/meshes/default/meshtrafficpermissions/never/_history", "", 404)
	if nf["status"] != float64(404) || nf["type"] != "/std-errors" {
		t.Errorf("404 shape: %v", nf)
	}
	c.must("GET", "/meshes/nope/_history", "", 404)
	if code, _, _ := c.do("PUT", path+"/_history", "{}"); code != 405 {
		t.Errorf("PUT on _history: %d, want 405", code)
	}
}

// historySeqTime returns the sequence and time of a resource's revision.
func historySeqTime(t *testing.T, c client, path string, revision int) (string, string) {
	t.Helper()
	for _, it := range items(t, c.must("GET", path+"/_history", "", 200)) {
		if it["revision"] == float64(revision) {
			return fmt.Sprintf("%.0f", it["sequence"].(float64)), it["time"].(string)
		}
	}
	t.Fatalf("%s has no revision %d", path, revision)
	return "", ""
}

func TestPointInTime(t *testing.T) {
	c, _ := newClient(t)
	a, b := "/meshes/default/meshtrafficpermissions/a", "/meshes/default/meshtrafficpermissions/b"
	list := "/meshes/default/meshtrafficpermissions"
	c.must("PUT", a, mtp("a", "Allow"), 201)
	c.must("PUT", a, mtp("a", "Deny"), 200)
	c.must("PUT", b, mtp("b", "Allow"), 201)
	c.must("DELETE", a, "", 200)
	seqA1, _ := historySeqTime(t, c, a, 1)
	seqA2, timeA2 := historySeqTime(t, c, a, 2)

	if got := action(t, c.must("GET", a+"?at="+seqA1, "", 200)); got != "Allow" {
		t.Errorf("a at %s: %s, want Allow", seqA1, got)
	}
	if got := action(t, c.must("GET", a+"?at="+seqA2, "", 200)); got != "Deny" {
		t.Errorf("a at %s: %s, want Deny", seqA2, got)
	}
	if got := action(t, c.must("GET", a+"?at="+url.QueryEscape(timeA2), "", 200)); got != "Deny" {
		t.Errorf("a at %s: %s, want Deny", timeA2, got)
	}
	c.must("GET", a, "", 404)                            // deleted now
	c.must("GET", b+"?at="+seqA2, "", 404)               // created later
	c.must("GET", a+"?at=2000-01-01T00:00:00Z", "", 404) // before it existed
	c.must("GET", b+"?at=2999-01-01T00:00:00Z", "", 200) // future: as now

	for _, at := range []string{seqA2, url.QueryEscape(timeA2)} {
		past := c.must("GET", list+"?at="+at, "", 200)
		its := items(t, past)
		if past["total"] != float64(1) || its[0]["name"] != "a" || action(t, its[0]) != "Deny" {
			t.Errorf("list at %s: %v", at, past)
		}
	}
	now := items(t, c.must("GET", list, "", 200))
	if len(now) != 1 || now[0]["name"] != "b" {
		t.Errorf("list now: %v", now)
	}
	if meshes := c.must("GET", "/meshes?at="+seqA1, "", 200); meshes["total"] != float64(1) {
		t.Errorf("meshes at %s: %v", seqA1, meshes)
	}
	// Before the default mesh existed, its collections are 404 as for any missing mesh.
	c.must("GET", list+"?at=2000-01-01T00:00:00Z", "", 404)

	for _, p := range []string{a + "?at=yesterday", list + "?at=-1", "/meshes?at=2024-13-01"} {
		e := c.must("GET", p, "", 400)
		params, _ := e["invalid_parameters"].([]any)
		if len(params) != 1 || params[0].(map[string]any)["field"] != "at" {
			t.Errorf("%s: %v", p, e)
		}
	}
}
