package generate_test

import (
	"fmt"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
	"github.com/jetmesh/jetmesh/xds/policies/meshproxypatch"
	"github.com/jetmesh/jetmesh/xds/policies/meshratelimit"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrace"
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

func accessLogPolicy(name, spec string) rules.Policy[meshaccesslog.Conf] {
	r := decodePolicy(meshaccesslog.Descriptor, name, spec)
	return meshaccesslog.Policy(r.Meta, r.Spec.(*meshaccesslog.Spec))
}

// meshAccessLogs: Kuma's default formats to a file on every inbound and outbound, a TCP
// collector and an OpenTelemetry collector (shared by two outbounds: one cluster) towards
// backend and orders, and a client-specific inbound rule (a CEL filter).
func meshAccessLogs() *generate.Proxy {
	p := policyProxy()
	p.Admin.WorkDir = "/tmp/kuma-dp"
	p.Dataplane.Meta.Labels = map[string]string{"kuma.io/zone": "zone-1"}
	p.Policies.AccessLogs = []rules.Policy[meshaccesslog.Conf]{
		accessLogPolicy("everything-to-stdout", `
  targetRef: {kind: Mesh, proxyTypes: [Sidecar]}
  from:
    - targetRef: {kind: Mesh}
      default: {backends: [{type: File, file: {path: /dev/stdout}}]}
  to:
    - targetRef: {kind: Mesh}
      default: {backends: [{type: File, file: {path: /dev/stdout}}]}`),
		accessLogPolicy("web-collectors", `
  targetRef: {kind: MeshService, name: web}
  to:
    - targetRef: {kind: MeshService, name: backend}
      default:
        backends:
          - type: Tcp
            tcp:
              address: logstash:5000
              format: {type: Json, json: [{key: dest, value: "%KUMA_DESTINATION_SERVICE%"}, {key: code, value: "%RESPONSE_CODE%"}]}
          - type: OpenTelemetry
            openTelemetry: {endpoint: "otel-collector", attributes: [{key: zone, value: "%KUMA_ZONE%"}]}
    - targetRef: {kind: MeshService, name: orders}
      default:
        backends:
          - type: OpenTelemetry
            openTelemetry:
              endpoint: "otel-collector:4317"
              body: {kvlistValue: {values: [{key: mesh, value: {stringValue: "%KUMA_MESH%"}}]}}`),
		accessLogPolicy("batch-clients", `
  targetRef: {kind: MeshService, name: web}
  rules:
    - matches: [{spiffeID: {type: Prefix, value: "spiffe://default/ns/batch"}}]
      default:
        backends: [{type: File, file: {path: /var/log/batch.log, format: {type: Plain, plain: "%KUMA_SOURCE_SERVICE% %REQ(:PATH)%"}}}]`),
	}
	return p
}

func tracePolicy(name, spec string) rules.Policy[meshtrace.Conf] {
	r := decodePolicy(meshtrace.Descriptor, name, spec)
	return meshtrace.Policy(r.Meta, r.Spec.(*meshtrace.Spec))
}

// meshTraces: a mesh-wide Zipkin policy with sampling and tags, overridden for the web
// service by an OpenTelemetry collector (the sampling and tags stay): HTTP listeners trace,
// the TCP ones do not, and one collector cluster is added.
func meshTraces() *generate.Proxy {
	p := policyProxy()
	p.Dataplane.Meta.Labels = map[string]string{"kuma.io/zone": "zone-1"}
	p.Policies.Traces = []rules.Policy[meshtrace.Conf]{
		tracePolicy("mesh-zipkin", `
  targetRef: {kind: Mesh}
  default:
    backends: [{type: Zipkin, zipkin: {url: "http://jaeger:9411/api/v2/spans"}}]
    sampling: {overall: 80, random: "50.5"}
    tags: [{name: team, literal: core}, {name: env, header: {name: x-env, default: prod}}]`),
		tracePolicy("web-otel", `
  targetRef: {kind: MeshService, name: web}
  default:
    backends: [{type: OpenTelemetry, openTelemetry: {endpoint: "10.0.0.9"}}]`),
	}
	return p
}

// meshTracesZipkin: only the mesh-wide Zipkin policy, to show the Zipkin provider.
func meshTracesZipkin() *generate.Proxy {
	p := meshTraces()
	p.Policies.Traces = p.Policies.Traces[:1]
	return p
}

func proxyPatchPolicy(name, spec string) rules.Policy[meshproxypatch.Conf] {
	r := decodePolicy(meshproxypatch.Descriptor, name, spec)
	return meshproxypatch.Policy(r.Meta, r.Spec.(*meshproxypatch.Spec))
}

// meshProxyPatches: a mesh-wide patch and a more specific one whose modifications come
// after it: cluster patch by value (duration replaced) and add, listener JSON patch, HTTP
// filter AddBefore and Remove, network filter JSON patch, virtual host patch.
func meshProxyPatches() *generate.Proxy {
	p := policyProxy()
	p.Policies.ProxyPatches = []rules.Policy[meshproxypatch.Conf]{
		proxyPatchPolicy("web-patches", `
  targetRef: {kind: MeshService, name: web}
  default:
    appendModifications:
      - httpFilter:
          operation: AddBefore
          match: {name: envoy.filters.http.router, listenerTags: {kuma.io/service: backend}}
          value: |
            name: envoy.filters.http.local_ratelimit
            typedConfig:
              '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              statPrefix: patched
      - httpFilter:
          operation: Remove
          match: {name: envoy.filters.http.grpc_stats, origin: outbound}
      - networkFilter:
          operation: Patch
          match: {name: envoy.filters.network.tcp_proxy, origin: inbound}
          jsonPatches:
            - {op: replace, path: /statPrefix, value: patched_tcp}
      - virtualHost:
          operation: Patch
          match: {routeConfigurationName: "outbound:backend"}
          value: |
            retryPolicy:
              numRetries: 3`),
		proxyPatchPolicy("mesh-patches", `
  targetRef: {kind: Mesh}
  default:
    appendModifications:
      - cluster:
          operation: Patch
          match: {name: backend, origin: outbound}
          value: |
            connectTimeout: 7s
      - cluster:
          operation: Add
          value: |
            name: extra
            connectTimeout: 1s
            type: STATIC
            loadAssignment:
              clusterName: extra
              endpoints:
                - lbEndpoints:
                    - endpoint: {address: {socketAddress: {address: 127.0.0.1, portValue: 9999}}}
      - listener:
          operation: Patch
          match: {origin: inbound}
          jsonPatches:
            - {op: add, path: /perConnectionBufferLimitBytes, value: 32768}`),
	}
	return p
}
