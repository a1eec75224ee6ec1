package dpagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// ExpectedEnvoyVersion is the Envoy kuma-dp 2.14.3 ships with; a proxy announces itself
// kumaDpCompatible for 1.38.x with x >= 2.
const ExpectedEnvoyVersion = "1.38.2"

const envoyInstallURL = "https://www.envoyproxy.io/docs/envoy/latest/start/install"

// ErrEnvoyNotFound: no executable Envoy where --binary-path points.
var ErrEnvoyNotFound = errors.New("envoy binary not found")

// LookupEnvoy resolves --binary-path as kuma-dp does: the configured name or path, then
// ./envoy, then envoy next to this executable.
func LookupEnvoy(binaryPath string) (string, error) {
	candidates := []string{binaryPath}
	if cwd, err := os.Getwd(); err == nil {
		candidates = append(candidates, filepath.Join(cwd, "envoy"))
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "envoy"))
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	where := "on PATH"
	if strings.ContainsRune(binaryPath, filepath.Separator) {
		where = "or not executable"
	}
	return "", &envoyNotFoundError{fmt.Sprintf("envoy binary %q not found %s; install Envoy %s (%s) or pass --binary-path",
		binaryPath, where, majorMinor(ExpectedEnvoyVersion), envoyInstallURL)}
}

// envoyNotFoundError is ErrEnvoyNotFound with the advice the user needs.
type envoyNotFoundError struct{ msg string }

func (e *envoyNotFoundError) Error() string        { return e.msg }
func (e *envoyNotFoundError) Is(target error) bool { return target == ErrEnvoyNotFound }

// EnvoyVersion runs `envoy --version` and parses its
// "version: <revision>/<version>/<status>/<build type>/<ssl>" line.
func EnvoyVersion(ctx context.Context, binary string) (bootstrap.EnvoyVersion, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return bootstrap.EnvoyVersion{}, fmt.Errorf("run %s --version: %w", binary, err)
	}
	return parseEnvoyVersion(string(out))
}

func parseEnvoyVersion(out string) (bootstrap.EnvoyVersion, error) {
	_, rest, ok := strings.Cut(strings.ReplaceAll(out, "\r\n", "\n"), "version:")
	build, _, _ := strings.Cut(rest, "\n")
	build = strings.TrimSpace(build)
	parts := strings.Split(build, "/")
	if !ok || len(parts) != 5 {
		return bootstrap.EnvoyVersion{}, fmt.Errorf("unexpected envoy --version output %q", oneLine(out))
	}
	return bootstrap.EnvoyVersion{Version: parts[1], Build: build, KumaDpCompatible: envoyCompatible(parts[1])}, nil
}

// envoyCompatible mirrors kuma-dp's "~1.38.2" constraint.
func envoyCompatible(v string) bool {
	want := versionNumbers(ExpectedEnvoyVersion)
	got := versionNumbers(v)
	return got != nil && got[0] == want[0] && got[1] == want[1] && got[2] >= want[2]
}

func versionNumbers(v string) []int {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 {
		return nil
	}
	out := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out[i] = n
	}
	return out
}

func majorMinor(v string) string {
	if i := strings.LastIndex(v, "."); i > 0 {
		return v[:i]
	}
	return v
}

// envoyArgs are the flags kuma-dp passes to Envoy.
func envoyArgs(c *Config, configPath string) []string {
	args := []string{
		"--config-path", configPath,
		"--drain-time-s", strconv.FormatInt(int64(c.DrainTime/time.Second), 10),
		"--drain-strategy", "immediate",
		// Hot restart needs a distinct --base-id per Envoy on a host; nothing uses it here.
		"--disable-hot-restart",
		"--log-level", c.envoyLogLevel(),
	}
	if c.EnvoyComponentLogLevel != "" {
		args = append(args, "--component-log-level", c.EnvoyComponentLogLevel)
	}
	if c.Concurrency > 0 {
		args = append(args, "--concurrency", strconv.FormatUint(uint64(c.Concurrency), 10))
	} else if runtime.GOOS == "linux" {
		args = append(args, "--cpuset-threads")
	}
	return args
}

func (c *Config) envoyLogLevel() string {
	if c.EnvoyLogLevel != "" {
		return c.EnvoyLogLevel
	}
	return c.LogLevel
}

// envoyProcess is a running Envoy; done closes when it has exited and been reaped.
type envoyProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startEnvoy(binary string, args []string, stdout, stderr io.Writer) (*envoyProcess, error) {
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	p := &envoyProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *envoyProcess) signal(sig os.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// exitCode is Envoy's exit status, 128+N when a signal N killed it. Call after done.
func (p *envoyProcess) exitCode() int {
	st := p.cmd.ProcessState
	if st == nil {
		return 1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// EnvoyExitError reports that Envoy ended with a non-zero status; the agent exits with it.
type EnvoyExitError struct{ Code int }

func (e *EnvoyExitError) Error() string { return fmt.Sprintf("envoy exited with status %d", e.Code) }
