package meshratelimit_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mrl "github.com/jetmesh/jetmesh/xds/policies/meshratelimit"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

type v struct{ Field, Message string }

func violationsOf(err resources.ValidationError) []v {
	var out []v
	for _, x := range err.Violations {
		out = append(out, v{x.Field, x.Message})
	}
	return out
}

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	doc := "type: MeshRateLimit\nname: x\nmesh: default\nspec:\n" + indent(spec)
	r, err := resources.DecodeAs(mrl.Descriptor, []byte(doc))
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

const gatewayFrom = "must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to"

// The cases are Kuma 2.14's validator_test.go for MeshRateLimit, with its expected messages.
func TestValidation(t *testing.T) {
	const fromMesh = "targetRef: {kind: MeshService, name: web-frontend}\nfrom:\n- targetRef: {kind: Mesh}\n"
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"full example", fromMesh + `  default:
    local:
      http:
        disabled: false
        requestRate: {num: 100, interval: 10s}
        onRateLimit: {status: 123, headers: {add: [{name: test, value: "123"}]}}
      tcp:
        disabled: false
        connectionRate: {num: 100, interval: 100ms}`, nil},
		{"disable rate limit", fromMesh + `  default: {local: {http: {disabled: true}, tcp: {disabled: true}}}`, nil},
		{"gateway example", `
targetRef: {kind: MeshGateway, name: edge}
to:
- targetRef: {kind: Mesh}
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}, tcp: {connectionRate: {num: 100, interval: 100ms}}}}`, nil},
		{"targeting MeshHTTPRoute", `
targetRef: {kind: MeshHTTPRoute, name: http-route-1}
to:
- targetRef: {kind: Mesh}
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}`, nil},
		{"rules with sni match", `
targetRef: {kind: Dataplane}
rules:
- matches: [{sni: {type: Exact, value: backend.mesh}}]
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}`, nil},
		{"sidecar-only mesh with from", `
targetRef: {kind: Mesh, proxyTypes: [Sidecar]}
from:
- targetRef: {kind: Mesh}
  default: {local: {tcp: {connectionRate: {num: 1, interval: 1s}}}}`, nil},
		{"schema: unknown kind in from", `
targetRef: {kind: MeshService, name: web-frontend}
from:
- targetRef: {kind: MeshGatewayRoute}
  default: {local: {http: {requestRate: {num: 10, interval: 10s}}}}`, []v{{"spec.from[0].targetRef.kind",
			"in body should be one of [Mesh MeshSubset MeshGateway MeshService MeshExternalService MeshMultiZoneService MeshServiceSubset MeshHTTPRoute Dataplane]"}}},
		{"invalid values", fromMesh + `  default:
    local:
      http: {requestRate: {num: 0, interval: 49ms}}
      tcp: {connectionRate: {num: 0, interval: 49ms}}`, []v{
			{"spec.from[0].default.local.http.requestRate.num", "must be greater than 0"},
			{"spec.from[0].default.local.http.requestRate.interval", "must be greater than: 50ms"},
			{"spec.from[0].default.local.tcp.connectionRate.num", "must be greater than 0"},
			{"spec.from[0].default.local.tcp.connectionRate.interval", "must be greater than: 50ms"},
		}},
		{"from MeshService", `
targetRef: {kind: MeshService, name: web-frontend}
from:
- targetRef: {kind: MeshService, name: backend}
  default: {local: {tcp: {connectionRate: {num: 100, interval: 500ms}}}}`,
			[]v{{"spec.from[0].targetRef.kind", "value 'MeshService' is not supported"}}},
		{"empty default", fromMesh + "  default: {}", []v{{"spec.from[0].default.local", "must be defined"}}},
		{"sectionName with outbound policy", `
targetRef: {kind: Dataplane, sectionName: test}
to:
- targetRef: {kind: Mesh}
  default: {}`, []v{
			{"spec.targetRef.sectionName", "can only be used with inbound policies"},
			{"spec.to", "must not be defined"},
		}},
		{"neither tcp nor http", fromMesh + "  default: {local: {}}",
			[]v{{"spec.from[0].default.local", "must have at least one defined: tcp, http"}}},
		{"empty tcp", fromMesh + "  default: {local: {tcp: {}}}",
			[]v{{"spec.from[0].default.local.tcp", "must have at least one defined: disabled, connectionRate"}}},
		{"empty http", fromMesh + "  default: {local: {http: {}}}",
			[]v{{"spec.from[0].default.local.http", "must have at least one defined: disabled, requestRate, onRateLimit"}}},
		{"status 0", fromMesh + "  default: {local: {http: {onRateLimit: {status: 0}}}}",
			[]v{{"spec.from[0].default.local.http.onRateLimit.status", "must be greater than 0"}}},
		{"gateway with from", `
targetRef: {kind: MeshGateway, name: edge}
from:
- targetRef: {kind: Mesh}
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}`, []v{{"spec.from", gatewayFrom}}},
		{"mixing from with rules", `
targetRef: {kind: Mesh}
from:
- targetRef: {kind: Mesh}
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}
rules:
- default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}`, []v{
			{"spec", "fields 'to' and 'from' must be empty when 'rules' is defined"},
			{"spec.rules", "must not be defined"},
			{"spec.from", gatewayFrom},
		}},
		{"MeshHTTPRoute with from", `
targetRef: {kind: MeshHTTPRoute, name: http-route-1}
from:
- targetRef: {kind: Mesh}
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}`, []v{{"spec.from", gatewayFrom}}},
		{"spiffeID match with tcp rule", `
targetRef: {kind: Dataplane}
rules:
- matches: [{spiffeID: {type: Exact, value: "spiffe://default/client"}}]
  default: {local: {tcp: {connectionRate: {num: 100, interval: 100ms}}}}`, []v{{"spec.rules[0].default.local.tcp",
			"can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity"}}},
		{"schema: spiffeID type", `
targetRef: {kind: Dataplane}
rules:
- matches: [{spiffeID: {type: Unknown, value: "spiffe://default/client"}}]
  default: {local: {http: {requestRate: {num: 100, interval: 10s}}}}`,
			[]v{{"spec.rules[0].matches[0].spiffeID.type", "in body should be one of [Exact Prefix]"}}},
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

func TestWarnings(t *testing.T) {
	r := decode(t, `
targetRef: {kind: MeshService, name: backend}
from:
- targetRef: {kind: Mesh}
  default: {local: {http: {requestRate: {num: 1, interval: 1s}, onRateLimit: {status: 302}}}}`)
	want := []string{
		"'from' field is deprecated, use 'rules' instead",
		"'spec.from[0].default.local.http.requestRate.status' must be 400 or higher. Please update your configuration.",
		"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
	}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A more specific policy's rate replaces the less specific one's whole; disabled merges in
// beside it and wins in the configurer.
func TestMerge(t *testing.T) {
	conf := func(s string) mrl.Conf {
		return decode(t, "targetRef: {kind: Dataplane}\nrules:\n- default: "+s).Spec.(*mrl.Spec).GetRules()[0].Default
	}
	got, err := rules.Merge([]mrl.Conf{
		conf("{local: {http: {requestRate: {num: 10, interval: 1s}, onRateLimit: {status: 429}}}}"),
		conf("{local: {http: {requestRate: {num: 5, interval: 2s}}, tcp: {disabled: true}}}"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := conf("{local: {http: {requestRate: {num: 5, interval: 2s}, onRateLimit: {status: 429}}, tcp: {disabled: true}}}")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering and the
// round trip through kumactl.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mrl.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
