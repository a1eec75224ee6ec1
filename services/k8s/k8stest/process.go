package k8stest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one control-plane binary running as a child of the test. Its output goes to a
// file rather than the test log: the three together print thousands of lines per start, and
// only a failing test needs them (see tail).
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// done closes when the process has exited; err is its exit status then.
	done chan struct{}
	err  error
}

// startProcess runs bin with args, logging to logPath.
func startProcess(name, bin, logPath string, args []string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	// The process owns this goroutine: it ends when the child exits, which stop forces.
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and why, without waiting.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, fmt.Errorf("%s exited early (%v); last output:\n%s", p.name, p.err, p.tail(30))
	default:
		return false, nil
	}
}

// stop asks the process to end and kills it if it has not within grace. Idempotent.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last n lines of the process's output.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p.logPath, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// addrInUse reports whether the process died because a port it was given was taken meanwhile
// (see freePorts), the one start failure worth retrying.
func (p *process) addrInUse() bool {
	data, _ := os.ReadFile(p.logPath)
	return strings.Contains(string(data), "address already in use")
}

// freePorts returns n loopback ports that were free a moment ago. The binaries take port
// numbers, not listeners, so there is a window in which another process can take one;
// Start retries when that happens.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	// All listeners stay open until every port is chosen, so the n ports differ.
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

var errAddrInUse = errors.New("a chosen port was taken before the process bound it")
