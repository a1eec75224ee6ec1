package meshhttproute_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mhr "github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshHTTPRoute\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mhr.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

// The cases and messages follow Kuma 2.14's validation of MeshHTTPRoute.
func TestValidation(t *testing.T) {
	const to = "to:\n  - targetRef: {kind: MeshService, name: backend}\n    rules:\n"
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"split", to + `      - matches: [{path: {type: PathPrefix, value: /api}}]
        default:
          backendRefs:
            - {kind: MeshServiceSubset, name: backend, tags: {version: v1}, weight: 90}
            - {kind: MeshService, name: other, weight: 10}`, nil},
		{"mesh destination on a sidecar route", "to:\n  - targetRef: {kind: Mesh}\n    rules: []",
			[]v{{"spec.to[0].targetRef.kind", "value 'Mesh' is not supported"}}},
		{"hostnames on a sidecar route", "to:\n  - targetRef: {kind: MeshService, name: b}\n    hostnames: [a.com]\n    rules: []",
			[]v{{"spec.to[0].hostnames", "must not be defined"}}},
		{"paths", to + `      - matches:
          - path: {type: PathPrefix, value: "api/"}
          - path: {type: Exact, value: "x"}
        default: {}`, []v{
			{"spec.to[0].rules[0].matches[0].path.value", "does not need a trailing slash because only a `/`-separated prefix or an entire path is matched"},
			{"spec.to[0].rules[0].matches[0].path.value", "must be an absolute path"},
			{"spec.to[0].rules[0].matches[1].path.value", "must be an absolute path"},
		}},
		{"headers and query params", to + `      - matches:
          - headers: [{type: Present, name: a, value: x}]
            queryParams: [{type: Exact, name: q, value: "1"}, {type: Exact, name: q, value: "2"}]
        default: {}`, []v{
			{"spec.to[0].rules[0].matches[0].queryParams[1].name", "multiple entries for name q"},
			{"spec.to[0].rules[0].matches[0].headers[0].value", "must not be defined"},
		}},
		{"filters", to + `      - matches: [{path: {type: Exact, value: /x}}]
        default:
          filters:
            - type: RequestHeaderModifier
            - type: ResponseHeaderModifier
              responseHeaderModifier: {}
            - type: URLRewrite
              urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /y}, hostname: "10.0.0.1", hostToBackendHostname: true}
            - type: RequestHeaderModifier
              requestHeaderModifier: {set: [{name: a, value: "1"}], remove: [a]}
            - type: RequestMirror
              requestMirror: {backendRef: {kind: MeshExternalService, name: ext}}`, []v{
			{"spec.to[0].rules[0].default.filters[0].requestHeaderModifier", "must be defined"},
			{"spec.to[0].rules[0].default.filters[1].responseHeaderModifier", `must have at least one defined: "set", "add", "remove"`},
			{"spec.to[0].rules[0].default.filters[2].urlRewrite.path.replacePrefixMatch", "can only appear if all matches match a path prefix"},
			{"spec.to[0].rules[0].default.filters[2].urlRewrite.hostname", "cannot be an IP address"},
			{"spec.to[0].rules[0].default.filters[2].urlRewrite.hostToBackendHostname", "can only be set with MeshGateway"},
			{"spec.to[0].rules[0].default.filters[2].urlRewrite.hostToBackendHostname", "cannot be set together with hostname"},
			{"spec.to[0].rules[0].default.filters[3].requestHeaderModifier.remove[0].name", "duplicate header name"},
			{"spec.to[0].rules[0].default.filters[4].requestMirror.backendRef.kind", "value 'MeshExternalService' is not supported"},
		}},
		{"schema: filter type and redirect code", to + `      - matches: [{path: {type: Exact, value: /x}}]
        default:
          filters:
            - type: Nope
            - type: RequestRedirect
              requestRedirect: {statusCode: 304, scheme: ftp}`, []v{
			{"spec.to[0].rules[0].default.filters[0].type", "in body should be one of [RequestHeaderModifier ResponseHeaderModifier RequestRedirect URLRewrite RequestMirror]"},
			{"spec.to[0].rules[0].default.filters[1].requestRedirect.scheme", "in body should be one of [http https]"},
			{"spec.to[0].rules[0].default.filters[1].requestRedirect.statusCode", "in body should be one of [301 302 303 307 308]"},
		}},
		{"backend kinds", to + `      - matches: [{path: {type: Exact, value: /x}}]
        default:
          backendRefs: [{kind: Mesh}, {kind: MeshMultiZoneService, name: m}, {kind: MeshService, name: kuma.io/unresolved-backend}]`, []v{
			{"spec.to[0].rules[0].default.backendRefs[0].kind", "value 'Mesh' is not supported"},
			{"spec.to[0].rules[0].default.backendRefs[1].port", "must be defined with kind MeshMultiZoneService"},
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

// Kuma's name of the catch-all route (the hash of its matches) is what we compute.
func TestHashMatches(t *testing.T) {
	got := mhr.HashMatches([]mhr.Match{{Path: &mhr.PathMatch{Value: "/", Type: mhr.PathPrefix}}})
	if got != "9Zuf5Tg79OuZcQITwBbQykxAk2u4fRKrwYn3//AL4Yo=" {
		t.Errorf("HashMatches = %s", got)
	}
}

// Kuma's merge: rules with equal matches merge (later policy wins per field), the more
// specific policy's rules come first, and a policy's own order is kept.
func TestMergeConfs(t *testing.T) {
	rule := func(path, backend string) mhr.Rule {
		var r mhr.Rule
		js := `{"matches":[{"path":{"type":"PathPrefix","value":"` + path + `"}}],"default":{"backendRefs":[{"kind":"MeshService","name":"` + backend + `"}]}}`
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	p1 := mhr.Policy(resources.Meta{Name: "p1"}, &mhr.Spec{To: &[]mhr.To{{Rules: []mhr.Rule{rule("/a", "a1"), rule("/b", "b1")}}}})
	p2 := mhr.Policy(resources.Meta{Name: "p2"}, &mhr.Spec{To: &[]mhr.To{{Rules: []mhr.Rule{rule("/c", "c2"), rule("/a", "a2")}}}})
	merged, err := mhr.Conf{}.MergeConfs([]mhr.Conf{p1.To[0].Default, p2.To[0].Default})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range merged.Rules {
		got = append(got, r.Matches[0].Path.Value+"->"+(*r.Default.BackendRefs)[0].GetName())
	}
	if diff := cmp.Diff([]string{"/c->c2", "/a->a2", "/b->b1"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mhr.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
