// Package resourcetest provides helpers for testing resource types: golden-file checks of
// example manifests and of the REST rendering. It is meant to be imported by tests only, the
// way net/http/httptest is.
//
// Importing it defines the -update test flag; with -update (or UPDATE_GOLDEN=1 in the
// environment) the golden files are rewritten from the current output.
package resourcetest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Updating reports whether golden files are to be rewritten: the test binary was run with
// -update, or UPDATE_GOLDEN=1 is set.
func Updating() bool { return *update || os.Getenv("UPDATE_GOLDEN") == "1" }

// Option changes what GoldenManifests checks.
type Option func(*options)

type options struct {
	skipValidation func(*resources.Descriptor) bool
	keys           []string
}

// SkipValidation leaves out resources.Validate for the manifests whose descriptor skip
// reports true (internal types such as insights, which no user writes).
func SkipValidation(skip func(*resources.Descriptor) bool) Option {
	return func(o *options) { o.skipValidation = skip }
}

// WantKeys requires the rendering's top-level keys to be exactly keys, in this order, instead
// of the general field-order check (AssertFieldOrder).
func WantKeys(keys ...string) Option {
	return func(o *options) { o.keys = keys }
}

// GoldenManifests runs a subtest for each testdata/<name>.yaml of the current package. It
// decodes the manifest with reg (as `kumactl apply -f` would send it), validates it, computes
// the labels a control plane in env stores, and compares the REST rendering with
// testdata/<name>.golden.json (rewritten when Updating). It then checks the order of the
// top-level fields and feeds the rendering back (what kumactl sends on the next apply),
// expecting the same output.
func GoldenManifests(t *testing.T, reg *resources.Registry, env resources.Env, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	manifests, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, path := range manifests {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := reg.Decode(doc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if o.skipValidation == nil || !o.skipValidation(r.Desc) {
				if err := resources.Validate(r); err != nil {
					t.Fatalf("manifest is not valid: %v", err)
				}
			}
			r.Meta.Labels = resources.ComputeResourceLabels(r, env)
			got := Render(t, r)
			golden := filepath.Join("testdata", name+".golden.json")
			if Updating() {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update or UPDATE_GOLDEN=1)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("rendering differs from %s (-want +got):\n%s", golden, diff)
			}
			if o.keys != nil {
				if diff := cmp.Diff(o.keys, TopLevelKeys(t, got)); diff != "" {
					t.Errorf("top-level keys (-want +got):\n%s", diff)
				}
			} else {
				AssertFieldOrder(t, r.Desc, got)
			}

			again, err := reg.Decode(got)
			if err != nil {
				t.Fatalf("kumactl's PUT body (our own output) rejected: %v", err)
			}
			if diff := cmp.Diff(string(got), string(Render(t, again))); diff != "" {
				t.Errorf("round trip changed the resource (-first +second):\n%s", diff)
			}
		})
	}
}

// Render marshals a resource the way the REST API prints it (1-space indent, final newline).
func Render(tb testing.TB, r *resources.Resource) []byte {
	tb.Helper()
	raw, err := json.Marshal(r)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", " "); err != nil {
		tb.Fatalf("indent %s: %v", raw, err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// AssertFieldOrder checks the top-level order of a rendered resource: type, mesh, name,
// creationTime, modificationTime, labels, kri, then the spec (inline fields, or "spec" for
// plugin types).
func AssertFieldOrder(tb testing.TB, desc *resources.Descriptor, doc []byte) {
	tb.Helper()
	keys := TopLevelKeys(tb, doc)
	want := []string{"type"}
	if desc.Scope == resources.ScopeMesh {
		want = append(want, "mesh")
	}
	want = append(want, "name", "creationTime", "modificationTime")
	if len(keys) > len(want) && keys[len(want)] == "labels" {
		want = append(want, "labels")
	}
	if desc.ShortName != "" {
		want = append(want, "kri")
	}
	if len(keys) < len(want) || !reflect.DeepEqual(keys[:len(want)], want) {
		tb.Fatalf("top-level keys %v, want them to start with %v", keys, want)
	}
	for _, k := range keys[len(want):] {
		for _, meta := range []string{"type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri"} {
			if k == meta {
				tb.Errorf("meta field %q after the spec: %v", k, keys)
			}
		}
	}
}

// TopLevelKeys returns the keys of the JSON object doc, in document order.
func TopLevelKeys(tb testing.TB, doc []byte) []string {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		tb.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}
