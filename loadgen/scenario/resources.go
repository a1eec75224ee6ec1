package scenario

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// usage is a process's resident memory and CPU time so far, from /proc/<pid>.
type usage struct {
	RSS, HWM int64         // bytes
	CPU      time.Duration // user + system
	At       time.Time
}

// clockTick is USER_HZ, which Linux fixes at 100 for /proc/<pid>/stat.
const clockTick = 10 * time.Millisecond

func readUsage(pid int) (usage, error) {
	u := usage{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("read process status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			u.RSS = kb * 1024
		case "VmHWM:":
			u.HWM = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("read process stat: %w", err)
	}
	// The command name may hold spaces: fields count from after its closing parenthesis.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return u, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime is field 14 of stat, 12 after the name
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u.CPU = time.Duration(ut+st) * clockTick
	return u, nil
}

// Resources measures the control plane's memory and CPU per connected proxy: before the
// proxies connect (N dataplanes created), after all are configured, and over Duration of
// idleness with all connected.
func Resources(ctx context.Context, env *Env) (*stats.Report, error) {
	t, stop, err := env.target(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	if t.PID == 0 {
		return nil, errNoPID
	}
	s, err := openSession(ctx, env, t, env.Opts.N)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	r, err := s.resources(ctx, t.PID, env.Opts.Duration)
	if err != nil {
		return nil, err
	}
	if t.HeapProfile != nil {
		if err := t.HeapProfile(ctx); err != nil {
			return nil, fmt.Errorf("heap profile: %w", err)
		}
		r.Notes = append(r.Notes, "heap profile written with every proxy connected")
	}
	s.health(r)
	return r, nil
}

func (s *session) resources(ctx context.Context, pid int, idle time.Duration) (*stats.Report, error) {
	before, err := readUsage(pid)
	if err != nil {
		return nil, err
	}
	_, all, err := s.connectAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	connected, err := readUsage(pid)
	if err != nil {
		return nil, err
	}
	// The idle window is a measurement period, not a wait for a condition.
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := readUsage(pid)
	if err != nil {
		return nil, err
	}
	n := int64(s.topo.N)
	perDP := (after.RSS - before.RSS) / n
	connectCPU := connected.CPU - before.CPU
	idleCPU := float64(after.CPU-connected.CPU) / float64(after.At.Sub(connected.At))
	mb := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
	r := &stats.Report{Scenario: "resources", Header: []string{"measure", "value"}, Rows: [][]string{
		{"CP RSS before proxies connect (MiB)", mb(before.RSS)},
		{"CP RSS with all connected, after idle (MiB)", mb(after.RSS)},
		{"CP RSS peak (MiB)", mb(after.HWM)},
		{"RSS per connected proxy (KiB)", fmt.Sprintf("%.1f", float64(perDP)/1024)},
		{"CPU to configure all (s)", fmt.Sprintf("%.2f", connectCPU.Seconds())},
		{"CPU per proxy configured (ms)", fmt.Sprintf("%.2f", stats.Ms(connectCPU/time.Duration(n)))},
		{"idle CPU with all connected (cores)", fmt.Sprintf("%.3f", idleCPU)},
	}}
	r.Set(map[string]any{"n": s.topo.N, "rss_before_bytes": before.RSS, "rss_after_bytes": after.RSS, "rss_peak_bytes": after.HWM,
		"rss_per_dp_bytes": perDP, "connect_cpu_s": connectCPU.Seconds(), "idle_cpu_cores": idleCPU,
		"all_configured_ms": stats.Ms(all), "idle_window_s": idle.Seconds()})
	r.Notes = append(r.Notes, fmt.Sprintf("pid %d; RSS per proxy = (RSS after - RSS before) / %d: it includes each proxy's stream, snapshot and insight", pid, n))
	return r, nil
}
