// Package envvar binds environment variables to configuration fields, so every config area
// declares its variables as a table (Kuma's KUMA_* names and jetmesh's JETMESH_* names) and
// shares one loader with one error format.
package envvar

import (
	"fmt"
	"strconv"
	"strings"
)

// Var binds one environment variable to a field of a config of type C.
type Var[C any] struct {
	Name string
	Set  func(c *C, value string) error
}

// String binds a string field.
func String[C any](name string, field func(*C) *string) Var[C] {
	return Var[C]{Name: name, Set: func(c *C, v string) error { *field(c) = v; return nil }}
}

// Int binds an integer field.
func Int[C any](name string, field func(*C) *int) Var[C] {
	return Var[C]{Name: name, Set: func(c *C, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*field(c) = n
		return nil
	}}
}

// Bool binds a boolean field.
func Bool[C any](name string, field func(*C) *bool) Var[C] {
	return Var[C]{Name: name, Set: func(c *C, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		*field(c) = b
		return nil
	}}
}

// List binds a comma-separated list; empty items are dropped.
func List[C any](name string, field func(*C) *[]string) Var[C] {
	return Var[C]{Name: name, Set: func(c *C, v string) error {
		var out []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		*field(c) = out
		return nil
	}}
}

// Load applies every variable lookup finds; an unparsable value is an error naming it.
func Load[C any](c *C, vars []Var[C], lookup func(string) (string, bool)) error {
	for _, v := range vars {
		raw, ok := lookup(v.Name)
		if !ok {
			continue
		}
		if err := v.Set(c, strings.TrimSpace(raw)); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w", v.Name, raw, err)
		}
	}
	return nil
}

// Names lists the variables, for --help.
func Names[C any](vars []Var[C]) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name
	}
	return out
}
