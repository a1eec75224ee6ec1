package targetref_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/resources"
	tr "github.com/jetmesh/jetmesh/resources/targetref"
)

type v struct{ Field, Message string }

func violationsOf(err resources.ValidationError) []v {
	var out []v
	for _, x := range err.Violations {
		out = append(out, v{x.Field, x.Message})
	}
	return out
}

func parse(t *testing.T, doc string) tr.TargetRef {
	t.Helper()
	var ref tr.TargetRef
	if err := yaml.UnmarshalStrict([]byte(doc), &ref); err != nil {
		t.Fatalf("parse %q: %v", doc, err)
	}
	return ref
}

var all = tr.Options{SupportedKinds: tr.AllKinds}

func TestValidate(t *testing.T) {
	const invalidName = "invalid characters: must consist of lower case alphanumeric characters, '-', '.' and '_'."
	tests := []struct {
		name string
		ref  string
		opts tr.Options
		want []v
	}{
		{"mesh", "kind: Mesh", all, nil},
		{"mesh with proxy types", "{kind: Mesh, proxyTypes: [Sidecar]}", all, nil},
		{"kind required", "{name: x}", all, []v{{"kind", "must be defined"}}},
		{"kind not supported here", "{kind: MeshGateway, name: gw}", tr.Options{SupportedKinds: []tr.Kind{tr.Mesh}},
			[]v{{"kind", "value 'MeshGateway' is not supported"}}},
		{"custom unsupported message", "{kind: MeshGateway, name: gw}",
			tr.Options{SupportedKinds: []tr.Kind{tr.Mesh}, SupportedKindsError: "only Mesh"}, []v{{"kind", "only Mesh"}}},
		{"mesh forbids everything else", `{kind: Mesh, name: x, mesh: m, tags: {a: b}, labels: {a: b}, namespace: n, sectionName: s, proxyTypes: []}`, all, []v{
			{"name", "using name with kind Mesh is not yet supported"},
			{"mesh", "must not be set with kind Mesh"},
			{"tags", "must not be set with kind Mesh"},
			{"labels", "must not be set with kind Mesh"},
			{"namespace", "must not be set with kind Mesh"},
			{"sectionName", "must not be set with kind Mesh"},
			{"proxyTypes", "must be undefined or have at least one element"},
		}},
		{"mesh subset", "{kind: MeshSubset, tags: {kuma.io/zone: east}}", all, nil},
		{"mesh subset without tags is the whole mesh", "kind: MeshSubset", all, nil},
		{"mesh subset with bad tags", `{kind: MeshSubset, name: x, tags: {"a b": ""}}`, all, []v{
			{"name", "must not be set with kind MeshSubset"},
			{`tags["a b"]`, "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"},
			{`tags["a b"]`, "tag value must be non-empty"},
		}},
		{"mesh service by name", "{kind: MeshService, name: backend, namespace: ns, sectionName: http}", all, nil},
		{"mesh service by labels", "{kind: MeshService, labels: {app: backend}}", all, nil},
		{"mesh service needs name or labels", "kind: MeshService", all,
			[]v{{"", "name or labels must be set when kind is MeshService"}}},
		{"mesh service with both", "{kind: MeshService, name: backend, labels: {app: b}, tags: {a: b}}", all, []v{
			{"tags", "must not be set with kind MeshService"},
			{"labels", "either labels or name and namespace must be specified"},
		}},
		{"mesh service invalid name", "{kind: MeshService, name: Backend}", all, []v{{"name", invalidName}}},
		{"allowed invalid name", "{kind: MeshService, name: kuma.io/unresolved-backend}",
			tr.Options{SupportedKinds: tr.AllKinds, AllowedInvalidNames: []string{"kuma.io/unresolved-backend"}}, nil},
		{"mesh service subset", "{kind: MeshServiceSubset, name: backend, tags: {version: v1}}", all, nil},
		{"mesh service subset requires name", "{kind: MeshServiceSubset, tags: {version: v1}}", all,
			[]v{{"name", "must be set when kind is MeshServiceSubset"}}},
		{"mesh gateway tags need the option", "{kind: MeshGateway, name: gw, tags: {port: http}}", all,
			[]v{{"tags", "must not be set with kind MeshGateway"}}},
		{"mesh gateway listener tags", "{kind: MeshGateway, name: gw, tags: {port: http}}",
			tr.Options{SupportedKinds: tr.AllKinds, GatewayListenerTagsAllowed: true}, nil},
		{"mesh http route", "{kind: MeshHTTPRoute, name: route, sectionName: x}", all,
			[]v{{"sectionName", "must not be set with kind MeshHTTPRoute"}}},
		{"mesh external service", "{kind: MeshExternalService, labels: {a: b}, name: x}", all,
			[]v{{"labels", "either labels or name must be specified"}}},
		{"dataplane by labels", "{kind: Dataplane, labels: {app: web}}", all, nil},
		{"dataplane section needs an inbound policy", "{kind: Dataplane, name: dp, sectionName: http}", all,
			[]v{{"sectionName", "can only be used with inbound policies"}}},
		{"dataplane section in an inbound policy", "{kind: Dataplane, name: dp, sectionName: http}",
			tr.Options{SupportedKinds: tr.AllKinds, IsInboundPolicy: true}, nil},
		{"dataplane forbids", "{kind: Dataplane, tags: {a: b}, mesh: m, proxyTypes: [Gateway], labels: {a: b}, namespace: n}", all, []v{
			{"tags", "must not be set with kind Dataplane"},
			{"mesh", "must not be set with kind Dataplane"},
			{"proxyTypes", "must not be set with kind Dataplane"},
			{"labels", "either labels or name and namespace must be specified"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violationsOf(tr.Validate(parse(t, tt.ref), tt.opts))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateSchema(t *testing.T) {
	tests := []struct {
		ref  string
		want []v
	}{
		{"kind: Mesh", nil},
		{"{name: x}", []v{{"kind", "in body is required"}}},
		{"kind: MeshGatewayRoute", []v{{"kind", "in body should be one of [Mesh MeshSubset MeshGateway MeshService MeshExternalService MeshMultiZoneService MeshServiceSubset MeshHTTPRoute Dataplane]"}}},
		{"{kind: Mesh, proxyTypes: [Sidecar, Ingress]}", []v{{"proxyTypes[1]", "in body should be one of [Sidecar Gateway]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, violationsOf(tr.ValidateSchema(parse(t, tt.ref)))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPointerFieldsRoundTrip(t *testing.T) {
	// `tags: {}` and `proxyTypes: []` mean something different from absent fields; they survive.
	in := `{"kind":"MeshSubset","tags":{},"proxyTypes":[]}`
	var ref tr.TargetRef
	if err := json.Unmarshal([]byte(in), &ref); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip: %s, want %s", out, in)
	}
	if got := violationsOf(tr.Validate(ref, all)); len(got) != 1 || got[0].Field != "proxyTypes" {
		t.Errorf("empty proxyTypes: %v", got)
	}
}

func TestValidateMatch(t *testing.T) {
	const sniMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	tests := []struct {
		match string
		want  []v
	}{
		{"spiffeID: {type: Exact, value: spiffe://trust.domain/ns/a/sa/b}", nil},
		{"spiffeID: {type: Prefix, value: spiffe://trust.domain}", nil},
		{"sni: {type: Exact, value: sni.extsvc.default.zone-1.aws-aurora.8443}", nil},
		{"spiffeID: {type: Exact, value: some-service}", []v{{"spiffeID", "must be a valid Spiffe ID: scheme is missing or invalid"}}},
		{"spiffeID: {type: Exact, value: ''}", []v{{"spiffeID", "must be a valid Spiffe ID: cannot be empty"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://'}", []v{{"spiffeID", "must be a valid Spiffe ID: trust domain is missing"}}},
		{"spiffeID: {type: Exact, value: 'spiffe:///a'}", []v{{"spiffeID", "must be a valid Spiffe ID: trust domain is missing"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://Trust'}", []v{{"spiffeID", "must be a valid Spiffe ID: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://td/a/'}", []v{{"spiffeID", "must be a valid Spiffe ID: path cannot have a trailing slash"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://td/'}", []v{{"spiffeID", "must be a valid Spiffe ID: path cannot have a trailing slash"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://td//a'}", []v{{"spiffeID", "must be a valid Spiffe ID: path cannot contain empty segments"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://td/a/../b'}", []v{{"spiffeID", "must be a valid Spiffe ID: path cannot contain dot segments"}}},
		{"spiffeID: {type: Exact, value: 'spiffe://td/a b'}", []v{{"spiffeID", "must be a valid Spiffe ID: path segment characters are limited to letters, numbers, dots, dashes, and underscores"}}},
		{"sni: {type: Exact, value: ''}", []v{{"sni.value", "must be set"}}},
		{"sni: {value: x}", []v{{"sni.type", "must be set"}}},
		{"sni: {type: Prefix, value: not_valid}", []v{
			{"sni.type", `unrecognized type "Prefix", supported values are: Exact`},
			{"sni.value", sniMsg},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.match, func(t *testing.T) {
			var m tr.Match
			if err := yaml.UnmarshalStrict([]byte(tt.match), &m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, violationsOf(tr.ValidateMatch(m))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTopLevelDeprecations(t *testing.T) {
	for kind, want := range map[tr.Kind][]string{
		tr.Mesh:          nil,
		tr.Dataplane:     nil,
		tr.MeshSubset:    {"MeshSubset value for 'targetRef.kind' is deprecated, use Dataplane with labels instead"},
		tr.MeshService:   {"MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead"},
		tr.MeshHTTPRoute: {"MeshHTTPRoute value for 'targetRef.kind' is deprecated, use MeshHTTPRoute in spec.to[].targetRef"},
	} {
		if diff := cmp.Diff(want, tr.TopLevelDeprecations(&tr.TargetRef{Kind: kind})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", kind, diff)
		}
	}
	if tr.TopLevelDeprecations(nil) != nil {
		t.Error("nil targetRef warned")
	}
}
