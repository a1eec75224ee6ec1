package meshaccesslog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mal "github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
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
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshAccessLog\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mal.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

// from is a from item for the Mesh with the given backends (YAML flow list).
func from(backends string) string {
	return "targetRef: {kind: MeshService, name: web-frontend}\nfrom:\n- targetRef: {kind: Mesh}\n  default:\n    backends: " + backends
}

// The cases are Kuma 2.14's validator_test.go for MeshAccessLog, with its expected messages.
func TestValidation(t *testing.T) {
	const b0 = "spec.from[0].default.backends[0]"
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"mesh from/to example", `
targetRef: {kind: Mesh}
from:
- targetRef: {kind: Mesh}
  default: {backends: [{type: File, file: {path: /tmp/a.log, format: {type: Plain, plain: "%START_TIME%"}}}]}
to:
- targetRef: {kind: MeshService, name: backend}
  default: {backends: [{type: Tcp, tcp: {address: "127.0.0.1:5000", format: {type: Json, json: [{key: a, value: b}]}}}]}`, nil},
		{"empty backend list", from("[]"), nil},
		{"MeshMultiZoneService", `
to:
- targetRef: {kind: MeshMultiZoneService, name: x}
  default: {backends: []}`, nil},
		{"openTelemetry with backendRef", from(`[{type: OpenTelemetry, openTelemetry: {backendRef: {kind: MeshOpenTelemetryBackend, labels: {a: b}}}}]`), nil},
		{"nothing defined", "targetRef: {kind: Mesh}", []v{{"spec", "at least one of 'from', 'to' or 'rules' has to be defined"}}},
		{"empty path", from(`[{type: File, file: {format: {type: Plain, plain: x}}}]`), []v{{b0 + ".file.path", "file backend requires a valid path"}}},
		{"invalid path", from(`[{type: File, file: {path: "#not_valid"}}]`), []v{{b0 + ".file.path", "file backend requires a valid path"}}},
		{"empty key and value", from(`[{type: File, file: {path: /tmp/a, format: {type: Json, json: [{key: "", value: ""}]}}}]`), []v{
			{b0 + ".file.format.json[0].key", "key cannot be empty"},
			{b0 + ".file.format.json[0].value", "value cannot be empty"},
		}},
		{"invalid key", from(`[{type: File, file: {path: /tmp/a, format: {type: Json, json: [{key: '"', value: "%START_TIME%"}]}}}]`),
			[]v{{b0 + ".file.format.json[0]", "is not a valid JSON object"}}},
		{"default not defined in to", "to:\n- targetRef: {kind: Mesh}", []v{{"spec.to[0].default.backends", "must be defined"}}},
		{"sectionName with outbound policy", "targetRef: {kind: Dataplane, sectionName: x}\nto:\n- targetRef: {kind: Mesh}", []v{
			{"spec.targetRef.sectionName", "can only be used with inbound policies"},
			{"spec.to[0].default.backends", "must be defined"},
		}},
		{"don't mix from with rules", "from:\n- targetRef: {kind: Mesh}\nrules:\n- default: {backends: []}", []v{
			{"spec", "fields 'to' and 'from' must be empty when 'rules' is defined"},
			{"spec.from[0].default.backends", "must be defined"},
		}},
		{"address not valid", from(`[{type: Tcp, tcp: {address: not_valid_url}}]`), []v{{b0 + ".tcp.address", "tcp backend requires valid address"}}},
		{"empty format lists", from(`[{type: File, file: {path: /a, format: {type: Json, json: []}}}, {type: Tcp, tcp: {address: "1.1.1.1:1", format: {type: Plain, plain: ""}}}]`), []v{
			{b0 + ".file.format.json", "must not be empty"},
			{"spec.from[0].default.backends[1].tcp.format.plain", "must not be empty"},
		}},
		{"backend must be defined", from(`[{type: File}, {type: Tcp}, {type: OpenTelemetry}]`), []v{
			{b0 + ".file", "must be defined"},
			{"spec.from[0].default.backends[1].tcp", "must be defined"},
			{"spec.from[0].default.backends[2].openTelemetry", "must be defined"},
		}},
		{"format must be defined", from(`[{type: File, file: {path: /a, format: {type: Plain}}}, {type: Tcp, tcp: {address: "1.1.1.1:1", format: {type: Json}}}]`), []v{
			{b0 + ".file.format.plain", "must be defined"},
			{"spec.from[0].default.backends[1].tcp.format.json", "must be defined"},
		}},
		{"openTelemetry neither endpoint nor backendRef", from(`[{type: OpenTelemetry, openTelemetry: {}}]`),
			[]v{{b0 + ".openTelemetry", "openTelemetry must have exactly one defined: endpoint, backendRef"}}},
		{"openTelemetry endpoint and backendRef", from(`[{type: OpenTelemetry, openTelemetry: {endpoint: "a:1", backendRef: {kind: MeshOpenTelemetryBackend, labels: {a: b}}}}]`),
			[]v{{b0 + ".openTelemetry", "openTelemetry must have only one type defined: endpoint, backendRef"}}},
		{"openTelemetry backendRef without labels", from(`[{type: OpenTelemetry, openTelemetry: {backendRef: {kind: MeshOpenTelemetryBackend}}}]`),
			[]v{{b0 + ".openTelemetry.backendRef", "backendRef must have exactly one defined: labels"}}},
		{"openTelemetry URL endpoint", from(`[{type: OpenTelemetry, openTelemetry: {endpoint: "http://otel:4317"}}]`),
			[]v{{b0 + ".openTelemetry.endpoint", "must be in host:port format, not a URL"}}},
		{"openTelemetry attribute keys", from(`[{type: OpenTelemetry, openTelemetry: {endpoint: "otel:4317", attributes: [{key: "a b", value: x}, {key: "%KUMA_MESH%", value: x}, {key: otel.x, value: x}]}}]`), []v{
			{b0 + ".openTelemetry.attributes[0].key", "must start with a lowercase letter, use only lowercase letters, digits, '.' or '_', avoid consecutive delimiters, and end with a letter or digit"},
			{b0 + ".openTelemetry.attributes[1].key", "must be a static OpenTelemetry attribute name; placeholders are only supported in values"},
			{b0 + ".openTelemetry.attributes[2].key", "must not use the reserved OpenTelemetry prefix 'otel.'"},
		}},
		{"schema: backend type", from(`[{type: Syslog}]`), []v{{b0 + ".type", "in body should be one of [Tcp File OpenTelemetry]"}}},
		{"schema: format type", from(`[{type: File, file: {path: /a, format: {type: Yaml}}}]`), []v{{b0 + ".file.format.type", "in body should be one of [Plain Json]"}}},
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
	r := decode(t, from(`[{type: OpenTelemetry, openTelemetry: {endpoint: "otel:4317"}}]`))
	want := []string{
		"'from' field is deprecated, use 'rules' instead",
		"openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead",
		"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
	}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering (Kuma
// renders omitEmptyValues and an OpenTelemetry endpoint even when absent) and the round trip.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mal.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
