package meshproxypatch

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApplyJSONPatches(t *testing.T) {
	str := func(s string) *string { return &s }
	doc := `{"a": {"b": [1, 2, 3], "c~d/e": "x"}, "f": 1}`
	tests := []struct {
		name    string
		patches []JSONPatch
		want    string
		wantErr bool
	}{
		{"add to object", []JSONPatch{{Op: "add", Path: str("/g"), Value: json.RawMessage(`{"h": true}`)}},
			`{"a": {"b": [1, 2, 3], "c~d/e": "x"}, "f": 1, "g": {"h": true}}`, false},
		{"insert into list and append", []JSONPatch{
			{Op: "add", Path: str("/a/b/1"), Value: json.RawMessage(`9`)},
			{Op: "add", Path: str("/a/b/-"), Value: json.RawMessage(`10`)}},
			`{"a": {"b": [1, 9, 2, 3, 10], "c~d/e": "x"}, "f": 1}`, false},
		{"remove from list", []JSONPatch{{Op: "remove", Path: str("/a/b/0")}}, `{"a": {"b": [2, 3], "c~d/e": "x"}, "f": 1}`, false},
		{"replace escaped key", []JSONPatch{{Op: "replace", Path: str("/a/c~0d~1e"), Value: json.RawMessage(`"y"`)}},
			`{"a": {"b": [1, 2, 3], "c~d/e": "y"}, "f": 1}`, false},
		{"move and copy", []JSONPatch{
			{Op: "move", From: str("/f"), Path: str("/a/f")},
			{Op: "copy", From: str("/a/b"), Path: str("/b")}},
			`{"a": {"b": [1, 2, 3], "c~d/e": "x", "f": 1}, "b": [1, 2, 3]}`, false},
		{"replace missing", []JSONPatch{{Op: "replace", Path: str("/nope"), Value: json.RawMessage(`1`)}}, "", true},
		{"index out of range", []JSONPatch{{Op: "remove", Path: str("/a/b/3")}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applyJSONPatches([]byte(doc), tt.patches)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
