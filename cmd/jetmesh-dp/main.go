// Command jetmesh-dp runs a data plane proxy: it fetches Envoy's bootstrap from a jetmesh (or
// Kuma) control plane, runs Envoy and drains it on shutdown. It accepts kuma-dp's flags and
// KUMA_* variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/jetmesh/jetmesh/services/dpagent"
)

const usage = `jetmesh-dp: the jetmesh data plane agent, a drop-in replacement for kuma-dp (Kuma 2.14).

Usage:
  jetmesh-dp run [flags]   fetch Envoy's bootstrap from the control plane and run Envoy
  jetmesh-dp version       print the version
  jetmesh-dp help          show this help

It takes kuma-dp's flags and KUMA_* environment variables, sends the same bootstrap request
(POST <cp-address>/bootstrap) and starts Envoy the way kuma-dp does, so it works against a
jetmesh control plane and against kuma-cp. Envoy 1.38 must be installed (on PATH, or
--binary-path).

Direct lifecycle: the control plane creates the Dataplane from a template ({{ name }} is
replaced by --dataplane-var name=...):
  jetmesh-dp run --cp-address https://127.0.0.1:5678 --ca-cert-file ca.pem \
    --dataplane-file dp.yaml --dataplane-var name=backend-1 --dataplane-var address=10.0.0.2 \
    --dataplane-token-file /tmp/backend-1-token

Indirect lifecycle: the Dataplane already exists in the control plane:
  jetmesh-dp run --cp-address https://127.0.0.1:5678 --ca-cert-file ca.pem \
    --name backend-1 --mesh default --dataplane-token-file /tmp/backend-1-token

DNS: for a Dataplane with transparent proxying (networking.transparentProxying; always in
the indirect lifecycle) it runs an embedded DNS proxy on 127.0.0.1:15053 (and [::1]:15053),
where the transparent proxy redirects DNS. Mesh names (backend.mesh, its RFC 1123 form,
MeshService hostnames) resolve to their virtual IPs from the table the control plane serves
through Envoy; other names under .mesh get NXDOMAIN; everything else goes to the resolvers
in /etc/resolv.conf. /ready waits for the first table (up to 15s). --dns-enabled=false or
--dns-proxy-port 0 turns it off. See docs/dns.md.

SIGINT/SIGTERM drains Envoy (health checks fail, --drain-time), then stops it; a second signal
skips the wait. SIGUSR2 drains inbound listeners without stopping.

Exit status: 0 when Envoy stopped cleanly, Envoy's own status when it did not, 1 when the
agent could not start it, 2 for usage errors. Run 'jetmesh-dp run --help' for all flags.
`

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, dpagent.Signals()...)
	os.Exit(run(os.Args[1:], dpagent.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, sigs))
}

func run(args []string, stdio dpagent.IO, sigs <-chan os.Signal) int {
	if len(args) == 0 {
		fmt.Fprint(stdio.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runAgent(args[1:], stdio, sigs)
	case "version", "--version":
		fmt.Fprintf(stdio.Stdout, "jetmesh-dp %s (kuma-dp %s compatible, Envoy %s)\n",
			dpagent.Version, dpagent.KumaDPVersion, dpagent.ExpectedEnvoyVersion)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdio.Stdout, usage)
		return 0
	}
	fmt.Fprintf(stdio.Stderr, "jetmesh-dp: unknown command %q; run 'jetmesh-dp help'\n", args[0])
	return 2
}

func runAgent(args []string, stdio dpagent.IO, sigs <-chan os.Signal) int {
	cfg := dpagent.DefaultConfig()
	if err := cfg.LoadEnv(os.LookupEnv); err != nil {
		return fail(stdio.Stderr, err, 2)
	}
	fs := flag.NewFlagSet("jetmesh-dp run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line below
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printRunUsage(stdio.Stderr)
			return 0
		}
		return fail(stdio.Stderr, fmt.Errorf("%w; run 'jetmesh-dp run --help'", err), 2)
	}
	if fs.NArg() > 0 {
		return fail(stdio.Stderr, fmt.Errorf("unexpected argument %q", fs.Arg(0)), 2)
	}
	err := dpagent.New(cfg, newLogger(stdio.Stderr, cfg.LogLevel), stdio).Run(context.Background(), sigs)
	var exit *dpagent.EnvoyExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return fail(stdio.Stderr, err, exit.Code)
	case errors.Is(err, dpagent.ErrInvalidConfig):
		return fail(stdio.Stderr, err, 2)
	default:
		return fail(stdio.Stderr, err, 1)
	}
}

func printRunUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: jetmesh-dp run [flags]\n\nFlags (and the environment variable that sets each):\n")
	var envOnly []dpagent.Setting
	for _, s := range dpagent.Settings() {
		if s.Flag == "" {
			envOnly = append(envOnly, s)
			continue
		}
		name := "--" + s.Flag
		if s.Short != "" {
			name += ", -" + s.Short
		}
		env := ""
		if s.Env != "" {
			env = " [" + s.Env + "]"
		}
		fmt.Fprintf(w, "  %-28s %s%s\n", name, s.Usage, env)
	}
	fmt.Fprint(w, "\nEnvironment variables without a flag:\n")
	for _, s := range envOnly {
		fmt.Fprintf(w, "  %-62s %s\n", s.Env, s.Usage)
	}
}

// newLogger logs to w at kuma-dp's levels: off, info or debug.
func newLogger(w io.Writer, level string) *slog.Logger {
	switch level {
	case "off":
		return slog.New(slog.DiscardHandler)
	case "debug":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		return slog.New(slog.NewTextHandler(w, nil))
	}
}

// fail prints err on one line and returns code.
func fail(w io.Writer, err error, code int) int {
	fmt.Fprintf(w, "jetmesh-dp: %s\n", strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	return code
}
