package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

func mtp(name, action string) string {
	return fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":%q,
 "spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":%q}}]}}`, name, action)
}

func send(t *testing.T, cp *cptest.CP, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, cp.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
}

// ctl runs jetmeshctl against cp and returns its exit status, stdout and stderr.
func ctl(t *testing.T, cp *cptest.CP, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--api-address", cp.URL), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// mustCtl runs jetmeshctl and fails the test unless it succeeds.
func mustCtl(t *testing.T, cp *cptest.CP, args ...string) string {
	t.Helper()
	code, out, errOut := ctl(t, cp, args...)
	if code != 0 {
		t.Fatalf("jetmeshctl %v: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// hasRow reports whether a table row holds the words in order.
func hasRow(out string, words ...string) bool {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(`(?m)^\s*` + strings.Join(parts, `\s+`) + `(\s|$)`).MatchString(out)
}

func TestJetmeshctl(t *testing.T) {
	cp := cptest.Start(t, "")
	path := "/meshes/default/meshtrafficpermissions/p"
	send(t, cp, "PUT", path, mtp("p", "Allow"))
	before := time.Now().UTC().Format(time.RFC3339Nano)
	send(t, cp, "PUT", path, mtp("p", "Deny"))

	// history: both revisions, newest first, via kumactl's type names.
	for _, typ := range []string{"meshtrafficpermission", "meshtrafficpermissions", "mtp", "MeshTrafficPermission"} {
		out := mustCtl(t, cp, "history", typ, "p", "--mesh", "default")
		if !hasRow(out, "REVISION", "SEQ", "TIME", "ACTION", "ACTOR") || !hasRow(out, "2") || !hasRow(out, "1") ||
			strings.Index(out, "\n2 ") > strings.Index(out, "\n1 ") {
			t.Errorf("history %s:\n%s", typ, out)
		}
	}
	if out := mustCtl(t, cp, "history", "mtp", "p", "-o", "json"); !strings.Contains(out, `"revision": 2`) {
		t.Errorf("history -o json:\n%s", out)
	}

	// diff: the changed path with both values.
	out := mustCtl(t, cp, "diff", "mtp", "p")
	if !hasRow(out, "replace", "/spec/from/0/default/action", "Allow", "Deny") || !strings.Contains(out, "From revision 1") {
		t.Errorf("diff:\n%s", out)
	}
	if out := mustCtl(t, cp, "diff", "mtp", "p", "--from", "2", "--to", "2"); !strings.Contains(out, ": 0 changes") {
		t.Errorf("diff of one revision with itself:\n%s", out)
	}

	// get --at: the old state, by time and by sequence; now: the new one.
	if out := mustCtl(t, cp, "get", "mtp", "p", "--at", before, "-o", "yaml"); !strings.Contains(out, "action: Allow") {
		t.Errorf("get --at %s:\n%s", before, out)
	}
	if out := mustCtl(t, cp, "get", "mtp", "p", "-o", "json"); !strings.Contains(out, `"action": "Deny"`) {
		t.Errorf("get now:\n%s", out)
	}
	if out := mustCtl(t, cp, "get", "meshtrafficpermissions"); !hasRow(out, "default", "p", "MeshTrafficPermission") {
		t.Errorf("get list:\n%s", out)
	}
	if out := mustCtl(t, cp, "get", "meshes", "--at", "1"); !hasRow(out, "-", "default", "Mesh") {
		t.Errorf("get meshes --at 1:\n%s", out)
	}

	// events: the applies, filtered.
	out = mustCtl(t, cp, "events", "--type", "mtp", "--name", "p")
	if !hasRow(out, "SEQ", "TIME", "TYPE", "ACTION", "MESH", "NAME", "ACTOR") ||
		strings.Count(out, "MeshTrafficPermission   upserted") != 2 || !strings.Contains(out, "user:mesh-system:admin") {
		t.Errorf("events:\n%s", out)
	}
	if out := mustCtl(t, cp, "events", "--mesh", "default", "--limit", "1", "-o", "yaml"); !strings.Contains(out, "specversion:") {
		t.Errorf("events -o yaml:\n%s", out)
	}
	// audit: the same query by its other name; --until before the second write keeps only the first.
	out = mustCtl(t, cp, "audit", "--actor", "user:mesh-system:admin", "--type", "mtp", "--since", "1h", "--until", before)
	if strings.Count(out, "MeshTrafficPermission   upserted") != 1 {
		t.Errorf("audit --until:\n%s", out)
	}
	if out := mustCtl(t, cp, "audit", "--until", "2000-01-01T00:00:00Z", "-o", "json"); !strings.Contains(out, "[]") {
		t.Errorf("audit before anything happened:\n%s", out)
	}

	// revert: back to revision 1, recorded with its reason.
	if out := mustCtl(t, cp, "revert", "mtp", "p", "--revision", "1"); !strings.Contains(out, "reverted to revision 1") {
		t.Errorf("revert:\n%s", out)
	}
	if out := mustCtl(t, cp, "get", "mtp", "p", "-o", "yaml"); !strings.Contains(out, "action: Allow") {
		t.Errorf("after revert:\n%s", out)
	}
	if out := mustCtl(t, cp, "history", "mtp", "p"); !strings.Contains(out, "revert to revision 1") {
		t.Errorf("history after revert:\n%s", out)
	}
}

func TestJetmeshctlErrors(t *testing.T) {
	cp := cptest.Start(t, "")
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"history", "mtp"}, 2, "history takes 2 arguments, got 1"},
		{[]string{"events", "-o", "xml"}, 2, `-o "xml"`},
		{[]string{"get", "mtp", "--at", "yesterday"}, 2, `--at "yesterday"`},
		{[]string{"revert", "mtp", "p"}, 2, "--revision is required"},
		{[]string{"events", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"history", "widgets", "x"}, 1, `unknown resource type "widgets"`},
		{[]string{"history", "mtp", "never"}, 1, "Not found"},
		{[]string{"diff", "mtp", "never"}, 1, "Not found"},
	} {
		code, out, errOut := ctl(t, cp, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.err) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("jetmeshctl %v: exit %d, stdout %q, stderr %q; want exit %d and one line with %q",
				tt.args, code, out, errOut, tt.code, tt.err)
		}
	}
	for _, cmd := range []string{"events", "history", "diff", "get", "revert"} {
		code, out, _ := ctl(t, cp, cmd, "--help")
		if code != 0 || !strings.Contains(out, "Usage: jetmeshctl "+cmd) || !strings.Contains(out, "-api-address") {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestJetmeshctlFollow(t *testing.T) {
	cp := cptest.Start(t, "")
	send(t, cp, "PUT", "/meshes/default/meshtrafficpermissions/old", mtp("old", "Allow"))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, []string{"events", "--follow", "--since", "1h", "--type", "mtp",
			"--api-address", cp.URL}, &stdout, &stderr)
	}()
	waitFor(t, &stdout, "old") // the past first (--since)
	send(t, cp, "PUT", "/meshes/default/meshtrafficpermissions/new", mtp("new", "Deny"))
	waitFor(t, &stdout, "new") // then live
	cancel()
	select {
	case code := <-done:
		if code != 0 || stderr.String() != "" {
			t.Errorf("follow ended with %d, stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end on interrupt")
	}
	if out := stdout.String(); !hasRow(out, "SEQ", "TIME") || strings.Contains(out, "Mesh    ") {
		t.Errorf("follow output:\n%s", out)
	}
}

// waitFor polls the output until a row names the resource, with a deadline.
func waitFor(t *testing.T, out *syncBuffer, name string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)\s` + name + `\s+user:`)
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !re.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no event for %s in:\n%s", name, out.String())
		}
		<-tick.C
	}
}

// inspect shows, per inbound and outbound, the policies that apply and the merged result.
func TestInspectDataplane(t *testing.T) {
	cp := cptest.Start(t, "", cptest.BareDefaultMesh())
	send(t, cp, "PUT", "/meshes/default/dataplanes/web-1", `{"type":"Dataplane","mesh":"default","name":"web-1",
 "networking":{"address":"127.0.0.1","inbound":[{"port":18080,"tags":{"kuma.io/service":"web"}}],
 "outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}`)
	send(t, cp, "PUT", "/meshes/default/meshtimeouts/all", `{"type":"MeshTimeout","mesh":"default","name":"all","spec":{
 "to":[{"targetRef":{"kind":"Mesh"},"default":{"idleTimeout":"1h"}}],"from":[{"targetRef":{"kind":"Mesh"},"default":{"idleTimeout":"2h"}}]}}`)
	send(t, cp, "PUT", "/meshes/default/meshtimeouts/web", `{"type":"MeshTimeout","mesh":"default","name":"web","spec":{
 "targetRef":{"kind":"MeshService","name":"web"},"to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"connectionTimeout":"2s"}}]}}`)

	out := mustCtl(t, cp, "inspect", "dataplane", "web-1")
	if !hasRow(out, "MeshTimeout", "outbound 127.0.0.1:10001", "backend", "all,web", `{"connectionTimeout":"2s","idleTimeout":"1h0m0s"}`) ||
		!hasRow(out, "MeshTimeout", "inbound 127.0.0.1:18080", "web", "all", `{"idleTimeout":"2h0m0s"}`) {
		t.Errorf("inspect output:\n%s", out)
	}
	if code, _, _ := ctl(t, cp, "inspect", "mesh", "default"); code != 2 {
		t.Errorf("inspect mesh: exit %d, want 2", code)
	}
	if code, _, errOut := ctl(t, cp, "inspect", "dataplane", "nope"); code != 1 {
		t.Errorf("inspect of a missing dataplane: exit %d (%s)", code, errOut)
	}
}

// jetmeshctl replication shows a zone's copies of the global's log and the global's copy of
// the zone's, and says a standalone control plane has none.
func TestReplication(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	code, token := func() (int, string) {
		resp, err := http.Post(g.URL+"/tokens/zone", "application/json", strings.NewReader(`{"zone":"zone-1","scope":["cp"]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}()
	if code != http.StatusOK {
		t.Fatalf("zone token: %d %s", code, token)
	}
	z := cptest.Start(t, "", cptest.Zone("zone-1", port, g.KDSCACertFile(), token))
	send(t, g, http.MethodPut, "/meshes/demo", `{"type":"Mesh","name":"demo"}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := mustCtl(t, z, "replication")
		gout := mustCtl(t, g, "replication")
		caughtUp := regexp.MustCompile(`(?m)^JETMESH_GLOBAL\s.*\sok\s`)
		if caughtUp.MatchString(out) && hasRow(gout, "JETMESH_ZONE_zone-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication never reported caught up:\nzone:\n%s\nglobal:\n%s", out, gout)
		}
		time.Sleep(200 * time.Millisecond) // polling step of a deadline-bound wait
	}
	standalone := cptest.Start(t, "")
	if code, _, stderr := ctl(t, standalone, "replication"); code != 1 || !strings.Contains(stderr, "standalone") {
		t.Errorf("replication on a standalone CP: exit %d, %q", code, stderr)
	}
}
