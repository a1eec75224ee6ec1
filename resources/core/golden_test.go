package core_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

var update = flag.Bool("update", false, "rewrite golden files")

func updating() bool { return *update || os.Getenv("UPDATE_GOLDEN") == "1" }

// zoneEnv is the control plane the golden files' labels are computed for.
var zoneEnv = resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}

func registry(t *testing.T) *resources.Registry {
	t.Helper()
	reg, err := resources.NewRegistry(core.Descriptors()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// render marshals a resource the way the REST API prints it (1-space indent).
func render(t *testing.T, r *resources.Resource) []byte {
	t.Helper()
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", " "); err != nil {
		t.Fatalf("indent %s: %v", raw, err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// TestGolden decodes each manifest in testdata (as `kumactl apply -f` would send it), computes
// the labels a zone CP stores, and compares the REST rendering with the golden file. Then it
// feeds the rendering back (what kumactl sends on the next apply) and expects the same output.
func TestGolden(t *testing.T) {
	reg := registry(t)
	manifests, err := filepath.Glob("testdata/*.yaml")
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
			if !r.Desc.Internal {
				if err := resources.Validate(r); err != nil {
					t.Fatalf("manifest is not valid: %v", err)
				}
			}
			r.Meta.Labels = resources.ComputeResourceLabels(r, zoneEnv)
			got := render(t, r)
			golden := filepath.Join("testdata", name+".golden.json")
			if updating() {
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
			assertFieldOrder(t, r.Desc, got)

			again, err := reg.Decode(got)
			if err != nil {
				t.Fatalf("decoding our own output: %v", err)
			}
			if diff := cmp.Diff(string(got), string(render(t, again))); diff != "" {
				t.Errorf("round trip changed the resource (-first +second):\n%s", diff)
			}
		})
	}
}

// assertFieldOrder checks the top-level order: type, mesh, name, creationTime,
// modificationTime, labels, kri, then the spec (inline fields, or "spec" for plugin types).
func assertFieldOrder(t *testing.T, desc *resources.Descriptor, doc []byte) {
	t.Helper()
	keys := topLevelKeys(t, doc)
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
		t.Fatalf("top-level keys %v, want them to start with %v", keys, want)
	}
	for _, k := range keys[len(want):] {
		for _, meta := range []string{"type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri"} {
			if k == meta {
				t.Errorf("meta field %q after the spec: %v", k, keys)
			}
		}
	}
}

func topLevelKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestKumactlPutBodyFieldsAreIgnored sends what kumactl apply sends for an existing resource:
// server-owned fields with placeholder values. They must be accepted, and change nothing.
func TestKumactlPutBodyFieldsAreIgnored(t *testing.T) {
	reg := registry(t)
	plain := `{"type":"Dataplane","mesh":"default","name":"dp-1","networking":{"address":"10.1.2.1","inbound":[{"port":1234,"tags":{"kuma.io/service":"my-svc"}}]}}`
	withServerFields := `{"type":"Dataplane","mesh":"default","name":"dp-1",` +
		`"creationTime":"0001-01-01T00:00:00Z","modificationTime":"0001-01-01T00:00:00Z",` +
		`"kri":"kri_dp_default_elsewhere__bogus_","networking":{"address":"10.1.2.1","inbound":[{"port":1234,"tags":{"kuma.io/service":"my-svc"}}]}}`
	a, err := reg.Decode([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.Decode([]byte(withServerFields))
	if err != nil {
		t.Fatalf("kumactl's PUT body rejected: %v", err)
	}
	if a.Desc != b.Desc {
		t.Errorf("descriptors differ: %s vs %s", a.Desc.Name, b.Desc.Name)
	}
	if diff := cmp.Diff([]any{a.Meta, a.Spec}, []any{b.Meta, b.Spec}); diff != "" {
		t.Errorf("server-owned fields changed the resource (-plain +kumactl):\n%s", diff)
	}
	if got := b.KRI(); got != "kri_dp_default___dp-1_" {
		t.Errorf("KRI = %q: the client's kri must not be used", got)
	}
}

func TestUnknownFieldsAreRejected(t *testing.T) {
	reg := registry(t)
	for name, doc := range map[string]string{
		"top level":        `{"type":"Mesh","name":"m","unknown":1}`,
		"nested":           `{"type":"Dataplane","mesh":"m","name":"d","networking":{"address":"1.1.1.1","adress":"x"}}`,
		"in a list":        `{"type":"Dataplane","mesh":"m","name":"d","networking":{"inbound":[{"prot":1}]}}`,
		"unknown enum":     `{"type":"Dataplane","mesh":"m","name":"d","networking":{"gateway":{"type":"EXTERNAL"}}}`,
		"bad duration":     `{"type":"Dataplane","mesh":"m","name":"d","networking":{"inbound":[{"serviceProbe":{"interval":"soon"}}]}}`,
		"secret not bytes": `{"type":"Secret","mesh":"m","name":"s","data":"not base64!"}`,
		"conf not object":  `{"type":"Mesh","name":"m","metrics":{"backends":[{"conf":[1]}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := reg.Decode([]byte(doc))
			var derr *resources.DecodeError
			if !errors.As(err, &derr) {
				t.Fatalf("Decode = %v, want a *DecodeError", err)
			}
		})
	}
}
