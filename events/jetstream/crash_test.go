package jetstream

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/services/natsd"
)

// crashChildEnv makes the test binary run crashChild instead of the tests.
const crashChildEnv = "JETMESH_CRASH_CHILD_DIR"

// crashChild runs an embedded server on the directory named by crashChildEnv and appends events
// forever, printing "acked <sequence>" after each acknowledged append, until it is killed.
func crashChild(dir string) int {
	ctx := context.Background()
	cfg := natsd.DefaultConfig()
	cfg.Port = natsd.RandomPort
	cfg.StoreDir = dir
	srv, err := natsd.New(cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	nc, err := srv.Connect(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := New(ctx, js, testConfig(), "jetmesh://crash", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; ; i++ {
		rec, err := s.Append(ctx, events.Change{Key: key(fmt.Sprintf("dp-%d", i)), Op: events.OpUpsert,
			Revision: 1, Data: []byte(`{"n":1}`)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(os.Stdout, "acked %d\n", rec.Sequence) // os.Stdout is unbuffered
	}
}

// TestAckedAppendsSurviveKill9 kills a process that is appending with SIGKILL and checks that
// every append it saw acknowledged is in the log afterwards: the ack comes after the write left
// the process. (This passes with SyncAlways off too, since the kernel's page cache outlives the
// process; what SyncAlways adds, surviving an OS crash or power loss, a test cannot show.)
func TestAckedAppendsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 300
	var acked []uint64
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		seq, err := strconv.ParseUint(strings.TrimPrefix(lines.Text(), "acked "), 10, 64)
		if err != nil {
			t.Fatalf("child said %q", lines.Text())
		}
		acked = append(acked, seq)
		if len(acked) == killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	_ = cmd.Wait()
	if len(acked) < killAfter {
		t.Fatalf("child stopped after %d appends: %s", len(acked), stderr.String())
	}

	s := newStore(t, startServer(t, dir))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stored := map[uint64]bool{}
	if _, err := s.Read(ctx, 1, func(r events.Record) error {
		stored[r.Sequence] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, seq := range acked {
		if !stored[seq] {
			t.Errorf("acknowledged event %d lost (%d acked, %d stored)", seq, len(acked), len(stored))
		}
	}
}
