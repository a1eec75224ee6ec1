package api

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffJSON(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []jsonChange
	}{
		{name: "equal", a: `{"a":1,"b":[1,{"c":"x"}]}`, b: `{"b":[1,{"c":"x"}],"a":1}`},
		{name: "replace scalar", a: `{"a":1}`, b: `{"a":2}`,
			want: []jsonChange{{Op: "replace", Path: "/a", From: 1.0, To: 2.0}}},
		{name: "add and remove keys, sorted", a: `{"z":true,"m":"old"}`, b: `{"a":null,"m":"old","b":{"x":1}}`,
			want: []jsonChange{
				{Op: "add", Path: "/a"},
				{Op: "add", Path: "/b", To: map[string]any{"x": 1.0}},
				{Op: "remove", Path: "/z", From: true},
			}},
		{name: "nested policy action", a: `{"spec":{"from":[{"default":{"action":"Allow"}}]}}`,
			b:    `{"spec":{"from":[{"default":{"action":"Deny"}}]}}`,
			want: []jsonChange{{Op: "replace", Path: "/spec/from/0/default/action", From: "Allow", To: "Deny"}}},
		{name: "array grows", a: `{"l":[1]}`, b: `{"l":[1,2,3]}`,
			want: []jsonChange{{Op: "add", Path: "/l/1", To: 2.0}, {Op: "add", Path: "/l/2", To: 3.0}}},
		{name: "array shrinks from the end, descending", a: `{"l":[1,2,3]}`, b: `{"l":[9]}`,
			want: []jsonChange{
				{Op: "replace", Path: "/l/0", From: 1.0, To: 9.0},
				{Op: "remove", Path: "/l/2", From: 3.0},
				{Op: "remove", Path: "/l/1", From: 2.0},
			}},
		{name: "kind change is one replace", a: `{"x":{"a":1}}`, b: `{"x":[1]}`,
			want: []jsonChange{{Op: "replace", Path: "/x", From: map[string]any{"a": 1.0}, To: []any{1.0}}}},
		{name: "pointer escaping", a: `{"labels":{"kuma.io/zone":"a","t~x":"1"}}`, b: `{"labels":{"kuma.io/zone":"b"}}`,
			want: []jsonChange{
				{Op: "replace", Path: "/labels/kuma.io~1zone", From: "a", To: "b"},
				{Op: "remove", Path: "/labels/t~0x", From: "1"},
			}},
		{name: "from nothing", a: `{}`, b: `{"a":1}`, want: []jsonChange{{Op: "add", Path: "/a", To: 1.0}}},
		{name: "root replace", a: `1`, b: `"x"`, want: []jsonChange{{Op: "replace", Path: "", From: 1.0, To: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b any
			if err := json.Unmarshal([]byte(tt.a), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.b), &b); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, diffJSON(a, b)); d != "" {
				t.Errorf("diffJSON (-want +got):\n%s", d)
			}
		})
	}
}
