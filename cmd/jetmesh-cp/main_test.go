package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the control plane binary: with this variable set it runs main's
// logic instead of the tests, so crash tests kill a real child process without a go build.
const childEnv = "JETMESH_TEST_CP_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a control plane running in a separate process.
type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited; then err is set
	err    error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, " "))
	c := &child{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	return c
}

func startCP(t *testing.T, dataDir string) *child {
	t.Helper()
	port := freePort(t)
	c := startChild(t, "run", "--data-dir", dataDir, "--api-port", fmt.Sprint(port), "--nats-port", "-1", "--dp-port", "0", "--api-https-port", "0")
	c.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("control plane exited: %v\n%s", c.err, c.stderr)
		default:
		}
		if resp, err := http.Get(c.url + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	t.Fatalf("control plane not ready within 60s\n%s", c.stderr)
	return nil
}

func put(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAcknowledgedWritesSurviveKill9 proves the durability promise: every write the API
// answered 201 is there after the process is SIGKILLed right after the last answer.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	cp := startCP(t, dir)
	const n = 40
	for i := range n {
		body := fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":"p-%d","spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`, i)
		if code := put(t, fmt.Sprintf("%s/meshes/default/meshtrafficpermissions/p-%d", cp.url, i), body); code != 201 {
			t.Fatalf("write %d: status %d\n%s", i, code, cp.stderr)
		}
	}
	if err := cp.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-cp.done

	cp2 := startCP(t, dir)
	resp, err := http.Get(cp2.url + "/meshes/default/meshtrafficpermissions?size=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Total int `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Total != n {
		t.Fatalf("after kill -9 and restart: %d policies, want %d", list.Total, n)
	}
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	cp := startCP(t, t.TempDir())
	if err := cp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-cp.done:
		if cp.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", cp.err, cp.stderr)
		}
	case <-ctx.Done():
		t.Fatalf("no exit within 30s of SIGTERM\n%s", cp.stderr)
	}
	if !strings.Contains(cp.stderr.String(), "control plane stopped") {
		t.Fatalf("no orderly stop in the log:\n%s", cp.stderr)
	}
}

func TestStartupErrorsAreOneLine(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"api port taken", []string{"run", "--data-dir", t.TempDir(), "--nats-port", "-1", "--api-https-port", "0", "--dp-port", "0", "--api-port", fmt.Sprint(port)}, "address already in use"},
		{"nats port taken", []string{"run", "--data-dir", t.TempDir(), "--nats-port", fmt.Sprint(port), "--api-https-port", "0", "--dp-port", "0", "--api-port", "0"}, "address already in use"},
		{"dp port taken", []string{"run", "--data-dir", t.TempDir(), "--nats-port", "-1", "--api-port", "0", "--api-https-port", "0", "--dp-port", fmt.Sprint(port)}, "address already in use"},
		{"nats port 4222", []string{"run", "--data-dir", t.TempDir(), "--nats-port", "4222"}, "4222"},
		{"bad flag", []string{"run", "--no-such-flag"}, "no-such-flag"},
		{"unknown command", []string{"serve"}, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, tc.args...)
			select {
			case <-c.done:
				if c.err == nil {
					t.Fatalf("exit 0, want failure")
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("still running after 60s")
			}
			lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.want) {
				t.Fatalf("last stderr line %q does not mention %q\n%s", last, tc.want, c.stderr)
			}
		})
	}
}

func TestHelpExplains(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"help"}, &out, &errOut); code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, want := range []string{"jetmesh-cp run", "kumactl", "KUMA_"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"run", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("run --help exit %d", code)
	}
	for _, want := range []string{"--data-dir", "--nats-url", "KUMA_API_SERVER_HTTP_PORT", "JETMESH_NATS_URL"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("run --help lacks %q:\n%s", want, errOut.String())
		}
	}
}
