package meshcircuitbreaker_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mcb "github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshCircuitBreaker\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mcb.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

const pct0to100 = "must be in inclusive range [0, 100]"

// The cases and messages are Kuma 2.14's validator_test.go for MeshCircuitBreaker.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"full example", `
targetRef: {kind: MeshService, name: web-frontend}
from:
  - targetRef: {kind: Mesh}
    default:
      connectionLimits: {maxConnections: 12, maxConnectionPools: 12, maxPendingRequests: 92, maxRetries: 8, maxRequests: 128}
      outlierDetection:
        disabled: false
        interval: 11s
        baseEjectionTime: 38s
        maxEjectionPercent: 22
        splitExternalAndLocalErrors: true
        healthyPanicThreshold: 60
        detectors:
          totalFailures: {consecutive: 10}
          gatewayFailures: {consecutive: 10}
          localOriginFailures: {consecutive: 10}
          successRate: {minimumHosts: 5, requestVolume: 10, standardDeviationFactor: "1.9"}
          failurePercentage: {requestVolume: 10, minimumHosts: 5, threshold: 31}
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      outlierDetection:
        detectors: {successRate: {standardDeviationFactor: 1900}}`, nil},
		{"minimal, every destination kind", `
targetRef: {kind: Mesh}
to:
  - targetRef: {kind: MeshMultiZoneService, name: web-backend}
    default: {connectionLimits: {}}
  - targetRef: {kind: MeshExternalService, name: external}
    default: {connectionLimits: {}}`, nil},
		{"rules", `
rules:
  - default: {connectionLimits: {maxRequests: 1}}`, nil},
		{"nothing defined", `targetRef: {kind: Mesh}`,
			[]v{{"spec", "at least one of 'from', 'to' or 'rules' has to be defined"}}},
		{"to mixed with rules", `
targetRef: {kind: MeshService, name: web-frontend}
to:
  - targetRef: {kind: MeshServiceSubset, name: x}
    default: {connectionLimits: {}}
rules:
  - default: {connectionLimits: {}}`, []v{
			{"spec", "fields 'to' and 'from' must be empty when 'rules' is defined"},
			{"spec.to[0].targetRef.kind", "value 'MeshServiceSubset' is not supported"},
		}},
		{"sectionName with an outbound policy", `
targetRef: {kind: Dataplane, sectionName: test}
to:
  - targetRef: {kind: MeshServiceSubset, name: x}
    default: {connectionLimits: {}}`, []v{
			{"spec.targetRef.sectionName", "can only be used with inbound policies"},
			{"spec.to[0].targetRef.kind", "value 'MeshServiceSubset' is not supported"},
		}},
		{"missing configuration", `
to:
  - targetRef: {kind: MeshService, name: web-backend}`, []v{
			{"spec.to[0].default", "at least one of: 'connectionLimits' or 'outlierDetection' should be configured"}}},
		{"empty rule is reported under from, as Kuma does", `
rules:
  - default: {}`, []v{
			{"spec.from[0].default", "at least one of: 'connectionLimits' or 'outlierDetection' should be configured"}}},
		{"zero limits", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      connectionLimits: {maxConnections: 0, maxConnectionPools: 0, maxPendingRequests: 0, maxRetries: 0, maxRequests: 0}`, []v{
			{"spec.to[0].default.connectionLimits.maxConnections", "must be greater than 0"},
			{"spec.to[0].default.connectionLimits.maxConnectionPools", "must be greater than 0"},
			{"spec.to[0].default.connectionLimits.maxPendingRequests", "must be greater than 0"},
			{"spec.to[0].default.connectionLimits.maxRetries", "must be greater than 0"},
			{"spec.to[0].default.connectionLimits.maxRequests", "must be greater than 0"},
		}},
		{"zero outlier detection values", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      outlierDetection:
        interval: 0s
        baseEjectionTime: 0s
        maxEjectionPercent: 0
        healthyPanicThreshold: 0
        detectors:
          totalFailures: {consecutive: 0}
          gatewayFailures: {consecutive: 0}
          localOriginFailures: {consecutive: 0}
          successRate: {minimumHosts: 0, requestVolume: 0, standardDeviationFactor: 0}
          failurePercentage: {requestVolume: 0, minimumHosts: 0, threshold: 0}`, []v{
			{"spec.to[0].default.outlierDetection.interval", "must be greater than zero when defined"},
			{"spec.to[0].default.outlierDetection.baseEjectionTime", "must be greater than zero when defined"},
			{"spec.to[0].default.outlierDetection.detectors.totalFailures.consecutive", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.gatewayFailures.consecutive", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.localOriginFailures.consecutive", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.successRate.minimumHosts", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.successRate.requestVolume", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.failurePercentage.minimumHosts", "must be greater than 0"},
			{"spec.to[0].default.outlierDetection.detectors.failurePercentage.requestVolume", "must be greater than 0"},
		}},
		{"percentages above 100", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      outlierDetection:
        maxEjectionPercent: 101
        healthyPanicThreshold: 101
        detectors: {failurePercentage: {threshold: 101}}`, []v{
			{"spec.to[0].default.outlierDetection.maxEjectionPercent", pct0to100},
			{"spec.to[0].default.outlierDetection.healthyPanicThreshold", "must be in inclusive range [0.0, 100.0]"},
			{"spec.to[0].default.outlierDetection.detectors.failurePercentage.threshold", pct0to100},
		}},
		{"negative percentage and factor", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      outlierDetection:
        healthyPanicThreshold: -3
        detectors: {successRate: {standardDeviationFactor: -2}}`, []v{
			{"spec.to[0].default.outlierDetection.healthyPanicThreshold", "must be in inclusive range [0.0, 100.0]"},
			{"spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor", "must be greater than 0"},
		}},
		{"detectors missing", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default: {outlierDetection: {maxEjectionPercent: 100}}`, []v{
			{"spec.to[0].default.outlierDetection.detectors", "must be defined"}}},
		{"detectors empty", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default: {outlierDetection: {detectors: {}}}`, []v{
			{"spec.to[0].default.outlierDetection.detectors",
				"must have at least one defined: totalFailures, gatewayFailures, localOriginFailures, successRate, failurePercentage"}}},
		{"invalid numbers", `
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
      outlierDetection:
        healthyPanicThreshold: "x"
        detectors: {successRate: {standardDeviationFactor: "xyz"}}`, []v{
			{"spec.to[0].default.outlierDetection.healthyPanicThreshold", "string must be a valid number"},
			{"spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor", "invalid number"},
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
from:
  - targetRef: {kind: Mesh}
    default: {connectionLimits: {maxRequests: 1}}`)
	want := []string{"'from' field is deprecated, use 'rules' instead"}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering and the
// round trip through kumactl.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mcb.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
