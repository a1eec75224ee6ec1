package meshproxypatch

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// applyJSONPatches applies RFC 6902 operations (add, remove, replace, move, copy) to a JSON
// document. Kuma patches a resource's protojson form this way; the result is read back into
// the resource, so a patch producing unknown fields or wrong types fails there.
func applyJSONPatches(doc []byte, patches []JSONPatch) ([]byte, error) {
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("json patch: document: %w", err)
	}
	for i, p := range patches {
		var err error
		if root, err = applyOne(root, p); err != nil {
			return nil, fmt.Errorf("json patch %d (%s %s): %w", i, p.Op, deref1(p.Path), err)
		}
	}
	return json.Marshal(root)
}

func applyOne(root any, p JSONPatch) (any, error) {
	if p.Path == nil {
		return nil, fmt.Errorf("path must be defined")
	}
	path := *p.Path
	switch p.Op {
	case "add", "replace":
		var val any
		if err := json.Unmarshal(p.Value, &val); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		return set(root, path, val, p.Op == "replace")
	case "remove":
		root, _, err := remove(root, path)
		return root, err
	case "move", "copy":
		if p.From == nil {
			return nil, fmt.Errorf("from must be defined")
		}
		val, err := get(root, *p.From)
		if err != nil {
			return nil, fmt.Errorf("from: %w", err)
		}
		if p.Op == "move" {
			if root, _, err = remove(root, *p.From); err != nil {
				return nil, err
			}
		} else {
			val = deepCopy(val)
		}
		return set(root, path, val, false)
	}
	return nil, fmt.Errorf("unknown operation %q", p.Op)
}

// pointer splits a JSON pointer (RFC 6901) into unescaped tokens.
func pointer(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q does not start with /", path)
	}
	toks := strings.Split(path[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

func get(root any, path string) (any, error) {
	toks, err := pointer(path)
	if err != nil {
		return nil, err
	}
	cur := root
	for _, t := range toks {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("%q not found", t)
			}
			cur = v
		case []any:
			i, err := index(t, len(c), false)
			if err != nil {
				return nil, err
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%q: not a container", t)
		}
	}
	return cur, nil
}

// set adds (or, with mustExist, replaces) the value at path and returns the new root.
func set(root any, path string, val any, mustExist bool) (any, error) {
	toks, err := pointer(path)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return val, nil
	}
	parent, err := get(root, "/"+strings.Join(escape(toks[:len(toks)-1]), "/"))
	if len(toks) == 1 {
		parent, err = root, nil
	}
	if err != nil {
		return nil, err
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[last]; mustExist && !ok {
			return nil, fmt.Errorf("%q not found", last)
		}
		c[last] = val
		return root, nil
	case []any:
		i, err := index(last, len(c), !mustExist)
		if err != nil {
			return nil, err
		}
		if mustExist {
			c[i] = val
			return root, nil
		}
		return replaceAt(root, toks[:len(toks)-1], slices.Insert(c, i, val))
	}
	return nil, fmt.Errorf("%q: parent is not a container", last)
}

// remove deletes the value at path and returns the new root and the value.
func remove(root any, path string) (any, any, error) {
	toks, err := pointer(path)
	if err != nil || len(toks) == 0 {
		return nil, nil, fmt.Errorf("cannot remove %q", path)
	}
	parent := root
	if len(toks) > 1 {
		if parent, err = get(root, "/"+strings.Join(escape(toks[:len(toks)-1]), "/")); err != nil {
			return nil, nil, err
		}
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		v, ok := c[last]
		if !ok {
			return nil, nil, fmt.Errorf("%q not found", last)
		}
		delete(c, last)
		return root, v, nil
	case []any:
		i, err := index(last, len(c), false)
		if err != nil {
			return nil, nil, err
		}
		v := c[i]
		root, err = replaceAt(root, toks[:len(toks)-1], slices.Delete(slices.Clone(c), i, i+1))
		return root, v, err
	}
	return nil, nil, fmt.Errorf("%q: parent is not a container", last)
}

// replaceAt stores a new list at the path of the old one (lists change length on insert and
// delete, so the parent must point at the new slice).
func replaceAt(root any, toks []string, list []any) (any, error) {
	if len(toks) == 0 {
		return list, nil
	}
	return set(root, "/"+strings.Join(escape(toks), "/"), list, true)
}

func index(tok string, n int, allowEnd bool) (int, error) {
	if allowEnd && tok == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > n || (i == n && !allowEnd) {
		return 0, fmt.Errorf("index %q out of range", tok)
	}
	return i, nil
}

func escape(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func deref1(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
