//go:build unix

package dpagent

import (
	"os"
	"syscall"
)

// drainForeverSignal makes Envoy drain its inbound listeners for good without stopping
// (kuma-dp's SIGUSR2).
var drainForeverSignal os.Signal = syscall.SIGUSR2

// Signals are the signals the agent handles; pass them to signal.Notify.
func Signals() []os.Signal { return []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGUSR2} }
