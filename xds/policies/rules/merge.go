package rules

import (
	"encoding/json"
	"fmt"
	"strings"
)

// appendPrefix marks list fields that accumulate across policies instead of being replaced:
// Kuma appends slices whose Go field name starts with "Append" (MeshProxyPatch's
// appendModifications); their JSON names start with "append".
const appendPrefix = "append"

// Merge combines confs in order, later ones overriding earlier ones field by field, as Kuma's
// merge.Confs does: each conf is a JSON merge patch (RFC 7396) on top of the previous result,
// so objects merge recursively, scalars and lists are replaced, and fields a conf leaves out
// keep their earlier value. Lists under keys starting with "append" are concatenated instead.
// Merging through JSON keeps this generic over any conf type whose absent fields are omitted
// (pointer fields with omitempty, as every policy conf has).
func Merge[C any](confs []C) (C, error) {
	var out C
	if len(confs) == 0 {
		return out, nil
	}
	if m, ok := any(out).(Merger[C]); ok {
		return m.MergeConfs(confs)
	}
	var acc map[string]any
	for i, c := range confs {
		b, err := json.Marshal(c)
		if err != nil {
			return out, fmt.Errorf("merge: encode conf %d: %w", i, err)
		}
		var patch any
		if err := json.Unmarshal(b, &patch); err != nil {
			return out, fmt.Errorf("merge: decode conf %d: %w", i, err)
		}
		obj, ok := patch.(map[string]any)
		if !ok {
			return out, fmt.Errorf("merge: conf %d is %T, not an object", i, patch)
		}
		acc = mergeObject(acc, obj)
	}
	b, err := json.Marshal(acc)
	if err != nil {
		return out, fmt.Errorf("merge: encode result: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("merge: decode result: %w", err)
	}
	return out, nil
}

// Merger is implemented (on the value type) by confs that Kuma merges with rules of their
// own: MeshHTTPRoute merges its rules by their matches instead of replacing the list.
type Merger[C any] interface {
	MergeConfs(confs []C) (C, error)
}

// mergeObject applies patch to target (RFC 7396), with the append rule for lists.
func mergeObject(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, pv := range patch {
		switch pv := pv.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = mergeObject(copyObject(tv), pv)
		case []any:
			if tv, ok := target[k].([]any); ok && strings.HasPrefix(k, appendPrefix) {
				target[k] = append(append([]any{}, tv...), pv...)
			} else {
				target[k] = pv
			}
		default:
			target[k] = pv
		}
	}
	return target
}

func copyObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
