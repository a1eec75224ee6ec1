package generate_test

import (
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshretry"
	"github.com/jetmesh/jetmesh/xds/policies/meshtcproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshtimeout"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Fixtures of the targetRef policies' golden tests.

func dur(d time.Duration) *targetref.Duration { return targetref.Dur(d) }

func meshRef() targetref.TargetRef { return targetref.TargetRef{Kind: targetref.Mesh} }

func serviceRef(name string) targetref.TargetRef {
	return targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr(name)}
}

// policyProxy: a sidecar with an HTTP and a TCP inbound and HTTP, TCP and gRPC outbounds, the
// shape every policy golden test configures.
func policyProxy() *generate.Proxy {
	return &generate.Proxy{
		Mesh: plainMesh(),
		Dataplane: dataplane("web-1", "192.168.0.1",
			[]core.Inbound{
				{Port: 8080, ServicePort: 18080, Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "http")},
				{Port: 9000, Tags: tags("kuma.io/service", "web-tcp", "kuma.io/protocol", "tcp")},
			},
			[]core.Outbound{
				{Port: 10001, Tags: tags("kuma.io/service", "backend")},
				{Port: 10002, Tags: tags("kuma.io/service", "db")},
				{Port: 10003, Tags: tags("kuma.io/service", "orders")},
			}),
		Zone: "zone-1",
		Endpoints: map[string][]generate.Endpoint{
			"backend": {ep("192.168.0.4", 8084, "", "kuma.io/service", "backend", "kuma.io/protocol", "http")},
			"db":      {ep("192.168.0.10", 5432, "", "kuma.io/service", "db", "kuma.io/protocol", "tcp")},
			"orders":  {ep("192.168.0.5", 9090, "", "kuma.io/service", "orders", "kuma.io/protocol", "grpc")},
		},
	}
}

func timeoutPolicy(name string, spec *meshtimeout.Spec) rules.Policy[meshtimeout.Conf] {
	return meshtimeout.Policy(resources.Meta{Mesh: "default", Name: name}, spec)
}

// meshTimeouts: Kuma's default MeshTimeout, overridden for the backend and db outbounds by a
// policy on the web service, and an inbound rule on the TCP inbound.
func meshTimeouts() *generate.Proxy {
	p := policyProxy()
	defaults := meshtimeout.Conf{ConnectionTimeout: dur(5 * time.Second), IdleTimeout: dur(time.Hour),
		Http: &meshtimeout.Http{RequestTimeout: dur(15 * time.Second), StreamIdleTimeout: dur(30 * time.Minute)}}
	p.Policies.Timeouts = []rules.Policy[meshtimeout.Conf]{
		timeoutPolicy("mesh-timeout-all-default", &meshtimeout.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.Mesh},
			From:      &[]meshtimeout.From{{TargetRef: meshRef(), Default: defaults}},
			To:        &[]meshtimeout.To{{TargetRef: meshRef(), Default: defaults}},
		}),
		timeoutPolicy("web-outbounds", &meshtimeout.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			To: &[]meshtimeout.To{
				{TargetRef: serviceRef("backend"), Default: meshtimeout.Conf{ConnectionTimeout: dur(2 * time.Second),
					Http: &meshtimeout.Http{RequestTimeout: dur(time.Minute), MaxStreamDuration: dur(2 * time.Minute),
						MaxConnectionDuration: dur(time.Hour), RequestHeadersTimeout: dur(3 * time.Second)}}},
				{TargetRef: serviceRef("db"), Default: meshtimeout.Conf{IdleTimeout: dur(10 * time.Minute)}},
				{TargetRef: serviceRef("orders"), Default: meshtimeout.Conf{Http: &meshtimeout.Http{MaxStreamDuration: dur(time.Second)}}},
			},
		}),
		timeoutPolicy("tcp-inbound", &meshtimeout.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web-tcp")},
			Rules:     &[]meshtimeout.Rule{{Default: meshtimeout.Conf{IdleTimeout: dur(20 * time.Minute)}}},
		}),
		// Selects no inbound of this proxy: ignored.
		timeoutPolicy("other-service", &meshtimeout.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("other")},
			To:        &[]meshtimeout.To{{TargetRef: meshRef(), Default: meshtimeout.Conf{IdleTimeout: dur(time.Second)}}},
		}),
	}
	return p
}

// meshTimeoutsGRPCClient: the same policies for a grpc-go client.
func meshTimeoutsGRPCClient() *generate.Proxy {
	return meshTimeouts()
}

func u32(v uint32) *uint32 { return &v }

func retryPolicy(name string, spec *meshretry.Spec) rules.Policy[meshretry.Conf] {
	return meshretry.Policy(resources.Meta{Mesh: "default", Name: name}, spec)
}

// meshRetries: Kuma's default MeshRetry, and a policy on the web service with every HTTP
// retry feature towards backend and gRPC retries towards orders.
func meshRetries() *generate.Proxy {
	p := policyProxy()
	backOff := &meshretry.BackOff{BaseInterval: dur(25 * time.Millisecond), MaxInterval: dur(250 * time.Millisecond)}
	p.Policies.Retries = []rules.Policy[meshretry.Conf]{
		retryPolicy("mesh-retry-all-default", &meshretry.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.Mesh},
			To: &[]meshretry.To{{TargetRef: meshRef(), Default: meshretry.Conf{
				TCP:  &meshretry.TCP{MaxConnectAttempt: u32(5)},
				HTTP: &meshretry.HTTP{NumRetries: u32(5), PerTryTimeout: dur(16 * time.Second), BackOff: backOff},
				GRPC: &meshretry.GRPC{NumRetries: u32(5), PerTryTimeout: dur(16 * time.Second), BackOff: backOff},
			}}},
		}),
		retryPolicy("web-retries", &meshretry.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			To: &[]meshretry.To{
				{TargetRef: serviceRef("backend"), Default: meshretry.Conf{HTTP: &meshretry.HTTP{
					RetryOn: &[]meshretry.HTTPRetryOn{"5xx", "503", "HttpMethodGet", "Reset"},
					BackOff: &meshretry.BackOff{MaxInterval: dur(time.Second)},
					RateLimitedBackOff: &meshretry.RateLimitedBackOff{MaxInterval: dur(time.Minute),
						ResetHeaders: &[]meshretry.ResetHeader{{Name: "retry-after", Format: meshretry.Seconds}}},
					RetriableRequestHeaders:  &[]targetref.HeaderMatch{{Name: "x-retry", Type: targetref.Ptr(targetref.HeaderMatchPresent)}},
					RetriableResponseHeaders: &[]targetref.HeaderMatch{{Name: "x-status", Value: "busy"}},
					HostSelection: &[]meshretry.Predicate{{PredicateType: meshretry.OmitPreviousHosts},
						{PredicateType: meshretry.OmitHostsWithTags, Tags: &map[string]string{"version": "v1"}},
						{PredicateType: meshretry.OmitPreviousPriorities, UpdateFrequency: 2}},
					HostSelectionMaxAttempts: targetref.Ptr(int64(3)),
				}}},
				{TargetRef: serviceRef("orders"), Default: meshretry.Conf{GRPC: &meshretry.GRPC{
					NumRetries: u32(3), RetryOn: &[]meshretry.GRPCRetryOn{"Unavailable"}}}},
				{TargetRef: serviceRef("db"), Default: meshretry.Conf{TCP: &meshretry.TCP{MaxConnectAttempt: u32(2)}}},
			},
		}),
	}
	return p
}

func httpRoutePolicy(name string, top *targetref.TargetRef, to ...meshhttproute.To) rules.Policy[meshhttproute.Conf] {
	return meshhttproute.Policy(resources.Meta{Mesh: "default", Name: name}, &meshhttproute.Spec{TargetRef: top, To: &to})
}

func subsetRef(service string, weight uint, kv ...string) targetref.BackendRef {
	return targetref.BackendRef{TargetRef: targetref.TargetRef{Kind: targetref.MeshServiceSubset, Name: targetref.Ptr(service),
		Tags: targetref.Ptr(tags(kv...))}, Weight: &weight}
}

func prefix(p string) *meshhttproute.PathMatch {
	return &meshhttproute.PathMatch{Type: meshhttproute.PathPrefix, Value: p}
}

// meshRoutes: MeshHTTPRoutes with every match and filter kind towards backend (a 90/10 split
// by version, overridden in part by a more specific policy), a header-matched split for the
// gRPC service orders, and a MeshTCPRoute splitting db traffic with a replica.
func meshRoutes() *generate.Proxy {
	p := policyProxy()
	p.Endpoints["backend"] = []generate.Endpoint{
		ep("192.168.0.4", 8084, "", "kuma.io/service", "backend", "kuma.io/protocol", "http", "version", "v1"),
		ep("192.168.0.6", 8086, "", "kuma.io/service", "backend", "kuma.io/protocol", "http", "version", "v2"),
	}
	p.Endpoints["payments"] = []generate.Endpoint{ep("192.168.0.7", 8087, "", "kuma.io/service", "payments", "kuma.io/protocol", "http")}
	p.Endpoints["db-replica"] = []generate.Endpoint{ep("192.168.0.11", 5432, "", "kuma.io/service", "db-replica", "kuma.io/protocol", "tcp")}
	p.Endpoints["orders"] = append(p.Endpoints["orders"], ep("192.168.0.8", 9090, "", "kuma.io/service", "orders", "kuma.io/protocol", "grpc", "version", "canary"))
	get := meshhttproute.Method("GET")
	split := []targetref.BackendRef{subsetRef("backend", 90, "version", "v1"), subsetRef("backend", 10, "version", "v2")}
	mirrorPct := meshhttproute.Percentage{Value: "12.5", Quoted: true}
	p.Policies.HTTPRoutes = []rules.Policy[meshhttproute.Conf]{
		httpRoutePolicy("backend-routes", nil, meshhttproute.To{TargetRef: serviceRef("backend"), Rules: []meshhttproute.Rule{
			{Matches: []meshhttproute.Match{{Path: prefix("/api"), Method: &get,
				Headers:     &[]targetref.HeaderMatch{{Name: "x-version", Value: "v2"}, {Name: "x-debug", Type: targetref.Ptr(targetref.HeaderMatchPresent)}},
				QueryParams: &[]meshhttproute.QueryParamsMatch{{Type: meshhttproute.ExactQueryMatch, Name: "debug", Value: "1"}}}},
				Default: meshhttproute.RuleConf{BackendRefs: &[]targetref.BackendRef{subsetRef("backend", 1, "version", "v2")}}},
			{Matches: []meshhttproute.Match{{Path: prefix("/api")}}, Default: meshhttproute.RuleConf{BackendRefs: &split}},
			{Matches: []meshhttproute.Match{{Path: &meshhttproute.PathMatch{Type: meshhttproute.Exact, Value: "/login"}}},
				Default: meshhttproute.RuleConf{Filters: &[]meshhttproute.Filter{{Type: meshhttproute.RequestRedirectType,
					RequestRedirect: &meshhttproute.RequestRedirect{Scheme: targetref.Ptr("https"), StatusCode: 301,
						Hostname: targetref.Ptr(meshhttproute.PreciseHostname("login.example.com"))}}}}},
			{Matches: []meshhttproute.Match{{Path: prefix("/old")}}, Default: meshhttproute.RuleConf{Filters: &[]meshhttproute.Filter{
				{Type: meshhttproute.URLRewriteType, URLRewrite: &meshhttproute.URLRewrite{
					Path: &meshhttproute.PathRewrite{Type: meshhttproute.ReplacePrefixMatchType, ReplacePrefixMatch: targetref.Ptr("/new")}}},
				{Type: meshhttproute.RequestHeaderModifierType, RequestHeaderModifier: &meshhttproute.HeaderModifier{
					Set: &[]meshhttproute.HeaderKeyValue{{Name: "x-set", Value: "1"}}, Add: &[]meshhttproute.HeaderKeyValue{{Name: "x-add", Value: "2"}},
					Remove: &[]string{"x-remove"}}},
				{Type: meshhttproute.ResponseHeaderModifierType, ResponseHeaderModifier: &meshhttproute.HeaderModifier{
					Set: &[]meshhttproute.HeaderKeyValue{{Name: "x-served-by", Value: "jetmesh"}}}},
			}}},
			{Matches: []meshhttproute.Match{{Path: &meshhttproute.PathMatch{Type: meshhttproute.RegularExpression, Value: "/v[0-9]+/.*"}}},
				Default: meshhttproute.RuleConf{Filters: &[]meshhttproute.Filter{{Type: meshhttproute.RequestMirrorType,
					RequestMirror: &meshhttproute.RequestMirror{Percentage: &mirrorPct,
						BackendRef: targetref.BackendRef{TargetRef: serviceRef("payments")}}}}}},
		}}),
		// More specific: its /api rule replaces the backendRefs of the mesh-wide one.
		httpRoutePolicy("web-api", &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			meshhttproute.To{TargetRef: serviceRef("backend"), Rules: []meshhttproute.Rule{
				{Matches: []meshhttproute.Match{{Path: prefix("/api")}},
					Default: meshhttproute.RuleConf{BackendRefs: &[]targetref.BackendRef{subsetRef("backend", 80, "version", "v1"), subsetRef("backend", 20, "version", "v2")}}},
			}},
			meshhttproute.To{TargetRef: serviceRef("orders"), Rules: []meshhttproute.Rule{
				{Matches: []meshhttproute.Match{{Headers: &[]targetref.HeaderMatch{{Name: "x-canary", Type: targetref.Ptr(targetref.HeaderMatchPrefix), Value: "yes"}}}},
					Default: meshhttproute.RuleConf{BackendRefs: &[]targetref.BackendRef{subsetRef("orders", 1, "version", "canary")}}},
			}}),
	}
	replica := targetref.BackendRef{TargetRef: serviceRef("db-replica"), Weight: targetref.Ptr(uint(80))}
	primary := targetref.BackendRef{TargetRef: serviceRef("db"), Weight: targetref.Ptr(uint(20))}
	p.Policies.TCPRoutes = []rules.Policy[meshtcproute.Rule]{
		meshtcproute.Policy(resources.Meta{Mesh: "default", Name: "db-split"}, &meshtcproute.Spec{To: &[]meshtcproute.To{{
			TargetRef: serviceRef("db"),
			Rules:     []meshtcproute.Rule{{Default: meshtcproute.RuleConf{BackendRefs: &[]targetref.BackendRef{replica, primary}}}},
		}}}),
	}
	return p
}
