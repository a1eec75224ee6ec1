package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

const usage = `jetmeshctl: the jetmesh CLI for what kumactl lacks - the event log, resource history,
diffs between revisions, past state and reverts - and the transparent proxy's iptables rules.
Use kumactl for everything else.

Usage:
  jetmeshctl <command> [arguments] [flags]

Commands:
  events    list the event log (CloudEvents), or follow it live with --follow
  audit     the same as events: who changed what, when (--actor --mesh --since --until ...)
  history   every revision of a resource: when, who, from where, why
  diff      what changed in labels and spec between two revisions of a resource
  get       resources as they are now, or as they were at a time or sequence (--at)
  revert    put a resource back to an earlier revision, recorded as a new revision
  inspect   which policies apply to a dataplane, per inbound and outbound, and their result
  replication  multi-zone: how this control plane's copies of other logs are doing
  install transparent-proxy    redirect this host's traffic to the data plane proxy (iptables)
  uninstall transparent-proxy  remove that redirection

Flags of every command:
  --api-address URL    the control plane's API (default http://127.0.0.1:5681,
                       or $JETMESH_API_ADDRESS)
  --api-token TOKEN    a user token (kumactl generate user-token) for a control plane
                       elsewhere (or $JETMESH_API_TOKEN)
  --ca-cert-file FILE  the certificate an https:// API is verified with, e.g. the
                       control plane's certs/cp.crt (or $JETMESH_API_CA_CERT_FILE)
  -o table|json|yaml   output format (default table)

Types are named as kumactl names them: meshtrafficpermission, meshtrafficpermissions, mtp,
dataplane, mesh, ...

Exit status: 0 on success, 1 on errors, 2 on usage errors.
Run 'jetmeshctl <command> --help' for a command's arguments and flags.
`

// defaultAPIAddress is kuma-cp's (and jetmesh-cp's) API address.
const defaultAPIAddress = "http://127.0.0.1:5681"

// usageError is a wrong command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// commandFunc runs one command with its arguments (after the command name).
type commandFunc func(ctx context.Context, args []string, g globals, stdout io.Writer) error

var commands = map[string]commandFunc{
	"events":      cmdEvents,
	"audit":       cmdEvents, // the name operators look for; the same query
	"history":     cmdHistory,
	"diff":        cmdDiff,
	"get":         cmdGet,
	"revert":      cmdRevert,
	"inspect":     cmdInspect,
	"replication": cmdReplication,
	"install":     cmdInstall,
	"uninstall":   cmdUninstall,
}

// globals are the flags every command takes.
type globals struct {
	address, output, token, caFile string
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.address, "api-address", g.address, "the control plane's API address ($JETMESH_API_ADDRESS)")
	fs.StringVar(&g.output, "o", g.output, "output format: table, json or yaml")
	fs.StringVar(&g.token, "api-token", g.token, "user token for the API ($JETMESH_API_TOKEN)")
	fs.StringVar(&g.caFile, "ca-cert-file", g.caFile, "certificate to verify an https API with ($JETMESH_API_CA_CERT_FILE)")
}

// setup validates the global flags and returns the API client and printer.
func (g globals) setup(stdout io.Writer) (*client, printer, error) {
	switch g.output {
	case formatTable, formatJSON, formatYAML:
	default:
		return nil, printer{}, usagef("-o %q: want table, json or yaml", g.output)
	}
	c, err := newClient(g.address, g.token, g.caFile)
	if err != nil {
		return nil, printer{}, &usageError{msg: err.Error()}
	}
	return c, printer{w: stdout, format: g.output}, nil
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := globals{address: cmpOr(os.Getenv("JETMESH_API_ADDRESS"), defaultAPIAddress), output: formatTable,
		token: os.Getenv("JETMESH_API_TOKEN"), caFile: os.Getenv("JETMESH_API_CA_CERT_FILE")}
	// Global flags may also come before the command.
	gfs := flag.NewFlagSet("jetmeshctl", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	g.register(gfs)
	err := gfs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "Error: %v (run 'jetmeshctl --help')\n", err)
		return 2
	}
	args = gfs.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "Error: unknown command %q (run 'jetmeshctl --help')\n", args[0])
		return 2
	}
	err = cmd(ctx, args[1:], g, stdout)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "Error: %s (run 'jetmeshctl %s --help')\n", ue.msg, args[0])
		return 2
	default:
		fmt.Fprintf(stderr, "Error: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
}

// newFlagSet returns a command's flag set with the global flags; its Usage prints help and the
// flags to stdout (parseArgs calls it for --help).
func newFlagSet(name, help string, g *globals, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stdout, help, "\nFlags:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseArgs parses flags placed anywhere among the positional arguments ("history mtp p
// --mesh demo") and checks their count.
func parseArgs(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	help := fs.Usage
	fs.Usage = func() {} // flag calls it on every parse error too; help is for --help only
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		return nil, usagef("%s takes %s, got %d", fs.Name(), argCount(minArgs, maxArgs), len(pos))
	}
	return pos, nil
}

func argCount(lo, hi int) string {
	switch {
	case lo == hi && lo == 0:
		return "no arguments"
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

// pointInTime turns a --at or --since value into the API's form: a sequence number or an
// RFC3339 time stays as it is; a duration ("90m") means that long ago.
func pointInTime(flagName, v string, allowSeq bool, now time.Time) (string, error) {
	if allowSeq {
		if _, err := strconv.ParseUint(v, 10, 64); err == nil {
			return v, nil
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return v, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	want := "an RFC3339 time or a duration ago (1h)"
	if allowSeq {
		want = "a sequence number, " + want
	}
	return "", usagef("--%s %q: want %s", flagName, v, want)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
