//go:build !linux

package dpagent

import "syscall"

// childProcAttr keeps the defaults where Linux's process-group and parent-death settings do
// not exist.
func childProcAttr() *syscall.SysProcAttr { return nil }
