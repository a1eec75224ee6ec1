package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
)

const inspectHelp = `Usage: jetmeshctl inspect dataplane <name> [--mesh M]

Shows which policies apply to a dataplane and what they amount to: for every policy type,
each inbound and outbound of the dataplane, the policies whose rules apply there (least
specific first; later ones override earlier ones field by field) and the merged
configuration the proxy gets. It reads /meshes/M/dataplanes/<name>/_rules, which the xDS
generator's own matching code answers; -o json or yaml prints that answer whole.

Example: jetmeshctl inspect dataplane web-1 --mesh demo
`

// rulesAnswer is the part of GET .../_rules the table shows.
type rulesAnswer struct {
	Rules []struct {
		Type      string            `json:"type"`
		Inbounds  []effectiveConfig `json:"inbounds"`
		Outbounds []effectiveConfig `json:"outbounds"`
	} `json:"rules"`
}

type effectiveConfig struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Conf    any    `json:"conf"`
	Origin  []struct {
		ResourceMeta struct {
			Name string `json:"name"`
		} `json:"resourceMeta"`
	} `json:"origin"`
}

func cmdInspect(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("inspect", inspectHelp, &g, stdout)
	mesh := fs.String("mesh", "default", "mesh of the dataplane")
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	if pos[0] != "dataplane" && pos[0] != "dataplanes" && pos[0] != "dp" {
		return usagef("inspect %q: only dataplanes can be inspected", pos[0])
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	path := "/meshes/" + url.PathEscape(*mesh) + "/dataplanes/" + url.PathEscape(pos[1]) + "/_rules"
	raw, err := c.do(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	if p.structured() {
		return p.data(json.RawMessage(raw))
	}
	var answer rulesAnswer
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("decode rules: %w", err)
	}
	var rows [][]string
	for _, r := range answer.Rules {
		for _, side := range []struct {
			kind string
			list []effectiveConfig
		}{{"inbound", r.Inbounds}, {"outbound", r.Outbounds}} {
			for _, e := range side.list {
				var names []string
				for _, o := range e.Origin {
					names = append(names, o.ResourceMeta.Name)
				}
				rows = append(rows, []string{r.Type, side.kind + " " + e.Name, orDash(e.Service),
					orDash(strings.Join(names, ",")), compactValue(e.Conf)})
			}
		}
	}
	return p.table([]string{"POLICY", "WHERE", "SERVICE", "POLICIES", "CONF"}, rows)
}
