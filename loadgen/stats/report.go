package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Report is what a scenario prints: a table for people and one JSON line for scripts.
type Report struct {
	Scenario string
	Header   []string
	Rows     [][]string
	// Fields go into the JSON line, together with "scenario".
	Fields map[string]any
	// Notes are printed under the table (what was measured, warnings).
	Notes []string
}

// Set adds fields to the JSON line.
func (r *Report) Set(fields map[string]any) {
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	maps.Copy(r.Fields, fields)
}

// Write prints the table, the notes and the JSON line.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", r.Scenario)
	writeTable(&b, r.Header, r.Rows)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	line, err := r.JSON()
	if err != nil {
		return err
	}
	b.Write(line)
	b.WriteByte('\n')
	_, err = io.WriteString(w, b.String())
	return err
}

// JSON renders the JSON line (keys sorted, so lines diff well).
func (r *Report) JSON() ([]byte, error) {
	out := map[string]any{"scenario": r.Scenario}
	maps.Copy(out, r.Fields)
	b, err := json.Marshal(out) // encoding/json sorts map keys
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Scenario, err)
	}
	return b, nil
}

func writeTable(b *strings.Builder, header []string, rows [][]string) {
	if len(header) == 0 {
		return
	}
	widths := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, c := range row {
			if i < len(widths) {
				widths[i] = max(widths[i], len(c))
			}
		}
	}
	line := func(row []string) {
		cells := make([]string, len(widths))
		for i := range widths {
			c := ""
			if i < len(row) {
				c = row[i]
			}
			if i == 0 {
				cells[i] = fmt.Sprintf("%-*s", widths[i], c)
			} else {
				cells[i] = fmt.Sprintf("%*s", widths[i], c)
			}
		}
		b.WriteString(strings.TrimRight("  "+strings.Join(cells, "  "), " ") + "\n")
	}
	line(header)
	sep := slices.Clone(header)
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}
