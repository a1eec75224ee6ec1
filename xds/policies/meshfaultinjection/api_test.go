package meshfaultinjection_test

import (
	"strings"
	"testing"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mfi "github.com/jetmesh/jetmesh/xds/policies/meshfaultinjection"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshFaultInjection\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mfi.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

const badFaults = `
        - abort: {httpStatus: 999, percentage: 101}
        - delay: {value: -1s, percentage: 101}
        - responseBandwidth: {limit: 10bps, percentage: 101}`

const pctRange = "must be in inclusive range [0.0, 100.0]"

// The cases and messages are Kuma 2.14's validator_test.go for MeshFaultInjection.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"full example", `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: MeshService, name: frontend}
    default:
      http:
        - abort: {httpStatus: 503, percentage: "12.5"}
        - delay: {value: 5s, percentage: 50}
        - responseBandwidth: {limit: 100 Mbps, percentage: 5}`, nil},
		{"rules with a SPIFFE match", `
targetRef: {kind: Mesh, proxyTypes: [Sidecar]}
rules:
  - matches: [{spiffeID: {type: Exact, value: "spiffe://default/ns/web"}}]
    default: {http: [{abort: {httpStatus: 500, percentage: 10}}]}`, nil},
		{"bad faults in from", `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: Mesh}
    default:
      http:` + badFaults, []v{
			{"spec.from[0].default.http.abort[0].httpStatus", "must be in inclusive range [100, 599]"},
			{"spec.from[0].default.http.abort[0].percentage", pctRange},
			{"spec.from[0].default.http.delay[1].value", "must not be negative when defined"},
			{"spec.from[0].default.http.delay[1].percentage", pctRange},
			{"spec.from[0].default.http.responseBandwidth[2].limit", "must be in kbps/Mbps/Gbps units"},
			{"spec.from[0].default.http.responseBandwidth[2].percentage", pctRange},
		}},
		{"bad faults in rules", `
targetRef: {kind: MeshService, name: backend}
rules:
  - default:
      http:` + badFaults, []v{
			{"spec.rules[0].default.http.abort[0].httpStatus", "must be in inclusive range [100, 599]"},
			{"spec.rules[0].default.http.abort[0].percentage", pctRange},
			{"spec.rules[0].default.http.delay[1].value", "must not be negative when defined"},
			{"spec.rules[0].default.http.delay[1].percentage", pctRange},
			{"spec.rules[0].default.http.responseBandwidth[2].limit", "must be in kbps/Mbps/Gbps units"},
			{"spec.rules[0].default.http.responseBandwidth[2].percentage", pctRange},
		}},
		{"to on a sidecar policy, sectionName", `
targetRef: {kind: Dataplane, sectionName: http}
to:
  - targetRef: {kind: Mesh}
    default: {http: [{abort: {httpStatus: 500, percentage: 10}}]}`, []v{
			{"spec.targetRef.sectionName", "can only be used with inbound policies"},
			{"spec.to", "must not be defined"},
		}},
		{"from and rules, from on a scope with gateways", `
targetRef: {kind: Mesh}
from:
  - targetRef: {kind: Mesh}
    default: {http: [{abort: {httpStatus: 500, percentage: "x"}}]}
rules:
  - default: {http: []}`, []v{
			{"spec", "field 'from' must be empty when 'rules' is defined"},
			{"spec.from", "must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to"},
		}},
		{"invalid percentage", `
targetRef: {kind: MeshService, name: backend}
from:
  - targetRef: {kind: Mesh}
    default: {http: [{responseBandwidth: {limit: "10", percentage: "x"}}]}`, []v{
			{"spec.from[0].default.http.responseBandwidth[0].limit", "must be in kbps/Mbps/Gbps units"},
			{"spec.from[0].default.http.responseBandwidth[0].percentage", "string must be a valid number"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []v
			for _, x := range decode(t, tt.spec).Spec.Validate().Violations {
				got = append(got, v{x.Field, x.Message})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	r := decode(t, `
targetRef: {kind: Mesh, proxyTypes: [Sidecar]}
from:
  - targetRef: {kind: Mesh}
    default: {http: [{abort: {httpStatus: 500, percentage: 10}}]}`)
	want := []string{"'from' field is deprecated, use 'rules' with SPIFFE-based 'matches' instead"}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Percentages become Envoy fractions as in Kuma; bandwidths kbps.
func TestConversions(t *testing.T) {
	for in, want := range map[string]*typev3.FractionalPercent{
		"50":     {Numerator: 50, Denominator: typev3.FractionalPercent_HUNDRED},
		"12.5":   {Numerator: 1250, Denominator: typev3.FractionalPercent_TEN_THOUSAND},
		"0.0625": {Numerator: 625, Denominator: typev3.FractionalPercent_MILLION},
	} {
		f, err := mfi.HTTPFault(mfi.FaultInjectionConf{Abort: &mfi.AbortConf{HttpStatus: 503, Percentage: meshhttproute.Percentage{Value: in}}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, f.Abort.Percentage, protocmp.Transform()); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", in, diff)
		}
	}
	for in, want := range map[string]uint64{"10kbps": 10, "5 Mbps": 5000, "1Gbps": 1_000_000} {
		if got, err := mfi.Kbps(in); err != nil || got != want {
			t.Errorf("Kbps(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering and the
// round trip through kumactl.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mfi.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
