//go:build !unix

package dpagent

import (
	"os"
	"syscall"
)

// drainForeverSignal does not exist without SIGUSR2.
var drainForeverSignal os.Signal

// Signals are the signals the agent handles; pass them to signal.Notify.
func Signals() []os.Signal { return []os.Signal{os.Interrupt, syscall.SIGTERM} }
