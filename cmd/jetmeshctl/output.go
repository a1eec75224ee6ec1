package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// printer writes a command's answer in the chosen format.
type printer struct {
	w      io.Writer
	format string
}

// structured reports whether the output is JSON or YAML rather than a table.
func (p printer) structured() bool { return p.format != formatTable }

// data prints v (a value or raw JSON) as indented JSON or as YAML.
func (p printer) data(v any) error {
	js, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if js, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
	}
	if p.format == formatYAML {
		y, err := yaml.JSONToYAML(js)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = p.w.Write(y)
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, js, "", "  "); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	b.WriteByte('\n')
	_, err := p.w.Write(b.Bytes())
	return err
}

// line prints one item of a stream: compact JSON per line, or a YAML document.
func (p printer) line(js json.RawMessage) error {
	if p.format == formatYAML {
		y, err := yaml.JSONToYAML(js)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = fmt.Fprintf(p.w, "---\n%s", y)
		return err
	}
	_, err := fmt.Fprintf(p.w, "%s\n", js)
	return err
}

// table prints rows under a header, aligned.
func (p printer) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fmtTime is the table form of a time: UTC, seconds.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash shows empty cells as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// compactValue renders a JSON value for a table cell.
func compactValue(v any) string {
	if v == nil {
		return "-"
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// tableOf decodes each item as T and prints one row per item under header.
func tableOf[T any](p printer, raw []json.RawMessage, what string, header []string, row func(T) []string) error {
	rows := make([][]string, 0, len(raw))
	for _, r := range raw {
		var it T
		if err := json.Unmarshal(r, &it); err != nil {
			return fmt.Errorf("decode %s: %w", what, err)
		}
		rows = append(rows, row(it))
	}
	return p.table(header, rows)
}
