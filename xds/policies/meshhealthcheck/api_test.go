package meshhealthcheck_test

import (
	"fmt"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mhc "github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshHealthCheck\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mhc.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

const to = `
targetRef: {kind: MeshService, name: backend}
to:
  - targetRef: {kind: MeshService, name: web-backend}
    default:
`

// The cases and messages are Kuma 2.14's validator_test.go for MeshHealthCheck.
func TestValidation(t *testing.T) {
	const positive = "must be greater than zero when defined"
	tests := []struct {
		name string
		conf string // the default of the only to item
		want []v
	}{
		{"full example", `
      interval: 10s
      timeout: 2s
      unhealthyThreshold: 3
      healthyThreshold: 1
      initialJitter: 5s
      intervalJitter: 6s
      intervalJitterPercent: 10
      healthyPanicThreshold: 60
      failTrafficOnPanic: true
      noTrafficInterval: 10s
      eventLogPath: "/tmp/health-check.log"
      alwaysLogHealthCheckFailures: true
      reuseConnection: false
      tcp: {disabled: true, send: Zm9v, receive: [YmFy, YmF6]}
      http:
        disabled: true
        path: /health
        requestHeadersToAdd:
          set: [{name: Content-Type, value: application/json}]
          add: [{name: Accept, value: application/json}]
        expectedStatuses: [200, 201]
      grpc: {disabled: false, serviceName: "", authority: ""}`, nil},
		{"required fields are missing", `
      interval: 10s`, []v{{"spec.to[0].default", "must have at least one defined: http, tcp, grpc"}}},
		{"positive values out of range", `
      unhealthyThreshold: 0
      healthyThreshold: -1
      tcp: {}`, []v{{"spec.to[0].default.unhealthyThreshold", positive}, {"spec.to[0].default.healthyThreshold", positive}}},
		{"positive durations out of range", `
      interval: 0s
      timeout: -1s
      initialJitter: 0s
      intervalJitter: 0s
      noTrafficInterval: 0s
      tcp: {}`, []v{
			{"spec.to[0].default.interval", positive}, {"spec.to[0].default.timeout", positive},
			{"spec.to[0].default.initialJitter", positive}, {"spec.to[0].default.intervalJitter", positive},
			{"spec.to[0].default.noTrafficInterval", positive},
		}},
		{"percentages out of range", `
      intervalJitterPercent: 110
      healthyPanicThreshold: 101
      tcp: {}`, []v{
			{"spec.to[0].default.intervalJitterPercent", "must be in inclusive range [0, 100]"},
			{"spec.to[0].default.healthyPanicThreshold", "must be in inclusive range [0.0, 100.0]"},
		}},
		{"invalid path", `
      eventLogPath: "#not_valid_path"
      grpc: {}`, []v{{"spec.to[0].default.eventLogPath", "must be a valid path when defined"}}},
		{"status codes out of range", `
      http: {expectedStatuses: [99, 600], path: ""}`, []v{
			{"spec.to[0].default.http.path", "must be defined"},
			{"spec.to[0].default.http.expectedStatuses[0]", "must be in inclusive range [100, 599]"},
			{"spec.to[0].default.http.expectedStatuses[1]", "must be in inclusive range [100, 599]"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []v
			for _, x := range decode(t, to+strings.Trim(tt.conf, "\n")).Spec.Validate().Violations {
				got = append(got, v{x.Field, x.Message})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	r := decode(t, `
targetRef: {kind: MeshService, name: backend}
to:
  - targetRef: {kind: MeshServiceSubset, name: web-backend}
    default: {tcp: {}}`)
	got := r.Spec.Validate().Violations
	if len(got) != 1 || got[0].Field != "spec.to[0].targetRef.kind" || got[0].Message != "value 'MeshServiceSubset' is not supported" {
		t.Errorf("unsupported to kind: %+v", got)
	}
}

func TestWarnings(t *testing.T) {
	r := decode(t, to+"      healthyPanicThreshold: 60\n      tcp: {}")
	want := []string{"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
		"healthyPanicThreshold for 'to[].default' is deprecated. " +
			"The setting has been moved to MeshCircuitBreaker policy, please use MeshCircuitBreaker policy instead."}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The destination's protocol picks the checker, falling back to tcp when the protocol's own
// is disabled.
func TestCheckerSelection(t *testing.T) {
	// Disabled values: an enabled checker says false.
	enabled, disabled := false, true
	tcp := &mhc.TcpHealthCheck{Disabled: &enabled}
	tests := []struct {
		protocol string
		conf     mhc.Conf
		want     string // the checker's oneof type, "" for no health check
	}{
		{"http", mhc.Conf{Http: &mhc.HttpHealthCheck{}, Tcp: tcp}, "*corev3.HealthCheck_HttpHealthCheck_"},
		{"http2", mhc.Conf{Http: &mhc.HttpHealthCheck{Disabled: &disabled}, Tcp: tcp}, "*corev3.HealthCheck_TcpHealthCheck_"},
		{"grpc", mhc.Conf{Grpc: &mhc.GrpcHealthCheck{}}, "*corev3.HealthCheck_GrpcHealthCheck_"},
		{"grpc", mhc.Conf{Http: &mhc.HttpHealthCheck{}}, ""},
		{"tcp", mhc.Conf{Tcp: tcp, Http: &mhc.HttpHealthCheck{}}, "*corev3.HealthCheck_TcpHealthCheck_"},
		{"tcp", mhc.Conf{Tcp: &mhc.TcpHealthCheck{Disabled: &disabled}}, ""},
	}
	for _, tt := range tests {
		c := &clusterv3.Cluster{}
		if err := mhc.ConfigureCluster(c, tt.conf, tt.protocol, ""); err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(c.HealthChecks) == 1 {
			got = fmt.Sprintf("%T", c.HealthChecks[0].HealthChecker)
		}
		if got != tt.want {
			t.Errorf("%s %+v: checker %s, want %s", tt.protocol, tt.conf, got, tt.want)
		}
	}
}

func TestSerializeTags(t *testing.T) {
	got := mhc.SerializeTags([]map[string]string{
		{"kuma.io/service": "web", "version": "v2"}, {"kuma.io/service": "web-admin", "version": "v2"}})
	if want := "&kuma.io/service=web,web-admin&&version=v2&"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering and the
// round trip through kumactl.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mhc.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
