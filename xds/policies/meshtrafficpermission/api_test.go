package meshtrafficpermission_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mtp "github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

type v struct{ Field, Message string }

func violationsOf(err resources.ValidationError) []v {
	var out []v
	for _, x := range err.Violations {
		out = append(out, v{x.Field, x.Message})
	}
	return out
}

func registry(t *testing.T) *resources.Registry {
	t.Helper()
	reg, err := resources.NewRegistry(mtp.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// decodeSpec decodes the spec as a user writes it in a manifest.
func decodeSpec(t *testing.T, spec string) *mtp.Spec {
	t.Helper()
	doc := "type: MeshTrafficPermission\nname: x\nmesh: default\nspec:\n" + indent(spec)
	r, err := resources.DecodeAs(mtp.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r.Spec.(*mtp.Spec)
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []v
	}{
		// Kuma 2.14's validator_test.go, "should pass validation".
		{"all kinds of clients", `
targetRef:
  kind: Mesh
from:
  - targetRef: {kind: Mesh}
    default: {action: Allow}
  - targetRef: {kind: MeshSubset, tags: {kuma.io/zone: us-east, env: dev}}
    default: {action: Deny}
  - targetRef: {kind: MeshService, name: backend}
    default: {action: Allow}
  - targetRef: {kind: MeshServiceSubset, name: backend, tags: {version: v1}}
    default: {action: Deny}`, nil},
		{"MeshServiceSubset at the top", `
targetRef: {kind: MeshServiceSubset, name: backend, tags: {version: v2}}
from:
  - targetRef: {kind: Mesh}
    default: {action: Deny}`, nil},
		{"no top-level targetRef", `
from:
  - targetRef: {kind: Mesh}
    default: {action: AllowWithShadowDeny}`, nil},
		{"rules", `
targetRef: {kind: Mesh}
rules:
  - default:
      deny: [{spiffeID: {type: Exact, value: "spiffe://trust.domain/service"}}]
      allow: [{spiffeID: {type: Prefix, value: "spiffe://trust.domain"}}]
      allowWithShadowDeny: [{spiffeID: {type: Exact, value: "spiffe://trust.domain/service-2"}}]`, nil},
		{"dataplane section in a rules policy", `
targetRef: {kind: Dataplane, sectionName: ze-port}
rules:
  - default:
      allow:
        - spiffeID: {type: Exact, value: "spiffe://default/ns/backend-ns/sa/backend"}
          sni: {type: Exact, value: sni.extsvc.default.zone-1.aws-aurora.8443}`, nil},
		// Kuma's "should validate all fields" cases.
		{"empty from", `
targetRef: {kind: MeshService, name: backend}
from: []`, []v{{"spec", "at least one of 'from' or 'rules' has to be defined"}}},
		{"empty rules", `
targetRef: {kind: MeshService, name: backend}
rules: []`, []v{{"spec", "at least one of 'from' or 'rules' has to be defined"}}},
		{"sectionName without from or rules", `
targetRef: {kind: Dataplane, sectionName: test}`, []v{
			{"spec.targetRef.sectionName", "can only be used with inbound policies"},
			{"spec", "at least one of 'from' or 'rules' has to be defined"},
		}},
		{"kind not supported in from", `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: MeshGateway, name: gw}
    default: {action: Allow}`, []v{{"spec.from[0].targetRef.kind", "value 'MeshGateway' is not supported"}}},
		{"kind not supported at the top", `
targetRef: {kind: MeshHTTPRoute, name: route}
from:
  - targetRef: {kind: Mesh}
    default: {action: Allow}`, []v{{"spec.targetRef.kind", "value 'MeshHTTPRoute' is not supported"}}},
		{"Dataplane is not a from kind", `
from:
  - targetRef: {kind: Dataplane, name: dp}
    default: {action: Allow}`, []v{{"spec.from[0].targetRef.kind", "value 'Dataplane' is not supported"}}},
		{"default is nil", `
targetRef: {kind: Mesh}
from:
  - targetRef: {kind: Mesh}`, []v{{"spec.from[0].default.action", "must be defined"}}},
		{"from and rules", `
from:
  - targetRef: {kind: Mesh}
    default: {action: Allow}
rules:
  - default:
      allow: [{spiffeID: {type: Prefix, value: "spiffe://td"}}]`, []v{{"spec", "field 'from' must be empty when 'rules' is defined"}}},
		{"rules default is empty", `
targetRef: {kind: Mesh}
rules:
  - default:
      deny: []`, []v{{"spec.rules[0]", "at least one of 'allow', 'allowWithShadowDeny', 'deny' has to be defined"}}},
		{"invalid sni", `
targetRef: {kind: Dataplane, sectionName: ze-port}
rules:
  - default:
      allow: [{sni: {type: Exact, value: ""}}]
      deny: [{sni: {type: Exact}}]
      allowWithShadowDeny: [{sni: {type: Exact, value: not_valid}}]`, []v{
			{"spec.rules[0].allow[0].sni.value", "must be set"},
			{"spec.rules[0].allowWithShadowDeny[0].sni.value", "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
			{"spec.rules[0].deny[0].sni.value", "must be set"},
		}},
		{"invalid spiffe ids", `
targetRef: {kind: Mesh}
rules:
  - default:
      deny: [{spiffeID: {type: Exact, value: some-service}}]
      allow: [{spiffeID: {type: Prefix, value: wrong}}]
      allowWithShadowDeny: [{spiffeID: {type: Exact, value: test}}]`, []v{
			{"spec.rules[0].allow[0].spiffeID", "must be a valid Spiffe ID: scheme is missing or invalid"},
			{"spec.rules[0].allowWithShadowDeny[0].spiffeID", "must be a valid Spiffe ID: scheme is missing or invalid"},
			{"spec.rules[0].deny[0].spiffeID", "must be a valid Spiffe ID: scheme is missing or invalid"},
		}},
		// What Kuma's OpenAPI schema rejects first (as in its api-server and kumactl tests).
		{"unknown action", `
from:
  - targetRef: {kind: Mesh}
    default: {action: Permit}`, []v{{"spec.from[0].default.action", "in body should be one of [Allow Deny AllowWithShadowDeny]"}}},
		{"unknown kind and missing kind", `
targetRef: {kind: MeshGatewayRoute}
from:
  - targetRef: {name: x}
    default: {action: Allow}`, []v{
			{"spec.targetRef.kind", "in body should be one of [Mesh MeshSubset MeshGateway MeshService MeshExternalService MeshMultiZoneService MeshServiceSubset MeshHTTPRoute Dataplane]"},
			{"spec.from[0].targetRef.kind", "in body is required"},
		}},
		{"unknown match type", `
rules:
  - default:
      allow: [{spiffeID: {type: Regex, value: "spiffe://td"}}]`, []v{{"spec.rules[0].default.allow[0].spiffeID.type", "in body should be one of [Exact Prefix]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violationsOf(decodeSpec(t, tt.spec).Validate())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"rules only", `
targetRef: {kind: Mesh}
rules:
  - default:
      allow: [{spiffeID: {type: Prefix, value: "spiffe://td"}}]`, nil},
		// 2.14.3's PUT answer for a from-based policy (kumactl prints "Warning: ...").
		{"from", `
targetRef: {kind: Mesh}
from:
  - targetRef: {kind: Mesh}
    default: {action: Allow}`, []string{"'from' field is deprecated and will be removed in 3.0, use 'rules' with MeshIdentity (spiffeId) instead"}},
		{"from MeshService and a deprecated top-level kind", `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: MeshService, name: web}
    default: {action: Allow}`, []string{
			"'from' field is deprecated and will be removed in 3.0, use 'rules' with MeshIdentity (spiffeId) instead",
			"MeshService value for 'from[].targetRef.kind' is deprecated, use MeshSubset with 'kuma.io/service' instead",
			"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &resources.Resource{Desc: mtp.Descriptor, Spec: decodeSpec(t, tt.spec)}
			if diff := cmp.Diff(tt.want, resources.Warnings(r)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateResource(t *testing.T) {
	// The whole resource: spec first (reported alone), then meta.
	r, err := registry(t).Decode([]byte(`{"type":"MeshTrafficPermission","name":"Bad_Name","mesh":"default","spec":{"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var verr *resources.ValidationError
	if !errors.As(resources.Validate(r), &verr) {
		t.Fatal("want a *ValidationError")
	}
	want := []v{{"name", "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"}}
	if diff := cmp.Diff(want, violationsOf(*verr)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering, with
// exactly Kuma's top-level keys, and the round trip through kumactl.
func TestGolden(t *testing.T) {
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, registry(t), env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}

func TestDecodeRejectsUnknownFields(t *testing.T) {
	reg := registry(t)
	for name, doc := range map[string]string{
		"next to spec": `{"type":"MeshTrafficPermission","name":"x","mesh":"m","spec":{},"from":[]}`,
		"in spec":      `{"type":"MeshTrafficPermission","name":"x","mesh":"m","spec":{"to":[]}}`,
		// (encoding/json matches names case-insensitively, so "sectionname" would be accepted, as
		// Kuma, which decodes plugin specs with encoding/json too, accepts it.)
		"in a targetRef": `{"type":"MeshTrafficPermission","name":"x","mesh":"m","spec":{"targetRef":{"kind":"Mesh","section":"a"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var derr *resources.DecodeError
			if _, err := reg.Decode([]byte(doc)); !errors.As(err, &derr) {
				t.Fatalf("Decode = %v, want a *DecodeError", err)
			}
		})
	}
	// kumactl's PUT body: server-owned fields are accepted and the kri is recomputed.
	r, err := reg.Decode([]byte(`{"type":"MeshTrafficPermission","mesh":"default","name":"allow-all",` +
		`"creationTime":"0001-01-01T00:00:00Z","modificationTime":"0001-01-01T00:00:00Z","kri":"kri_mtp_x_y_z_w_",` +
		`"spec":{"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.KRI(); got != "kri_mtp_default___allow-all_" {
		t.Errorf("KRI = %q", got)
	}
}
