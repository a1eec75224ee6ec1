// Command jetmeshctl is the jetmesh CLI for what kumactl lacks: the event feed, the history of a
// resource, diffs between revisions, reads of past state and reverts. kumactl still does the rest.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0, 1 for errors, 2 for usage
// errors. SIGINT/SIGTERM end it (events --follow ends cleanly).
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}
