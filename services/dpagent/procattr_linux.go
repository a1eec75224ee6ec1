//go:build linux

package dpagent

import "syscall"

// childProcAttr puts Envoy in its own process group, so a terminal's Ctrl-C reaches only the
// agent (which drains first), and kills it if the agent dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
