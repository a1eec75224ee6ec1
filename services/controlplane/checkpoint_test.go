package controlplane_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
