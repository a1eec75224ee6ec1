package api_test

import (
	"fmt"
	"testing"
)

func changes(t *testing.T, d map[string]any) []map[string]any {
	t.Helper()
	raw, ok := d["changes"].([]any)
	if !ok {
		t.Fatalf("no changes: %v", d)
	}
	out := make([]map[string]any, len(raw))
	for i, c := range raw {
		out[i] = c.(map[string]any)
	}
	return out
}

func TestResourceDiff(t *testing.T) { onBothBackends(t, testResourceDiff) }

func testResourceDiff(t *testing.T, c client) {
	path := "/meshes/default/meshtrafficpermissions/p"
	c.must("PUT", path, mtp("p", "Allow"), 201)
	c.must("PUT", path, mtp("p", "Deny"), 200)
	c.must("DELETE", path, "", 200)

	// Defaults: the previous revision against the latest (a deletion: everything removed).
	d := c.must("GET", path+"/_diff", "", 200)
	if d["from"].(map[string]any)["revision"] != float64(2) || d["to"].(map[string]any)["deleted"] != true {
		t.Errorf("default revisions: %v", d)
	}
	removed := map[string]bool{}
	for _, ch := range changes(t, d) {
		if ch["op"] != "remove" {
			t.Errorf("diff to a deletion: %v", ch)
		}
		removed[ch["path"].(string)] = true
	}
	if !removed["/spec"] || !removed["/labels"] {
		t.Errorf("diff to a deletion removes labels and spec: %v", d)
	}

	d = c.must("GET", path+"/_diff?from=1&to=2", "", 200)
	want := fmt.Sprint([]map[string]any{{"op": "replace", "path": "/spec/from/0/default/action", "from": "Allow", "to": "Deny"}})
	if got := fmt.Sprint(changes(t, d)); got != want {
		t.Errorf("diff 1..2: %s, want %s", got, want)
	}
	if f := d["from"].(map[string]any); f["revision"] != float64(1) || f["sequence"] == nil {
		t.Errorf("from: %v", f)
	}
	if got := changes(t, c.must("GET", path+"/_diff?from=2&to=2", "", 200)); len(got) != 0 {
		t.Errorf("diff of a revision with itself: %v", got)
	}
	// The first revision against nothing: all adds, from null.
	first := c.must("GET", path+"/_diff?to=1", "", 200)
	if first["from"] != nil || len(changes(t, first)) == 0 || changes(t, first)[0]["op"] != "add" {
		t.Errorf("diff to=1: %v", first)
	}

	// A legacy type: the spec is inline.
	c.must("PUT", "/meshes/demo", `{"type":"Mesh","name":"demo"}`, 201)
	c.must("PUT", "/meshes/demo", `{"type":"Mesh","name":"demo","labels":{"team":"a"},"routing":{"localityAwareLoadBalancing":true}}`, 200)
	md := changes(t, c.must("GET", "/meshes/demo/_diff", "", 200))
	if len(md) != 2 || md[0]["path"] != "/labels" || md[1]["op"] != "add" || md[1]["path"] != "/routing" {
		t.Errorf("mesh diff: %v", md)
	}

	c.must("GET", path+"/_diff?from=9", "", 404)
	c.must("GET", path+"/_diff?to=9", "", 404)
	c.must("GET", "/meshes/default/meshtrafficpermissions/never/_diff", "", 404)
	for _, q := range []string{"from=x", "to=0", "from=-1"} {
		c.must("GET", path+"/_diff?"+q, "", 400)
	}
	if code, _, _ := c.do("POST", path+"/_diff", ""); code != 405 {
		t.Errorf("POST on _diff: %d, want 405", code)
	}
}

func TestResourceRevert(t *testing.T) {
	c, _ := newClient(t)
	path := "/meshes/default/meshtrafficpermissions/p"
	c.must("PUT", path, mtp("p", "Allow"), 201)
	c.must("PUT", path, mtp("p", "Deny"), 200)

	// Revert an update.
	putWithRequestID(t, c, path, mtp("p", "Deny"), "unused", 200) // no change, no event
	r := c.must("POST", path+"/_revert?revision=1", "", 200)
	if r["changed"] != true || r["revertedTo"] != float64(1) {
		t.Errorf("revert: %v", r)
	}
	if got := action(t, c.must("GET", path, "", 200)); got != "Allow" {
		t.Errorf("after revert to 1: %s, want Allow", got)
	}
	h := items(t, c.must("GET", path+"/_history", "", 200))
	if len(h) != 3 || h[0]["revision"] != float64(3) || h[0]["reason"] != "revert to revision 1" ||
		h[0]["actor"] != "user:mesh-system:admin" || h[1]["reason"] != nil {
		t.Errorf("history after revert: %v", h)
	}
	// Reverting to the content it already has writes nothing.
	if r := c.must("POST", path+"/_revert?revision=3", "", 200); r["changed"] != false {
		t.Errorf("no-op revert: %v", r)
	}

	// Revert to a deleted state deletes; reverting back to a revision re-creates.
	c.must("DELETE", path, "", 200)
	c.must("PUT", path, mtp("p", "Deny"), 201)
	c.must("POST", path+"/_revert?revision=4", "", 200) // revision 4 is the deletion
	c.must("GET", path, "", 404)
	h = items(t, c.must("GET", path+"/_history", "", 200))
	if h[0]["type"] != "deleted" || h[0]["reason"] != "revert to revision 4" {
		t.Errorf("history after revert to deletion: %v", h[0])
	}
	c.must("POST", path+"/_revert?revision=2", "", 200)
	if got := action(t, c.must("GET", path, "", 200)); got != "Deny" {
		t.Errorf("after revert to 2: %s", got)
	}
	// The event feed carries the reason as a CloudEvents extension attribute.
	feed := items(t, c.must("GET", "/events?name=p&type=MeshTrafficPermission", "", 200))
	if last := feed[len(feed)-1]; last["reason"] != "revert to revision 2" {
		t.Errorf("feed: %v", last)
	}

	c.must("POST", path+"/_revert?revision=99", "", 404)
	c.must("POST", "/meshes/default/meshtrafficpermissions/never/_revert?revision=1", "", 404)
	for _, q := range []string{"", "?revision=x", "?revision=0"} {
		c.must("POST", path+"/_revert"+q, "", 400)
	}
	if code, _, _ := c.do("GET", path+"/_revert?revision=1", ""); code != 405 {
		t.Errorf("GET on _revert: %d, want 405", code)
	}
}
