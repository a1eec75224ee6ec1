package meshloadbalancingstrategy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/resourcetest"
	mlbs "github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
)

type v struct{ Field, Message string }

func decode(t *testing.T, spec string) *resources.Resource {
	t.Helper()
	lines := strings.Split(strings.Trim(spec, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	doc := "type: MeshLoadBalancingStrategy\nname: x\nmesh: default\nspec:\n" + strings.Join(lines, "\n") + "\n"
	r, err := resources.DecodeAs(mlbs.Descriptor, []byte(doc))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	return r
}

const defined = "must be defined"

// The cases and messages are Kuma 2.14's validator_test.go for MeshLoadBalancingStrategy.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []v
	}{
		{"full example", `
targetRef: {kind: Mesh}
to:
  - targetRef: {kind: MeshService, name: backend}
    default:
      localityAwareness:
        localZone: {affinityTags: [{key: k8s.io/node}, {key: k8s.io/az}]}
        crossZone:
          failover:
            - from: {zones: [zone-1]}
              to: {type: Only, zones: [zone-2]}
            - to: {type: Any}
          failoverThreshold: {percentage: 70}
      loadBalancer:
        type: LeastRequest
        leastRequest: {choiceCount: 3, activeRequestBias: "0.5"}
      hashPolicies:
        - {type: Header, header: {name: x-user}, terminal: true}
        - {type: Cookie, cookie: {name: session, ttl: 1h, path: /}}`, nil},
		{"unsupported kinds, local-only MeshService", `
targetRef: {kind: Mesh}
to:
  - targetRef: {kind: MeshServiceSubset, name: backend}
    default: {loadBalancer: {type: Random}}
  - targetRef: {kind: MeshService, labels: {app: backend}}
    default: {localityAwareness: {crossZone: {failover: [{to: {type: Any}}]}}}`, []v{
			{"spec.to[0].targetRef.kind", "value 'MeshServiceSubset' is not supported"},
			{"spec.to[1].default.localityAwareness.crossZone", "must not be set: MeshService traffic is local"},
		}},
		{"hash policies without their section", `
to:
  - targetRef: {kind: Mesh}
    default:
      loadBalancer:
        type: RingHash
        ringHash:
          hashPolicies: [{type: Header}, {type: Cookie}, {type: Connection}, {type: QueryParameter}, {type: FilterState}, {type: Cookie, cookie: {name: a, path: relative}}]`, []v{
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies[0].header", defined},
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies[1].cookie", defined},
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies[2].connection", defined},
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies[3].queryParameter", defined},
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies[4].filterState", defined},
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies[5].cookie.path", "must be an absolute path"},
		}},
		{"negative active request bias", `
to:
  - targetRef: {kind: Mesh}
    default: {loadBalancer: {type: LeastRequest, leastRequest: {activeRequestBias: "-1"}}}`, []v{
			{"spec.to[0].default.loadBalancer.leastRequest.activeRequestBias", "must be greater or equal then: 0"}}},
		{"affinity tags", `
to:
  - targetRef: {kind: Mesh}
    default: {localityAwareness: {localZone: {affinityTags: [{key: a, weight: 0}, {key: ""}]}}}`, []v{
			{"spec.to[0].default.localityAwareness.localZone.affinityTags[0].weight", "must be greater than 0"},
			{"spec.to[0].default.localityAwareness.localZone.affinityTags[1].key", "must not be empty"},
			{"spec.to[0].default.localityAwareness.localZone.affinityTags", "all or none affinity tags should have weight"},
		}},
		{"failover steps", `
to:
  - targetRef: {kind: Mesh}
    default:
      localityAwareness:
        crossZone:
          failover:
            - {to: {type: None, zones: [a]}}
            - {from: {zones: [a, ""]}, to: {type: Any}}
            - {from: {zones: []}, to: {type: Any, zones: [a]}}
            - {to: {type: Only}}
            - {to: {type: AnyExcept, zones: []}}
          failoverThreshold: {percentage: 0}`, []v{
			{"spec.to[0].default.localityAwareness.crossZone.failover[0].to.zones", "must be empty when type is None"},
			{"spec.to[0].default.localityAwareness.crossZone.failover[1].from.zones[1]", "must not be empty"},
			{"spec.to[0].default.localityAwareness.crossZone.failover[2].from.zones", "must not be empty"},
			{"spec.to[0].default.localityAwareness.crossZone.failover[2].to.zones", "must be empty when type is Any"},
			{"spec.to[0].default.localityAwareness.crossZone.failover[3].to.zones", "must not be empty when type is Only"},
			{"spec.to[0].default.localityAwareness.crossZone.failover[4].to.zones", "must not be empty when type is AnyExcept"},
			{"spec.to[0].default.localityAwareness.crossZone.failoverThreshold.percentage", "must be greater than 0"},
		}},
		{"gateway with a load balancer", `
targetRef: {kind: MeshGateway, name: edge}
to:
  - targetRef: {kind: MeshService, name: backend}
    default: {loadBalancer: {type: RoundRobin}}`, []v{
			{"spec.to[0].targetRef.kind", "value 'MeshGateway' is not supported, only Mesh is allowed if loadBalancer is set"}}},
		{"hash policies twice", `
to:
  - targetRef: {kind: Mesh}
    default:
      hashPolicies: [{type: Header, header: {name: a}}]
      loadBalancer: {type: RingHash, ringHash: {hashPolicies: [{type: Header, header: {name: b}}]}}`, []v{
			{"spec.to[0].default.loadBalancer.ringHash.hashPolicies", "hashPolicies already specified in the root level"}}},
		{"MeshHTTPRoute only hashes", `
to:
  - targetRef: {kind: MeshHTTPRoute, name: route}
    default: {loadBalancer: {type: Random}, localityAwareness: {disabled: true}}`, []v{
			{"spec.to[0].default.loadBalancer", "field is not allowed when targetRef.kind is MeshHTTPRoute, only hashPolicies is supported"},
			{"spec.to[0].default.localityAwareness", "field is not allowed when targetRef.kind is MeshHTTPRoute, only hashPolicies is supported"},
		}},
		{"schema: enums", `
to:
  - targetRef: {kind: Mesh}
    default:
      loadBalancer: {type: Fastest, ringHash: {hashFunction: MD5}}
      hashPolicies: [{type: Body}]`, []v{
			{"spec.to[0].default.hashPolicies[0].type", "in body should be one of [Header Cookie Connection SourceIP QueryParameter FilterState]"},
			{"spec.to[0].default.loadBalancer.type", "in body should be one of [RoundRobin LeastRequest RingHash Random Maglev]"},
			{"spec.to[0].default.loadBalancer.ringHash.hashFunction", "in body should be one of [XXHash MurmurHash2]"},
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
to:
  - targetRef: {kind: Mesh}
    default:
      loadBalancer:
        type: Maglev
        maglev: {hashPolicies: [{type: SourceIP, connection: {sourceIP: true}}]}`)
	want := []string{
		"configuration 'spec.to[0].default.loadBalancer.maglev.hashPolicies' is deprecated, use 'spec.to[0].default.hashPolicies' instead",
		"SourceIP type for 'spec.to[0].default.loadBalancer.maglev.hashPolicies[0].type' is deprecated, use Connection instead",
	}
	if diff := cmp.Diff(want, resources.Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGolden checks every manifest in testdata against its golden REST rendering and the
// round trip through kumactl.
func TestGolden(t *testing.T) {
	reg, err := resources.NewRegistry(mlbs.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	env := resources.Env{Mode: resources.ModeZone, Zone: "zone-1", Environment: resources.EnvUniversal}
	resourcetest.GoldenManifests(t, reg, env,
		resourcetest.WantKeys("type", "mesh", "name", "creationTime", "modificationTime", "labels", "kri", "spec"))
}
