package core_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
)

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

// TestGolden checks every manifest in testdata against its golden REST rendering, and the
// round trip through kumactl (see resourcetest.GoldenManifests). Insights are internal (only
// the control plane writes them), so their manifests are not validated.
func TestGolden(t *testing.T) {
	resourcetest.GoldenManifests(t, registry(t), zoneEnv,
		resourcetest.SkipValidation(func(d *resources.Descriptor) bool { return d.Internal }))
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
