package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jetmesh/jetmesh/events"
)

const eventsHelp = `Usage: jetmeshctl events [--mesh M] [--type T] [--name N] [--actor A] [--zone Z] [--since T]
                        [--until T] [--limit N] [--follow]
       jetmeshctl audit ...   (the same command)

Lists the event log, oldest first: every create, update and delete of every resource, with
who made it — the audit log. The filters combine; --mesh also matches the mesh itself. --since
and --until (both inclusive) take an RFC3339 time or a duration ago (--since 2h --until 1h).
With --follow it keeps printing new events as they happen until Ctrl-C (with --since, it first
prints the matching events since then). A control plane with store.type postgres answers from
its PostgreSQL audit log, others by reading the event log; the answer is the same.

Table columns: SEQ TIME TYPE ACTION MESH NAME ACTOR. -o json|yaml prints the CloudEvents.
`

// feedItem is one event of GET /events.
type feedItem struct {
	events.Event
	Sequence uint64 `json:"sequence"`
}

func (it feedItem) row() []string {
	action := "upserted"
	if it.Deleted() {
		action = "deleted"
	}
	typ, mesh, name := "?", "", "?"
	if k, err := events.ParseSubject(it.Subject); err == nil {
		typ, mesh, name = k.Type, k.Mesh, k.Name
	}
	return []string{strconv.FormatUint(it.Sequence, 10), fmtTime(it.Time), typ, action, orDash(mesh), name, orDash(it.Actor)}
}

var eventsHeader = []string{"SEQ", "TIME", "TYPE", "ACTION", "MESH", "NAME", "ACTOR"}

func cmdEvents(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("events", eventsHelp, &g, stdout)
	filters := map[string]*string{}
	for _, f := range []struct{ name, help string }{
		{"mesh", "only events of this mesh"}, {"type", "only this resource type"},
		{"name", "only resources of this name"}, {"actor", "only changes by this actor"},
		{"zone", `only resources originating in this zone ("global": at the global CP)`},
	} {
		filters[f.name] = fs.String(f.name, "", f.help)
	}
	since := fs.String("since", "", "only events at or after this time (RFC3339, or a duration ago)")
	until := fs.String("until", "", "only events at or before this time (RFC3339, or a duration ago)")
	limit := fs.Int("limit", 0, "print at most this many events (0: all)")
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range filters {
		if *v != "" {
			q.Set(k, *v)
		}
	}
	if t := q.Get("type"); t != "" {
		rt, err := c.resolveType(ctx, t)
		switch {
		case err == nil:
			q.Set("type", rt.Name)
		case t[0] >= 'A' && t[0] <= 'Z':
			// A type name as the log records it, for types with no REST path (Config).
		default:
			return err
		}
	}
	now := time.Now()
	for name, v := range map[string]string{"since": *since, "until": *until} {
		if v == "" {
			continue
		}
		at, err := pointInTime(name, v, false, now)
		if err != nil {
			return err
		}
		q.Set(name, at)
	}
	if *follow {
		return followEvents(ctx, c, p, q)
	}
	q.Set("size", "1000")
	raw, err := c.list(ctx, "/events", q, *limit)
	if err != nil {
		return err
	}
	if p.structured() {
		return p.data(raw)
	}
	return tableOf(p, raw, "event", eventsHeader, feedItem.row)
}

// followEvents prints events from the live stream until ctx ends. Rows have fixed widths since
// they are printed one at a time.
func followEvents(ctx context.Context, c *client, p printer, q url.Values) error {
	q.Set("follow", "true")
	if q.Has("since") {
		q.Set("from", "1") // the past matches first, then live
	}
	const rowFormat = "%-7s %-20s %-24s %-9s %-12s %-28s %s\n"
	cells := func(r []string) []any {
		out := make([]any, len(r))
		for i, s := range r {
			out[i] = s
		}
		return out
	}
	if !p.structured() {
		fmt.Fprintf(p.w, rowFormat, cells(eventsHeader)...)
	}
	return c.stream(ctx, "/events", q, func(data []byte) error {
		if p.structured() {
			return p.line(data)
		}
		var it feedItem
		if err := json.Unmarshal(data, &it); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		_, err := fmt.Fprintf(p.w, rowFormat, cells(it.row())...)
		return err
	})
}

const historyHelp = `Usage: jetmeshctl history <type> <name> [--mesh M]

Lists every retained revision of a resource, newest first: when it changed, who changed it,
where (global or zone), and why when it was not an ordinary write (reverts). It works for
deleted resources too. -o json|yaml includes the resource as it was at each revision.

Example: jetmeshctl history mtp allow-all --mesh demo
`

// historyItem is one entry of GET .../_history.
type historyItem struct {
	Revision uint64    `json:"revision"`
	Sequence uint64    `json:"sequence"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Actor    string    `json:"actor"`
	Origin   string    `json:"origin"`
	Reason   string    `json:"reason"`
}

// resourceArgs resolves <type> <name> into the resource's API path.
func resourceArgs(ctx context.Context, c *client, typ, name, mesh string) (string, error) {
	rt, err := c.resolveType(ctx, typ)
	if err != nil {
		return "", err
	}
	return rt.path(mesh, name), nil
}

func cmdHistory(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("history", historyHelp, &g, stdout)
	mesh := fs.String("mesh", "default", "mesh of the resource (mesh-scoped types)")
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	path, err := resourceArgs(ctx, c, pos[0], pos[1], *mesh)
	if err != nil {
		return err
	}
	raw, err := c.list(ctx, path+"/_history", url.Values{"size": {"1000"}}, 0)
	if err != nil {
		return err
	}
	if p.structured() {
		return p.data(raw)
	}
	return tableOf(p, raw, "history", []string{"REVISION", "SEQ", "TIME", "ACTION", "ACTOR", "ORIGIN", "REASON"},
		func(it historyItem) []string {
			return []string{strconv.FormatUint(it.Revision, 10), strconv.FormatUint(it.Sequence, 10),
				fmtTime(it.Time), it.Type, orDash(it.Actor), orDash(it.Origin), orDash(it.Reason)}
		})
}

const diffHelp = `Usage: jetmeshctl diff <type> <name> [--mesh M] [--from R] [--to R]

Shows what changed in a resource's labels and spec between two revisions (see 'history'), as
JSON-pointer paths with old and new values. --to defaults to the latest revision, --from to
the one before it. A deleted revision has no content: everything shows as removed or added.

Example: jetmeshctl diff meshtrafficpermission allow-all --mesh demo --from 1
`

// diffResult is the answer of GET .../_diff.
type diffResult struct {
	From *struct {
		Revision uint64 `json:"revision"`
		Sequence uint64 `json:"sequence"`
	} `json:"from"`
	To struct {
		Revision uint64 `json:"revision"`
		Sequence uint64 `json:"sequence"`
	} `json:"to"`
	Changes []struct {
		Op   string `json:"op"`
		Path string `json:"path"`
		From any    `json:"from"`
		To   any    `json:"to"`
	} `json:"changes"`
}

func cmdDiff(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("diff", diffHelp, &g, stdout)
	mesh := fs.String("mesh", "default", "mesh of the resource (mesh-scoped types)")
	from := fs.Uint64("from", 0, "old revision (default: the one before --to)")
	to := fs.Uint64("to", 0, "new revision (default: the latest)")
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	path, err := resourceArgs(ctx, c, pos[0], pos[1], *mesh)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *from != 0 {
		q.Set("from", strconv.FormatUint(*from, 10))
	}
	if *to != 0 {
		q.Set("to", strconv.FormatUint(*to, 10))
	}
	body, err := c.do(ctx, http.MethodGet, path+"/_diff", q)
	if err != nil {
		return err
	}
	if p.structured() {
		return p.data(json.RawMessage(body))
	}
	var d diffResult
	if err := json.Unmarshal(body, &d); err != nil {
		return fmt.Errorf("decode diff: %w", err)
	}
	fromName := "nothing"
	if d.From != nil {
		fromName = fmt.Sprintf("revision %d (sequence %d)", d.From.Revision, d.From.Sequence)
	}
	plural := "s"
	if len(d.Changes) == 1 {
		plural = ""
	}
	fmt.Fprintf(p.w, "From %s to revision %d (sequence %d): %d change%s\n",
		fromName, d.To.Revision, d.To.Sequence, len(d.Changes), plural)
	if len(d.Changes) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(d.Changes))
	for _, ch := range d.Changes {
		rows = append(rows, []string{ch.Op, ch.Path, compactValue(ch.From), compactValue(ch.To)})
	}
	return p.table([]string{"OP", "PATH", "FROM", "TO"}, rows)
}

const getHelp = `Usage: jetmeshctl get <type> [name] [--mesh M] [--at T|SEQ]

Prints one resource, or the list of a type, as it is now or, with --at, as it was at a past
point: an RFC3339 time, a log sequence number (see 'events' and 'history'), or a duration ago
(--at 2h). -o yaml prints the resources in the form kumactl apply takes.

Examples:
  jetmeshctl get meshtrafficpermissions --mesh demo --at 2026-11-22T10:00:00Z
  jetmeshctl get mtp allow-all --mesh demo --at 42 -o yaml
`

// resourceMeta is what the table shows of a resource.
type resourceMeta struct {
	Type             string    `json:"type"`
	Mesh             string    `json:"mesh"`
	Name             string    `json:"name"`
	CreationTime     time.Time `json:"creationTime"`
	ModificationTime time.Time `json:"modificationTime"`
}

func cmdGet(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("get", getHelp, &g, stdout)
	mesh := fs.String("mesh", "default", "mesh of the resources (mesh-scoped types)")
	at := fs.String("at", "", "past point: RFC3339 time, sequence number or duration ago")
	pos, err := parseArgs(fs, args, 1, 2)
	if err != nil {
		return err
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *at != "" {
		v, err := pointInTime("at", *at, true, time.Now())
		if err != nil {
			return err
		}
		q.Set("at", v)
	}
	name := ""
	if len(pos) == 2 {
		name = pos[1]
	}
	path, err := resourceArgs(ctx, c, pos[0], name, *mesh)
	if err != nil {
		return err
	}
	var raw []json.RawMessage
	if name != "" {
		body, err := c.do(ctx, http.MethodGet, path, q)
		if err != nil {
			return err
		}
		if p.structured() {
			return p.data(json.RawMessage(body))
		}
		raw = []json.RawMessage{body}
	} else {
		q.Set("size", "1000")
		if raw, err = c.list(ctx, path, q, 0); err != nil {
			return err
		}
		if p.structured() {
			return p.data(map[string]any{"total": len(raw), "items": raw})
		}
	}
	return tableOf(p, raw, "resource", []string{"MESH", "NAME", "TYPE", "CREATED", "MODIFIED"},
		func(m resourceMeta) []string {
			return []string{orDash(m.Mesh), m.Name, m.Type, fmtTime(m.CreationTime), fmtTime(m.ModificationTime)}
		})
}

const revertHelp = `Usage: jetmeshctl revert <type> <name> --revision R [--mesh M]

Puts a resource back to the spec and labels it had at revision R (see 'history'). The revert
is a new revision, validated like any write, attributed to you and marked
"revert to revision R" in the history and the event feed. Reverting to a revision that was a
deletion deletes the resource; reverting a deleted resource to an earlier revision re-creates it.

Example: jetmeshctl revert mtp allow-all --mesh demo --revision 3
`

func cmdRevert(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("revert", revertHelp, &g, stdout)
	mesh := fs.String("mesh", "default", "mesh of the resource (mesh-scoped types)")
	rev := fs.Uint64("revision", 0, "the revision to go back to (required)")
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	if *rev == 0 {
		return usagef("--revision is required")
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	path, err := resourceArgs(ctx, c, pos[0], pos[1], *mesh)
	if err != nil {
		return err
	}
	body, err := c.do(ctx, http.MethodPost, path+"/_revert", url.Values{"revision": {strconv.FormatUint(*rev, 10)}})
	if err != nil {
		return err
	}
	if p.structured() {
		return p.data(json.RawMessage(body))
	}
	var r struct {
		Changed  bool     `json:"changed"`
		Deleted  bool     `json:"deleted"`
		Sequence uint64   `json:"sequence"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decode revert: %w", err)
	}
	switch {
	case !r.Changed:
		fmt.Fprintf(p.w, "%s %s already has the content of revision %d: nothing written\n", pos[0], pos[1], *rev)
	case r.Deleted:
		fmt.Fprintf(p.w, "%s %s deleted (revision %d was a deletion), sequence %d\n", pos[0], pos[1], *rev, r.Sequence)
	default:
		fmt.Fprintf(p.w, "%s %s reverted to revision %d, sequence %d\n", pos[0], pos[1], *rev, r.Sequence)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(p.w, "Warning: %s\n", w)
	}
	return nil
}
