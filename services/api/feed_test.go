package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEventFeedFiltersAndPagination(t *testing.T) { onBothBackends(t, testEventFeed) }

func testEventFeed(t *testing.T, c client) {
	c.must("PUT", "/meshes/default/meshtrafficpermissions/one", mtp("one", "Allow"), 201)
	c.must("PUT", "/meshes/default/meshtrafficpermissions/one", mtp("one", "Deny"), 200)
	c.must("PUT", "/meshes/default/meshtrafficpermissions/two", mtp("two", "Allow"), 201)
	c.must("PUT", "/meshes/other", `{"type":"Mesh","name":"other","skipCreatingInitialPolicies":["*"]}`, 201)
	c.must("DELETE", "/meshes/default/meshtrafficpermissions/one", "", 200)

	all := items(t, c.must("GET", "/events", "", 200))
	if len(all) != 6 { // default mesh + 5 writes
		t.Fatalf("all events: %d, want 6: %v", len(all), all)
	}
	for i, e := range all {
		if e["specversion"] != "1.0" || e["id"] == "" || e["subject"] == "" || e["source"] == "" {
			t.Errorf("event %d is not a CloudEvent: %v", i, e)
		}
		if i > 0 && e["sequence"].(float64) <= all[i-1]["sequence"].(float64) {
			t.Errorf("events not oldest first: %v", all)
		}
	}
	count := func(query string) int {
		t.Helper()
		return len(items(t, c.must("GET", "/events?"+query, "", 200)))
	}
	for query, want := range map[string]int{
		"type=MeshTrafficPermission&mesh=default": 4,
		"type=meshtrafficpermissions":             4,
		"type=Mesh":                               2,
		"name=one":                                3,
		"name=one&type=Mesh":                      0,
		"actor=system:control-plane":              1,
		"actor=" + url.QueryEscape("user:mesh-system:admin"): 5,
		"zone=default":                           6,
		"zone=global":                            0,
		"mesh=other":                             1, // the mesh itself
		"mesh=default":                           5,
		"since=2999-01-01T00:00:00Z":             0,
		"until=2000-01-01T00:00:00Z":             0,
		"since=2000-01-01T00:00:00Z":             6,
		"from=" + fmt.Sprint(all[3]["sequence"]): 3,
	} {
		if got := count(query); got != want {
			t.Errorf("/events?%s: %d events, want %d", query, got, want)
		}
	}
	// since/until bound by the events' own times.
	third := all[2]["time"].(string)
	if got := count("since=" + url.QueryEscape(third)); got != 4 {
		t.Errorf("since %s: %d, want 4", third, got)
	}
	if got := count("until=" + url.QueryEscape(third)); got != 3 {
		t.Errorf("until %s: %d, want 3", third, got)
	}

	// Pages of 2 over a filter, following next links that carry the next sequence.
	var paged []map[string]any
	m := c.must("GET", "/events?size=2&name=one", "", 200)
	for pages := 1; ; pages++ {
		paged = append(paged, items(t, m)...)
		next, ok := m["next"].(string)
		if !ok {
			break
		}
		if pages > 5 || !strings.Contains(next, "from=") || !strings.Contains(next, "name=one") {
			t.Fatalf("next link %q", next)
		}
		m = getURL(t, next)
	}
	if len(paged) != 3 || paged[0]["sequence"] != all[1]["sequence"] || paged[2]["type"] != "io.jetmesh.resource.deleted.v1" {
		t.Errorf("paged: %v", paged)
	}

	for _, q := range []string{"since=yesterday", "until=1", "from=x", "size=0"} {
		code, e, _ := c.do("GET", "/events?"+q, "")
		field := strings.SplitN(q, "=", 2)[0]
		params, _ := e["invalid_parameters"].([]any)
		if code != 400 || len(params) != 1 || params[0].(map[string]any)["field"] != field {
			t.Errorf("/events?%s: %d %v", q, code, e)
		}
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// readSSE reads the next event from a stream.
func readSSE(t *testing.T, rd *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.id != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
				t.Fatalf("data %q: %v", line, err)
			}
		}
	}
}

// openStream connects to the live feed; the deadline bounds every read from it.
func openStream(t *testing.T, ctx context.Context, base, query string, header http.Header) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp, bufio.NewReader(resp.Body)
}

// streamHandlers counts the API's live-stream handlers running in this process.
func streamHandlers() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "services/api.(*Server).follow(")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventStream(t *testing.T) {
	c, cp := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Live from now: the default mesh's event is not replayed.
	resp, rd := openStream(t, ctx, c.base, "?follow=true&type=MeshTrafficPermission", nil)
	c.must("PUT", "/meshes/default/meshtrafficpermissions/live", mtp("live", "Allow"), 201)
	ev := readSSE(t, rd)
	if ev.event != "io.jetmesh.resource.upserted.v1" || ev.data["specversion"] != "1.0" ||
		!strings.HasSuffix(fmt.Sprint(ev.data["subject"]), ".live") || ev.id != fmt.Sprintf("%.0f", ev.data["sequence"]) {
		t.Fatalf("event: %+v", ev)
	}
	if streamHandlers() != 1 {
		t.Fatalf("stream handlers running: %d, want 1", streamHandlers())
	}
	// The client goes away: the handler returns.
	_ = resp.Body.Close()
	waitFor(t, "the stream handler to return", func() bool { return streamHandlers() == 0 })

	// Resume with Last-Event-ID (and Accept instead of follow): the stream starts after it.
	id, _ := strconv.ParseUint(ev.id, 10, 64)
	c.must("DELETE", "/meshes/default/meshtrafficpermissions/live", "", 200)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	_, rd = openStream(t, ctx2, c.base, "", http.Header{
		"Accept": {"text/event-stream"}, "Last-Event-Id": {strconv.FormatUint(id-1, 10)},
	})
	if again := readSSE(t, rd); again.id != ev.id {
		t.Fatalf("resumed at %s, want %s", again.id, ev.id)
	}
	if del := readSSE(t, rd); del.event != "io.jetmesh.resource.deleted.v1" {
		t.Fatalf("after resume: %+v", del)
	}
	// A CP shutdown ends open streams instead of waiting for them.
	start := time.Now()
	cp.Stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop with an open stream took %v", d)
	}
	waitFor(t, "streams to end on shutdown", func() bool { return streamHandlers() == 0 })
}
