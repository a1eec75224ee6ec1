package meshtrace_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mtr "github.com/jetmesh/jetmesh/xds/policies/meshtrace"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshTrace\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mtr.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

func withBackend(b string) string {
	return "targetRef: {kind: MeshService, name: backend}\ndefault:\n  backends: [" + b + "]"
}

// The cases are Kuma 2.14's validator_test.go for MeshTrace, with its expected messages.
func TestValidation(t *testing.T) {
	const b0 = "spec.default.backends[0]"
	const dd = `{type: Datadog, datadog: {url: "http://intake.datadoghq.eu:443"}}`
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"full zipkin example", withBackend(`{type: Zipkin, zipkin: {url: "http://jaeger-collector:9411/api/v2/spans", apiVersion: httpProto, traceId128bit: true, sharedSpanContext: false}}`), nil},
		{"opentelemetry", withBackend(`{type: OpenTelemetry, openTelemetry: {endpoint: "otel-collector:4317"}}`), nil},
		{"empty backends", "default: {backends: [], sampling: {overall: 10}}", nil},
		{"datadog", withBackend(`{type: Datadog, datadog: {url: "http://intake.datadoghq.eu:443", splitService: true}}`), nil},
		{"top level MeshGateway", "targetRef: {kind: MeshGateway, name: gw}\ndefault: {backends: []}", nil},
		{"no default", "targetRef: {kind: Mesh}", []v{{"spec.default.backends", "must be defined"}}},
		{"multiple backends", withBackend(dd + ", " + dd), []v{{"spec.default.backends", "must have zero or one backend defined"}}},
		{"no url for zipkin", withBackend(`{type: Zipkin, zipkin: {}}`), []v{{b0 + ".zipkin.url", "must not be empty"}}},
		{"invalid url for zipkin", withBackend(`{type: Zipkin, zipkin: {url: not_valid_url}}`), []v{{b0 + ".zipkin.url", "must be a valid url"}}},
		{"invalid url for datadog", withBackend(`{type: Datadog, datadog: {url: not_valid_url}}`), []v{{b0 + ".datadog.url", "must be a valid url"}}},
		{"no port for datadog", withBackend(`{type: Datadog, datadog: {url: "http://intake.datadoghq.eu"}}`), []v{{b0 + ".datadog.url", "port must be defined"}}},
		{"invalid port for datadog", withBackend(`{type: Datadog, datadog: {url: "http://intake.datadoghq.eu:999999"}}`), []v{{b0 + ".datadog.url", "port must be a valid (1-65535)"}}},
		{"invalid scheme for datadog", withBackend(`{type: Datadog, datadog: {url: "https://intake.datadoghq.eu:443"}}`), []v{{b0 + ".datadog.url", "scheme must be http"}}},
		{"path for datadog", withBackend(`{type: Datadog, datadog: {url: "http://intake.datadoghq.eu:443/foo"}}`), []v{{b0 + ".datadog.url", "path must not be defined"}}},
		{"tag missing name", "default:\n  backends: [" + dd + "]\n  tags: [{literal: a}, {header: {name: x}}]", []v{
			{"spec.default.tags[0].name", "must not be empty"},
			{"spec.default.tags[1].name", "must not be empty"},
		}},
		{"tag missing type", "default:\n  backends: [" + dd + "]\n  tags: [{name: a}]", []v{{"spec.default.tags[0]", "tag must have only one type defined: header, literal"}}},
		{"sampling out of range", "default:\n  backends: [" + dd + "]\n  sampling: {overall: 101}", []v{{"spec.default.sampling.overall", "must be between 0 and 100"}}},
		{"sampling invalid string", "default:\n  backends: [" + dd + "]\n  sampling: {overall: xyz, client: xyz, random: xyz}", []v{
			{"spec.default.sampling.client", "string is not a number"},
			{"spec.default.sampling.random", "string is not a number"},
			{"spec.default.sampling.overall", "string is not a number"},
		}},
		{"backends must be defined", withBackend(`{type: Datadog}`), []v{{b0 + ".datadog", "must be defined"}}},
		{"zipkin must be defined", withBackend(`{type: Zipkin}`), []v{{b0 + ".zipkin", "must be defined"}}},
		{"openTelemetry must be defined", withBackend(`{type: OpenTelemetry}`), []v{{b0 + ".openTelemetry", "must be defined"}}},
		{"schema: backend type", withBackend(`{type: Jaeger}`), []v{{b0 + ".type", "in body should be one of [Zipkin Datadog OpenTelemetry]"}}},
		{"schema: zipkin apiVersion", withBackend(`{type: Zipkin, zipkin: {url: "http://z:9411/", apiVersion: grpc}}`), []v{{b0 + ".zipkin.apiVersion", "in body should be one of [httpJson httpProto]"}}},
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

// A more specific policy overrides the mesh-wide one field by field: its backend list
// replaces the other's, the sampling it leaves out is kept.
func TestMerge(t *testing.T) {
	mesh := decode(t, "targetRef: {kind: Mesh}\ndefault: {backends: [{type: Zipkin, zipkin: {url: \"http://z:9411/\"}}], sampling: {overall: 10}}")
	web := decode(t, "targetRef: {kind: MeshService, name: web}\ndefault: {backends: [{type: OpenTelemetry, openTelemetry: {endpoint: \"o:4317\"}}]}")
	got, err := rules.Merge([]mtr.Conf{mesh.Spec.(*mtr.Spec).Default, web.Spec.(*mtr.Spec).Default})
	if err != nil {
		t.Fatal(err)
	}
	bs := *got.Backends
	if len(bs) != 1 || bs[0].OpenTelemetry == nil || got.Sampling == nil || *got.Sampling.Overall.Int != 10 {
		t.Errorf("merged %+v", got)
	}
}

func TestWarnings(t *testing.T) {
	r := decode(t, withBackend(`{type: OpenTelemetry, openTelemetry: {endpoint: "otel:4317"}}`))
	want := []string{
		"openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead",
		"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
	}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering (with
// Kuma's schema defaults for Zipkin) and the round trip through kumactl.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mtr.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
