// Package generate turns one proxy's view of the mesh into Envoy v3 resources. Everything here
// is a pure function of its arguments: no I/O, no goroutines, no package state, and the output
// does not depend on map iteration or input order, so equal input yields equal resources and
// equal versions (see Version).
//
// Entry points: Generate (an Envoy sidecar), GRPCClient (grpc-go's xDS client as the outbound
// side of a proxy), InboundRBAC (MeshTrafficPermission for one inbound), BuildEndpoints (the
// endpoint map Generate reads) and Validate (protoc-gen-validate rules, Any contents included).
//
// What is generated follows Kuma 2.14.3 with legacy naming, its default (unified naming is not
// implemented), and was checked field by field against its golden files:
//
//   - Inbounds (pkg/xds/generator/inbound_proxy_generator.go, testdata/inbound-proxy): listener
//     "inbound:<address>:<port>" on the inbound's address (inbound.address, else
//     networking.address) and a STATIC cluster "localhost:<servicePort>" pointing at
//     serviceAddress : servicePort. serviceAddress defaults to the inbound's address, not
//     127.0.0.1, because that is what Kuma's ToInboundInterface does; servicePort defaults to
//     port. Kuma's inbound timeouts apply (connect 10s, idle 7200s, stream idle 3600s).
//     http, http2 and grpc get an HttpConnectionManager with the inline route configuration
//     "inbound:<service>"; any other protocol gets tcp_proxy. Inbounds on port 49151 (Kuma's
//     "serviceless" marker) get nothing.
//   - Outbounds (the default routes of the MeshHTTPRoute and MeshTCPRoute plugins, which is
//     what a 2.14 mesh without legacy TrafficRoutes runs; their testdata): listener
//     "outbound:<address>:<port>" (address default 127.0.0.1) and an EDS cluster plus a
//     ClusterLoadAssignment named after the outbound's kuma.io/service, or "<service>-<hash>"
//     when the outbound has other tags, which then select a subset of the service's
//     endpoints. The protocol is the common protocol of the service's endpoints, as Kuma
//     infers it. HTTP-based outbounds use the inline route configuration "outbound:<service>"
//     (Kuma 2.14 uses no RDS). Every EDS cluster gets HTTP/2 upstream options, whatever the
//     protocol, as in Kuma: the hop between sidecars is HTTP/2 and tcp_proxy ignores them.
//   - Admin (pkg/xds/generator/admin_proxy_generator.go, testdata/admin): cluster
//     "kuma:envoy:admin" to 127.0.0.1:<admin port>, "kuma:readiness" to kuma-dp's readiness
//     reporter, and listener "kuma:envoy:admin" on the dataplane address exposing /ready only.
//   - MeshTrafficPermission (pkg/plugins/policies/meshtrafficpermission): see InboundRBAC.
//     RBAC is the first network filter of tcp_proxy chains and the first HTTP filter of
//     HttpConnectionManagers, as in Kuma.
//   - MeshTimeout, MeshRetry, MeshHTTPRoute, MeshTCPRoute (Proxy.Policies, policies.go):
//     matched with xds/policies/rules, applied by each policy folder's configurer to the
//     listeners, routes and clusters built here; routes add clusters for their backends.
//   - MeshCircuitBreaker, MeshHealthCheck, MeshLoadBalancingStrategy, MeshFaultInjection
//     (policies_upstream.go): clusters, load assignment priorities, route hash policies and
//     inbound fault filters; grpc-go clients get what grpc-go accepts, and inject the faults
//     of their proxyless destinations.
//   - MeshRateLimit (policies.go), MeshAccessLog, MeshTrace, MeshProxyPatch
//     (ops_policies.go): rate limit filters on inbounds, access logs and tracing on inbound
//     and outbound listeners with their collector clusters, then the proxy patches, applied
//     to the finished resources and validated before Generate returns them.
//
// Load assignments are written for Envoy and grpc-go alike: one locality per zone, each with
// a weight, priorities without gaps, no address twice (see loadAssignment).
//
// Zone ingress and egress proxies get their own generators (ingress.go): TLS passthrough
// routed by SNI.
//
// Not generated yet, each with a seam: TLS transport sockets and SDS secrets
// (serverTransportSocket, clientTransportSocket), the admin API's mTLS filter chain,
// transparent proxying, gateways, and MeshService backendRef outbounds (skipped).
package generate
