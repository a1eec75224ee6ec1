package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

const replicationHelp = `Usage: jetmeshctl replication

Shows how the control plane's replicas of other control planes' logs are doing: on a zone, its
copies of the global's log and of the zones' ingresses; on the global, its copy of each zone's
log. For each: the origin's last sequence, the replica's, the lag, whether it is stalled
(behind and not moving; it is then recreated automatically) and how often that happened. On
the global it also lists zone links it refused, with the reason. It reads /_replication.

Example: jetmeshctl replication --api-address http://global:5681
`

type replicationAnswer struct {
	Items []struct {
		Stream          string     `json:"stream"`
		Origin          string     `json:"origin"`
		OriginSequence  uint64     `json:"originSequence"`
		ReplicaSequence uint64     `json:"replicaSequence"`
		Lag             uint64     `json:"lag"`
		OriginSeen      *time.Time `json:"originSeen"`
		Stalled         bool       `json:"stalled"`
		Recoveries      int        `json:"recoveries"`
	} `json:"items"`
	RefusedLinks map[string]struct {
		Count  int       `json:"count"`
		Last   time.Time `json:"last"`
		Reason string    `json:"reason"`
	} `json:"refusedLinks"`
}

func cmdReplication(ctx context.Context, args []string, g globals, stdout io.Writer) error {
	fs := newFlagSet("replication", replicationHelp, &g, stdout)
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	c, p, err := g.setup(stdout)
	if err != nil {
		return err
	}
	raw, err := c.do(ctx, "GET", "/_replication", nil)
	if err != nil {
		return fmt.Errorf("%w (a standalone control plane has no replicas)", err)
	}
	if p.structured() {
		return p.data(json.RawMessage(raw))
	}
	var a replicationAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode replication status: %w", err)
	}
	rows := make([][]string, 0, len(a.Items))
	for _, it := range a.Items {
		seen := "never"
		if it.OriginSeen != nil {
			seen = fmtTime(*it.OriginSeen)
		}
		state := "ok"
		switch {
		case it.Stalled:
			state = "STALLED"
		case it.Lag > 0:
			state = "catching up"
		}
		rows = append(rows, []string{it.Stream, it.Origin, strconv.FormatUint(it.OriginSequence, 10),
			strconv.FormatUint(it.ReplicaSequence, 10), strconv.FormatUint(it.Lag, 10), state,
			strconv.Itoa(it.Recoveries), seen})
	}
	if err := p.table([]string{"REPLICA", "ORIGIN", "ORIGIN SEQ", "REPLICA SEQ", "LAG", "STATE", "RECOVERIES", "ORIGIN SEEN"}, rows); err != nil {
		return err
	}
	if len(a.RefusedLinks) == 0 {
		return nil
	}
	refused := make([][]string, 0, len(a.RefusedLinks))
	for _, zone := range slices.Sorted(maps.Keys(a.RefusedLinks)) {
		r := a.RefusedLinks[zone]
		refused = append(refused, []string{zone, strconv.Itoa(r.Count), fmtTime(r.Last), r.Reason})
	}
	fmt.Fprintln(stdout)
	return p.table([]string{"REFUSED ZONE", "ATTEMPTS", "LAST", "REASON"}, refused)
}
