package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// checkpointSequence reads the sequence of the read model checkpoint in dataDir (0: none yet).
func checkpointSequence(t *testing.T, dataDir string) uint64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "checkpoints", "state.json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var cp struct {
		Sequence uint64 `json:"sequence"`
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		return 0 // cannot happen with the atomic rename, but a torn read must not fail the test
	}
	return cp.Sequence
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func kill9(t *testing.T, c *child) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
}

var loadedCheckpoint = regexp.MustCompile(`msg="loaded read model checkpoint".* sequence=(\d+)`)

// The read model is checkpointed while the CP runs, so a restart after kill -9 resumes from
// the newest periodic checkpoint instead of replaying the log from sequence 1, and the state it
// reaches equals a full rebuild.
func TestCrashRestartResumesFromPeriodicCheckpoint(t *testing.T) {
	t.Setenv("JETMESH_CHECKPOINT_EVENTS", "10")
	t.Setenv("JETMESH_CHECKPOINT_INTERVAL", "1h") // only the event count triggers here
	dir := t.TempDir()
	cp := startCP(t, dir)
	write := func(c *child, i int) {
		body := fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":"p-%d","spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, i)
		if code := put(t, fmt.Sprintf("%s/meshes/default/meshtrafficpermissions/p-%d", c.url, i), body); code != 201 {
			t.Fatalf("write %d: status %d\n%s", i, code, c.stderr)
		}
	}
	for i := range 35 { // sequences 2..36 after the default mesh
		write(cp, i)
	}
	deadline := time.Now().Add(30 * time.Second)
	for checkpointSequence(t, dir) < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic checkpoint at sequence >= 30 (have %d)\n%s", checkpointSequence(t, dir), cp.stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling step of a deadline-bound wait
	}
	for i := 35; i < 38; i++ { // after the checkpoint: replayed on restart
		write(cp, i)
	}
	kill9(t, cp)
	saved := checkpointSequence(t, dir)

	cp2 := startCP(t, dir)
	m := loadedCheckpoint.FindStringSubmatch(cp2.stderr.String())
	if m == nil {
		t.Fatalf("the restart after kill -9 did not load the checkpoint:\n%s", cp2.stderr)
	}
	if from, _ := strconv.ParseUint(m[1], 10, 64); from != saved || from <= 1 {
		t.Fatalf("replay resumed after sequence %d, want the checkpoint's %d (> 1)", from, saved)
	}
	lists := []string{"/meshes", "/meshes/default/meshtrafficpermissions?size=1000"}
	var resumed []string
	for _, l := range lists {
		resumed = append(resumed, getBody(t, cp2.url+l))
	}
	kill9(t, cp2)

	// A full rebuild: no checkpoint, replay from sequence 1.
	if err := os.RemoveAll(filepath.Join(dir, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	cp3 := startCP(t, dir)
	if loadedCheckpoint.MatchString(cp3.stderr.String()) {
		t.Fatalf("rebuild loaded a checkpoint:\n%s", cp3.stderr)
	}
	for i, l := range lists {
		if got := getBody(t, cp3.url+l); got != resumed[i] {
			t.Errorf("GET %s after resuming from the checkpoint differs from a full rebuild:\nresumed: %.2000s\nrebuilt: %.2000s", l, resumed[i], got)
		}
	}
	var list struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(resumed[1]), &list); err != nil || list.Total != 38 {
		t.Fatalf("resumed state holds %d policies (%v), want 38", list.Total, err)
	}
}
