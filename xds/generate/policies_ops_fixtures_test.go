package generate_test

import (
	"fmt"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshratelimit"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Fixtures of the golden tests of the operational policies (rate limits, access logs, traces,
// proxy patches), written as the manifests a user would apply: each is decoded and validated
// like a kumactl apply, so a fixture Kuma would reject fails here.

// decodePolicy decodes and validates a manifest; fixtures are fixed, so an error is a bug.
func decodePolicy(desc *resources.Descriptor, name, spec string) *resources.Resource {
	doc := fmt.Sprintf("type: %s\nname: %s\nmesh: default\nspec:\n%s", desc.Name, name, spec)
	r, err := resources.DecodeAs(desc, []byte(doc))
	if err != nil {
		panic(fmt.Sprintf("fixture %s: %v", name, err))
	}
	if err := resources.Validate(r); err != nil {
		panic(fmt.Sprintf("fixture %s: %v", name, err))
	}
	return r
}

func rateLimitPolicy(name, spec string) rules.Policy[meshratelimit.Conf] {
	r := decodePolicy(meshratelimit.Descriptor, name, spec)
	return meshratelimit.Policy(r.Meta, r.Spec.(*meshratelimit.Spec))
}

// meshRateLimits: HTTP and TCP limits with a custom response on the HTTP inbound, a
// connection limit on the TCP inbound, and a client-specific rule that is not applied (it
// needs inbound mTLS).
func meshRateLimits() *generate.Proxy {
	p := policyProxy()
	p.Policies.RateLimits = []rules.Policy[meshratelimit.Conf]{
		rateLimitPolicy("web-limits", `
  targetRef: {kind: MeshService, name: web}
  from:
    - targetRef: {kind: Mesh}
      default:
        local:
          http:
            requestRate: {num: 100, interval: 1s}
            onRateLimit:
              status: 429
              headers:
                add: [{name: x-limited, value: "yes"}]
                set: [{name: retry-after, value: "1,2"}]
          tcp:
            connectionRate: {num: 10, interval: 1s}`),
		rateLimitPolicy("web-tcp-limits", `
  targetRef: {kind: MeshService, name: web-tcp}
  rules:
    - default:
        local:
          tcp:
            connectionRate: {num: 20, interval: 1m}
          http:
            requestRate: {num: 1, interval: 1s}`),
		rateLimitPolicy("web-batch-client", `
  targetRef: {kind: MeshService, name: web}
  rules:
    - matches: [{spiffeID: {type: Prefix, value: "spiffe://default/ns/batch"}}]
      default:
        local:
          http:
            requestRate: {num: 1, interval: 1m}`),
		// Selects no inbound of this proxy: ignored.
		rateLimitPolicy("other-service", `
  targetRef: {kind: MeshService, name: other}
  rules:
    - default: {local: {tcp: {connectionRate: {num: 1, interval: 1s}}}}`),
	}
	return p
}
