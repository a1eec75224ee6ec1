package controlplane_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

func status(t *testing.T, method, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A graceful stop writes a checkpoint and the next start resumes from it instead of replaying
// the log. To see that the replay really was skipped, the test marks the checkpoint's copy of
// a mesh; only a start that read the checkpoint can show the mark.
func TestRestartResumesFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	if code := status(t, "PUT", cp.URL+"/meshes/one", `{"type":"Mesh","name":"one"}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	cp.Stop(t)

	path := filepath.Join(dir, "checkpoints", "state.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no checkpoint after a graceful stop: %v", err)
	}
	marked := strings.Replace(string(raw), `"name":"one",`, `"name":"one","labels":{"from":"checkpoint"},`, 1)
	if marked == string(raw) {
		t.Fatalf("could not find mesh one in the checkpoint: %.300s", raw)
	}
	if err := os.WriteFile(path, []byte(marked), 0o600); err != nil {
		t.Fatal(err)
	}

	cp2 := cptest.Start(t, dir)
	resp, err := http.Get(cp2.URL + "/meshes/one")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if labels, _ := m["labels"].(map[string]any); labels["from"] != "checkpoint" {
		t.Fatalf("the restart replayed the log instead of resuming from the checkpoint: %v", m)
	}
	// Writes after the checkpoint are replayed on top of it.
	if code := status(t, "PUT", cp2.URL+"/meshes/two", `{"type":"Mesh","name":"two"}`); code != 201 {
		t.Fatalf("create after resume: %d", code)
	}
}

// A checkpoint that does not belong to the log (here: the log was wiped) is ignored.
func TestCheckpointOfAnotherLogIsIgnored(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	if code := status(t, "PUT", cp.URL+"/meshes/gone", `{"type":"Mesh","name":"gone"}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	cp.Stop(t)
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}
	cp2 := cptest.Start(t, dir)
	if code := status(t, "GET", cp2.URL+"/meshes/gone", ""); code != 404 {
		t.Fatalf("a mesh from a stale checkpoint is served: %d", code)
	}
	if code := status(t, "GET", cp2.URL+"/meshes/default", ""); code != 200 {
		t.Fatalf("default mesh of the new log missing: %d", code)
	}
}

// expectedAt folds GET /events up to sequence at into the names of live policies.
func expectedAt(t *testing.T, base string, at uint64) []string {
	t.Helper()
	var page struct {
		Items []struct {
			Sequence uint64 `json:"sequence"`
			Type     string `json:"type"`
			Subject  string `json:"subject"`
			Data     struct {
				Type, Name string
			} `json:"data"`
		} `json:"items"`
	}
	getJSON(t, base+"/events?size=1000&type=MeshTrafficPermission", &page)
	live := map[string]bool{}
	bySubject := map[string]string{}
	for _, it := range page.Items {
		if it.Sequence > at {
			break
		}
		if it.Data.Name != "" {
			bySubject[it.Subject] = it.Data.Name
		}
		live[bySubject[it.Subject]] = it.Type != "io.jetmesh.resource.deleted.v1"
	}
	var out []string
	for name, ok := range live {
		if ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// listAt returns the policy names of a list at a point and the sequence its replay started at.
func listAt(t *testing.T, base, at string) ([]string, uint64) {
	t.Helper()
	resp, err := http.Get(base + "/meshes/default/meshtrafficpermissions?size=1000&at=" + url.QueryEscape(at))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Items []struct{ Name string } `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list at %s: %d %v", at, resp.StatusCode, err)
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Name)
	}
	sort.Strings(names)
	from, _ := strconv.ParseUint(resp.Header.Get("X-Jetmesh-Replay-From"), 10, 64)
	return names, from
}

// A list with ?at= replays from the newest past checkpoint at or before its point, not from
// sequence 1, and answers exactly what the log says the state was then.
func TestPointInTimeStartsFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir, cptest.BareDefaultMesh(), func(c *controlplane.Config) {
		c.Checkpoint.Events, c.Checkpoint.Interval, c.Checkpoint.Keep = 5, controlplane.Duration(time.Hour), 3
	})
	policy := func(name string) string {
		return fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":%q,"spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, name)
	}
	for i := range 30 { // sequences 2..31 (1 is the default mesh); every third write deletes
		name := fmt.Sprintf("p-%d", i)
		if i%3 == 2 {
			name = fmt.Sprintf("p-%d", i-1)
			if code := status(t, "DELETE", cp.URL+"/meshes/default/meshtrafficpermissions/"+name, ""); code != 200 {
				t.Fatalf("delete %s: %d", name, code)
			}
			continue
		}
		if code := status(t, "PUT", cp.URL+"/meshes/default/meshtrafficpermissions/"+name, policy(name)); code != 201 {
			t.Fatalf("create %s: %d", name, code)
		}
	}
	past := filepath.Join(dir, "checkpoints", "past")
	var kept []uint64 // sequences of the kept checkpoints, oldest first
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := os.ReadDir(past)
		kept = kept[:0]
		for _, e := range entries {
			var seq, us uint64
			if _, err := fmt.Sscanf(e.Name(), "state-%d-%d.json", &seq, &us); err == nil {
				kept = append(kept, seq)
			}
		}
		if len(kept) == 3 && kept[2] >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("past checkpoints at %v, want 3 (keep) up to at least 30", kept)
		}
		time.Sleep(10 * time.Millisecond) // polling step of a deadline-bound wait
	}
	// wantFrom is where a replay to at must start: after the newest kept checkpoint <= at.
	wantFrom := func(at uint64) uint64 {
		from := uint64(1)
		for _, k := range kept {
			if k <= at {
				from = k + 1
			}
		}
		return from
	}
	for _, at := range []uint64{kept[0] - 1, kept[0], kept[0] + 2, kept[1], kept[2] - 1, 31} {
		got, from := listAt(t, cp.URL, strconv.FormatUint(at, 10))
		if want := expectedAt(t, cp.URL, at); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("list at %d: %v, want %v", at, got, want)
		}
		if from != wantFrom(at) {
			t.Errorf("list at %d replayed from %d, want %d (checkpoints at %v)", at, from, wantFrom(at), kept)
		}
	}
	if wantFrom(kept[0]-1) != 1 || wantFrom(31) == 1 {
		t.Fatalf("test does not cover both cases: checkpoints at %v", kept)
	}
	// By time: the time of an event finds the same checkpoint as its sequence.
	at := kept[1] + 1
	var ev struct {
		Items []struct {
			Time string `json:"time"`
		} `json:"items"`
	}
	getJSON(t, cp.URL+fmt.Sprintf("/events?from=%d&size=1", at), &ev)
	got, from := listAt(t, cp.URL, ev.Items[0].Time)
	if want := expectedAt(t, cp.URL, at); strings.Join(got, ",") != strings.Join(want, ",") || from != wantFrom(at) {
		t.Errorf("list at the time of %d: %v from %d, want %v from %d", at, got, from, want, wantFrom(at))
	}
}
