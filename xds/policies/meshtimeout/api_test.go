package meshtimeout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mt "github.com/jetmesh/jetmesh/xds/policies/meshtimeout"
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
	reg, err := resources.NewRegistry(mt.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func decode(t *testing.T, spec string, labels ...string) *resources.Resource {
	t.Helper()
	doc := "type: MeshTimeout\nname: x\nmesh: default\n"
	if len(labels) > 0 {
		doc += "labels:\n"
		for i := 0; i+1 < len(labels); i += 2 {
			doc += "  " + labels[i] + ": " + labels[i+1] + "\n"
		}
	}
	doc += "spec:\n" + indent(spec)
	r, err := resources.DecodeAs(mt.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

const sourceMsg = "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity"
const routeMsg = "can't be specified when top-level TargetRef is referencing MeshHTTPRoute"

// The cases are Kuma 2.14's validator_test.go for MeshTimeout, with its expected messages.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"full example", `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: Mesh}
    default:
      idleTimeout: 20s
      connectionTimeout: 2s
      http: {requestTimeout: 10s, streamIdleTimeout: 1h, maxStreamDuration: 30m, maxConnectionDuration: 30m}
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default: {idleTimeout: 20s, http: {requestTimeout: 1s}}`, nil},
		{"top-level MeshHTTPRoute", `
targetRef: {kind: MeshHTTPRoute, name: route-1}
to:
  - targetRef: {kind: Mesh}
    default: {http: {requestTimeout: 1s, streamIdleTimeout: 2s}}`, nil},
		{"MeshExternalService and MeshHTTPRoute destinations", `
to:
  - targetRef: {kind: MeshExternalService, name: example}
    default: {http: {requestTimeout: 1s}}
  - targetRef: {kind: MeshHTTPRoute, labels: {app: x}}
    default: {http: {requestTimeout: 1s}}`, nil},
		{"matched inbound rule", `
rules:
  - matches: [{spiffeID: {type: Prefix, value: "spiffe://default/ns/web"}}]
    default: {http: {requestTimeout: 1s, streamIdleTimeout: 2s}}`, nil},
		{"nothing defined", `targetRef: {kind: Mesh}`,
			[]v{{"spec", "at least one of 'from', 'to' or 'rules' has to be defined"}}},
		{"unsupported kind in from", `
from:
  - targetRef: {kind: MeshService, name: x}
    default: {idleTimeout: 1s}`, []v{{"spec.from[0].targetRef.kind", "value 'MeshService' is not supported"}}},
		{"schema: unknown kind", `
to:
  - targetRef: {kind: MeshGatewayRoute, name: x}
    default: {idleTimeout: 1s}`, []v{{"spec.to[0].targetRef.kind",
			"in body should be one of [Mesh MeshSubset MeshGateway MeshService MeshExternalService MeshMultiZoneService MeshServiceSubset MeshHTTPRoute Dataplane]"}}},
		{"sectionName with an outbound policy", `
targetRef: {kind: Dataplane, name: dp-1, sectionName: http}
to:
  - targetRef: {kind: MeshServiceSubset, name: backend, tags: {version: v1}}
    default: {idleTimeout: 1s}`, []v{
			{"spec.targetRef.sectionName", "can only be used with inbound policies"},
			{"spec.to[0].targetRef.kind", "value 'MeshServiceSubset' is not supported"},
		}},
		{"missing timeouts", `
to:
  - targetRef: {kind: Mesh}
    default: {}`, []v{{"spec.to[0].default", "at least one timeout should be configured"}}},
		{"negative and zero timeouts", `
to:
  - targetRef: {kind: Mesh}
    default: {connectionTimeout: 0s, idleTimeout: -1s, http: {requestTimeout: -1s}}`, []v{
			{"spec.to[0].default.connectionTimeout", "must be greater than zero when defined"},
			{"spec.to[0].default.idleTimeout", "must not be negative when defined"},
			{"spec.to[0].default.http.requestTimeout", "must not be negative when defined"},
		}},
		{"empty http section", `
to:
  - targetRef: {kind: Mesh}
    default: {http: {}}`, []v{{"spec.to[0].default.http", "at least one timeout in this section should be configured"}}},
		{"top-level MeshHTTPRoute limits", `
targetRef: {kind: MeshHTTPRoute, name: route-1}
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      connectionTimeout: 10s
      idleTimeout: 1h
      http: {requestTimeout: 1s, streamIdleTimeout: 1h, maxStreamDuration: 1h, maxConnectionDuration: 1h}
from:
  - targetRef: {kind: Mesh}
    default: {connectionTimeout: 11s}`, []v{
			{"spec.from", "must not be defined"},
			{"spec.to[0].targetRef.kind", "value 'MeshService' is not supported"},
			{"spec.to[0].default.connectionTimeout", routeMsg},
			{"spec.to[0].default.idleTimeout", routeMsg},
			{"spec.to[0].default.http.maxStreamDuration", routeMsg},
			{"spec.to[0].default.http.maxConnectionDuration", routeMsg},
		}},
		{"labels and name for MeshExternalService", `
to:
  - targetRef: {kind: MeshExternalService, name: x, labels: {a: b}}
    default: {idleTimeout: 1s}`, []v{{"spec.to[0].targetRef.labels", "either labels or name must be specified"}}},
		{"rules with to", `
rules:
  - default: {idleTimeout: 1s}
to:
  - targetRef: {kind: Mesh}
    default: {idleTimeout: 1s}`, []v{{"spec", "fields 'to' and 'from' must be empty when 'rules' is defined"}}},
		{"empty rule", `
rules:
  - default: {}`, []v{{"spec.rules[0].default", "at least one timeout should be configured"}}},
		{"empty match", `
rules:
  - matches: [{}]
    default: {idleTimeout: 1s}`, []v{{"spec.rules[0].matches[0]", "must specify at least one of 'spiffeID' or 'sni'"}}},
		{"spiffeID without type", `
rules:
  - matches: [{spiffeID: {value: "spiffe://default/a"}}]
    default: {http: {requestTimeout: 1s}}`, []v{{"spec.rules[0].matches[0].spiffeID.type", "must be set"}}},
		{"schema: spiffeID type", `
rules:
  - matches: [{spiffeID: {type: Regex, value: "spiffe://default/a"}}]
    default: {http: {requestTimeout: 1s}}`, []v{{"spec.rules[0].matches[0].spiffeID.type", "in body should be one of [Exact Prefix]"}}},
		{"connection-level timeouts cannot depend on the client", `
targetRef: {kind: Mesh}
rules:
  - matches: [{spiffeID: {type: Exact, value: "spiffe://default/client"}}]
    default:
      connectionTimeout: 10s
      http: {requestHeadersTimeout: 2s, maxStreamDuration: 3s}`, []v{
			{"spec.rules[0].default.connectionTimeout", sourceMsg},
			{"spec.rules[0].default.http.requestHeadersTimeout", sourceMsg},
			{"spec.rules[0].default.http.maxStreamDuration", sourceMsg},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violationsOf(decode(t, tt.spec).Spec.Validate())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Gateways and routes are system-role targets: a consumer policy may not use them.
func TestPolicyRoles(t *testing.T) {
	const spec = `
targetRef: {kind: MeshHTTPRoute, name: route-1}
to:
  - targetRef: {kind: Mesh}
    default: {http: {requestTimeout: 1s}}`
	if err := resources.Validate(decode(t, spec)); err != nil {
		t.Errorf("system role: %v", err)
	}
	err := resources.Validate(decode(t, spec, "kuma.io/policy-role", "consumer", "k8s.kuma.io/namespace", "ns"))
	if err == nil || !strings.Contains(err.Error(), "value 'MeshHTTPRoute' is not supported") {
		t.Errorf("consumer role: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	r := decode(t, `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: Mesh}
    default: {idleTimeout: 1s}`)
	want := []string{
		"'from' field is deprecated, use 'rules' instead",
		"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
	}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPolicy(t *testing.T) {
	r := decode(t, `
from:
  - targetRef: {kind: Mesh}
    default: {idleTimeout: 1s}
to:
  - targetRef: {kind: MeshService, name: backend}
    default: {http: {maxStreamDuration: 1m30s}}`)
	p := mt.Policy(r.Meta, r.Spec.(*mt.Spec))
	if p.TargetRef != nil || len(p.From) != 1 || len(p.To) != 1 || len(p.Rules) != 0 {
		t.Fatalf("policy %+v", p)
	}
	if got := p.To[0].Default.Http.MaxStreamDuration.Duration; got != 90*time.Second {
		t.Errorf("maxStreamDuration %v", got)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering (durations
// come back in Go's form, "1h0m0s", as Kuma's do) and the round trip through kumactl.
func TestGolden(t *testing.T) {
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, registry(t), env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
