package meshretry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mr "github.com/jetmesh/jetmesh/xds/policies/meshretry"
)

type v struct{ Field, Message string }

func registry(t *testing.T) *resources.Registry {
	t.Helper()
	reg, err := resources.NewRegistry(mr.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshRetry\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mr.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

// The cases and messages are Kuma 2.14's validator_test.go for MeshRetry.
func TestValidation(t *testing.T) {
	const to = "to:\n  - targetRef: {kind: Mesh}\n    default:\n"
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"all protocols", to + `      tcp: {maxConnectAttempt: 5}
      http: {numRetries: 1, retryOn: ["5xx", "503", HttpMethodPost, Reset], backOff: {baseInterval: 1s}}
      grpc: {numRetries: 2, retryOn: [Canceled, Unavailable]}`, nil},
		{"unsupported to kinds", `
to:
  - targetRef: {kind: MeshSubset, tags: {a: b}}
    default: {tcp: {maxConnectAttempt: 1}}
  - targetRef: {kind: MeshServiceSubset, name: x, tags: {a: b}}
    default: {tcp: {maxConnectAttempt: 1}}`, []v{
			{"spec.to[0].targetRef.kind", "value 'MeshSubset' is not supported"},
			{"spec.to[1].targetRef.kind", "value 'MeshServiceSubset' is not supported"},
		}},
		{"empty conf", to + "      {}", []v{{"spec.to[0].default.conf", "at least one of the 'tcp', 'http', 'grpc' must be specified"}}},
		{"empty sections", to + "      {tcp: {}, http: {}, grpc: {}}", []v{
			{"spec.to[0].default.conf.tcp", "must not be empty"},
			{"spec.to[0].default.conf.http", "must not be empty"},
			{"spec.to[0].default.conf.grpc", "must not be empty"},
		}},
		{"zero connect attempts", to + "      tcp: {maxConnectAttempt: 0}",
			[]v{{"spec.to[0].default.conf.tcp.maxConnectAttempt", "must be greater than 0"}}},
		{"empty back-off", to + "      http: {backOff: {}}", []v{{"spec.to[0].default.conf.http.backOff", "must not be empty"}}},
		{"rate limited back-off without headers", to + "      grpc: {rateLimitedBackOff: {maxInterval: 1s}}",
			[]v{{"spec.to[0].default.conf.grpc.rateLimitedBackOff.resetHeaders", "must be defined"}}},
		{"unknown http retry conditions", to + `      http: {retryOn: [WRONG_VALUE, 5XX, reset, DEADLINE_EXCEEDED, "123", "952"]}`, []v{
			{"spec.to[0].default.conf.http.retryOn[0]", "unknown item 'WRONG_VALUE'"},
			{"spec.to[0].default.conf.http.retryOn[1]", "unknown item '5XX'"},
			{"spec.to[0].default.conf.http.retryOn[2]", "unknown item 'reset'"},
			{"spec.to[0].default.conf.http.retryOn[3]", "unknown item 'DEADLINE_EXCEEDED'"},
			{"spec.to[0].default.conf.http.retryOn[4]", "unknown item '123'"},
			{"spec.to[0].default.conf.http.retryOn[5]", "unknown item '952'"},
		}},
		{"schema: unknown grpc retry conditions", to + `      grpc: {retryOn: ["500"]}`, []v{
			{"spec.to[0].default.grpc.retryOn[0]", "in body should be one of [Canceled DeadlineExceeded Internal ResourceExhausted Unavailable]"},
		}},
		{"reset header without name", to + "      http: {rateLimitedBackOff: {resetHeaders: [{format: Seconds}]}}",
			[]v{{"spec.to[0].default.conf.http.rateLimitedBackOff.resetHeaders[0].name", "must be defined"}}},
		{"host selection", to + `      http:
        hostSelection:
          - predicate: OmitHostsWithTags
          - predicate: OmitPreviousPriorities
          - predicate: OmitPreviousPriorities
            updateFrequency: 1`, []v{
			{"spec.to[0].default.conf.http.hostSelection[0].tags", "must be defined"},
			{"spec.to[0].default.conf.http.hostSelection[1].updateFrequency", "must be defined and greater than zero"},
			{"spec.to[0].default.conf.http.hostSelection[2].predicate", "OmitPreviousPriorities must only be specified once"},
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

func TestRetryPolicy(t *testing.T) {
	r := decode(t, `
to:
  - targetRef: {kind: Mesh}
    default:
      http: {numRetries: 0}
      grpc: {retryOn: [Canceled]}`)
	conf := r.Spec.(*mr.Spec).GetTo()[0].Default
	if p, err := mr.RetryPolicy(conf, "http"); err != nil || p != nil {
		t.Errorf("numRetries 0 must disable retries: %v %v", p, err)
	}
	if p, err := mr.RetryPolicy(conf, "http2"); err != nil || p != nil {
		t.Errorf("http2 outbounds get no retry policy: %v %v", p, err)
	}
	p, err := mr.RetryPolicy(conf, "grpc")
	if err != nil || p.GetRetryOn() != "cancelled" || p.GetNumRetries() != nil {
		t.Errorf("grpc policy %v %v", p, err)
	}
}

func TestGolden(t *testing.T) {
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, registry(t), env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
