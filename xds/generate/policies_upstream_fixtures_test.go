package generate_test

import (
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
	"github.com/jetmesh/jetmesh/xds/policies/meshfaultinjection"
	"github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Fixtures of the golden tests of policies_upstream.go's policies.

func pct(v string) *meshhttproute.Percentage {
	return &meshhttproute.Percentage{Value: v, Quoted: true}
}

func circuitBreakerPolicy(name string, spec *meshcircuitbreaker.Spec) rules.Policy[meshcircuitbreaker.Conf] {
	return meshcircuitbreaker.Policy(resources.Meta{Mesh: "default", Name: name}, spec)
}

// meshCircuitBreakers: Kuma's default MeshCircuitBreaker, outlier detection with every
// detector towards backend (overriding one default limit), a gRPC-only max requests for
// orders, and limits on the web inbound's local cluster.
func meshCircuitBreakers() *generate.Proxy {
	p := policyProxy()
	p.Policies.CircuitBreakers = []rules.Policy[meshcircuitbreaker.Conf]{
		circuitBreakerPolicy("mesh-circuit-breaker-all-default", &meshcircuitbreaker.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.Mesh},
			To: &[]meshcircuitbreaker.To{{TargetRef: meshRef(), Default: meshcircuitbreaker.Conf{
				ConnectionLimits: &meshcircuitbreaker.ConnectionLimits{MaxConnections: u32(1024), MaxPendingRequests: u32(1024),
					MaxRequests: u32(1024), MaxRetries: u32(3)}}}},
		}),
		circuitBreakerPolicy("web-outliers", &meshcircuitbreaker.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			To: &[]meshcircuitbreaker.To{
				{TargetRef: serviceRef("backend"), Default: meshcircuitbreaker.Conf{
					ConnectionLimits: &meshcircuitbreaker.ConnectionLimits{MaxConnectionPools: u32(4), MaxRequests: u32(64)},
					OutlierDetection: &meshcircuitbreaker.OutlierDetection{
						Interval: dur(5 * time.Second), BaseEjectionTime: dur(30 * time.Second), MaxEjectionPercent: u32(20),
						SplitExternalAndLocalErrors: targetref.Ptr(true), HealthyPanicThreshold: pct("12.5"),
						Detectors: &meshcircuitbreaker.Detectors{
							TotalFailures:       &meshcircuitbreaker.Consecutive{Consecutive: u32(10)},
							GatewayFailures:     &meshcircuitbreaker.Consecutive{Consecutive: u32(5)},
							LocalOriginFailures: &meshcircuitbreaker.Consecutive{Consecutive: u32(7)},
							SuccessRate: &meshcircuitbreaker.SuccessRate{MinimumHosts: u32(5), RequestVolume: u32(10),
								StandardDeviationFactor: pct("1.9")},
							FailurePercentage: &meshcircuitbreaker.FailurePercentage{MinimumHosts: u32(3), RequestVolume: u32(20), Threshold: u32(85)},
						}}}},
				{TargetRef: serviceRef("orders"), Default: meshcircuitbreaker.Conf{
					ConnectionLimits: &meshcircuitbreaker.ConnectionLimits{MaxRequests: u32(1)},
					OutlierDetection: &meshcircuitbreaker.OutlierDetection{Disabled: targetref.Ptr(true),
						Detectors: &meshcircuitbreaker.Detectors{TotalFailures: &meshcircuitbreaker.Consecutive{Consecutive: u32(1)}}}}},
			},
			Rules: nil,
		}),
		circuitBreakerPolicy("web-inbound", &meshcircuitbreaker.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			Rules: &[]meshcircuitbreaker.Rule{{Default: meshcircuitbreaker.Conf{
				ConnectionLimits: &meshcircuitbreaker.ConnectionLimits{MaxConnections: u32(2), MaxPendingRequests: u32(8)}}}},
		}),
	}
	return p
}

func healthCheckPolicy(name string, spec *meshhealthcheck.Spec) rules.Policy[meshhealthcheck.Conf] {
	return meshhealthcheck.Policy(resources.Meta{Mesh: "default", Name: name}, spec)
}

// meshHealthChecks: a mesh-wide policy with a checker per protocol (http disabled, so
// http services fall back to tcp), and one on the web service that re-enables http for
// backend with every option. db (tcp) gets the tcp checker, orders (grpc) the grpc one.
func meshHealthChecks() *generate.Proxy {
	p := policyProxy()
	disabled, enabled := true, false
	p.Policies.HealthChecks = []rules.Policy[meshhealthcheck.Conf]{
		healthCheckPolicy("mesh-health", &meshhealthcheck.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.Mesh},
			To: &[]meshhealthcheck.To{{TargetRef: meshRef(), Default: meshhealthcheck.Conf{
				Interval: dur(10 * time.Second),
				Tcp:      &meshhealthcheck.TcpHealthCheck{Send: targetref.Ptr("ping"), Receive: &[]string{"pong"}},
				Http:     &meshhealthcheck.HttpHealthCheck{Disabled: &disabled},
				Grpc:     &meshhealthcheck.GrpcHealthCheck{ServiceName: targetref.Ptr("orders.v1.Orders")},
			}}},
		}),
		healthCheckPolicy("web-backend-health", &meshhealthcheck.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			To: &[]meshhealthcheck.To{{TargetRef: serviceRef("backend"), Default: meshhealthcheck.Conf{
				Timeout: dur(2 * time.Second), UnhealthyThreshold: targetref.Ptr(int32(3)), HealthyThreshold: targetref.Ptr(int32(2)),
				InitialJitter: dur(time.Second), IntervalJitter: dur(2 * time.Second), IntervalJitterPercent: targetref.Ptr(int32(10)),
				HealthyPanicThreshold: pct("60"), FailTrafficOnPanic: targetref.Ptr(true), EventLogPath: targetref.Ptr("/tmp/hc.log"),
				AlwaysLogHealthCheckFailures: targetref.Ptr(true), NoTrafficInterval: dur(time.Minute), ReuseConnection: targetref.Ptr(false),
				Http: &meshhealthcheck.HttpHealthCheck{Disabled: &enabled, Path: targetref.Ptr("/health"),
					ExpectedStatuses: &[]int32{200, 204},
					RequestHeadersToAdd: &meshhealthcheck.HeaderModifier{
						Set: &[]meshhttproute.HeaderKeyValue{{Name: "content-type", Value: "application/json"}},
						Add: &[]meshhttproute.HeaderKeyValue{{Name: "accept", Value: "text/plain,application/json"}}}},
			}}},
		}),
	}
	return p
}

func loadBalancingPolicy(name string, spec *meshloadbalancingstrategy.Spec) rules.Policy[meshloadbalancingstrategy.Conf] {
	return meshloadbalancingstrategy.Policy(resources.Meta{Mesh: "default", Name: name}, spec)
}

// meshLoadBalancing: backend has instances in the local zone-1 and in zone-2, zone-3 and
// zone-4; orders in zone-1 and zone-2. A mesh-wide policy makes orders least-request and
// locality-aware (remote zones next); one on web sends backend traffic by ring hash on a
// header, with protocol affinity in the local zone, failing over to zone-2 first, then any
// zone but zone-4 (which gets none); db gets
// Maglev, which a grpc-go client cannot use.
func meshLoadBalancing() *generate.Proxy {
	p := policyProxy()
	backend := func(addr, zone string) generate.Endpoint {
		return ep(addr, 8084, zone, "kuma.io/service", "backend", "kuma.io/protocol", "http")
	}
	p.Endpoints["backend"] = []generate.Endpoint{backend("192.168.0.4", "zone-1"), backend("10.2.0.4", "zone-2"),
		backend("10.3.0.4", "zone-3"), backend("10.4.0.4", "zone-4")}
	p.Endpoints["orders"] = append(p.Endpoints["orders"], ep("10.2.0.5", 9090, "zone-2", "kuma.io/service", "orders", "kuma.io/protocol", "grpc"))
	to := func(ref targetref.TargetRef, c meshloadbalancingstrategy.Conf) meshloadbalancingstrategy.To {
		return meshloadbalancingstrategy.To{TargetRef: ref, Default: c}
	}
	p.Policies.LoadBalancing = []rules.Policy[meshloadbalancingstrategy.Conf]{
		loadBalancingPolicy("mesh-lb", &meshloadbalancingstrategy.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.Mesh},
			To: &[]meshloadbalancingstrategy.To{to(meshRef(), meshloadbalancingstrategy.Conf{
				LoadBalancer: &meshloadbalancingstrategy.LoadBalancer{Type: meshloadbalancingstrategy.LeastRequestType,
					LeastRequest: &meshloadbalancingstrategy.LeastRequest{ChoiceCount: u32(3), ActiveRequestBias: pct("0.5")}}})},
		}),
		loadBalancingPolicy("web-lb", &meshloadbalancingstrategy.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")},
			To: &[]meshloadbalancingstrategy.To{
				to(serviceRef("backend"), meshloadbalancingstrategy.Conf{
					LoadBalancer: &meshloadbalancingstrategy.LoadBalancer{Type: meshloadbalancingstrategy.RingHashType,
						RingHash: &meshloadbalancingstrategy.RingHash{MinRingSize: u32(64), MaxRingSize: u32(1024)}},
					HashPolicies: &[]meshloadbalancingstrategy.HashPolicy{
						{Type: meshloadbalancingstrategy.HeaderType, Header: &meshloadbalancingstrategy.NameOnly{Name: "x-user"}, Terminal: targetref.Ptr(true)},
						{Type: meshloadbalancingstrategy.CookieType, Cookie: &meshloadbalancingstrategy.Cookie{Name: "session", TTL: dur(time.Hour), Path: targetref.Ptr("/")}},
						{Type: meshloadbalancingstrategy.QueryParameterType, QueryParameter: &meshloadbalancingstrategy.NameOnly{Name: "user"}},
						{Type: meshloadbalancingstrategy.ConnectionType, Connection: &meshloadbalancingstrategy.Connection{SourceIP: targetref.Ptr(true)}},
						{Type: meshloadbalancingstrategy.FilterStateType, FilterState: &meshloadbalancingstrategy.FilterStateKey{Key: "io.grpc.channel_id"}},
					},
					LocalityAwareness: &meshloadbalancingstrategy.LocalityAwareness{
						// web-1's first protocol value is http, as backend's: its local instance moves
						// to a sub-zone weighing 9.
						LocalZone: &meshloadbalancingstrategy.LocalZone{AffinityTags: &[]meshloadbalancingstrategy.AffinityTag{{Key: "kuma.io/protocol"}}},
						CrossZone: &meshloadbalancingstrategy.CrossZone{
							Failover: &[]meshloadbalancingstrategy.Failover{
								{From: &meshloadbalancingstrategy.FromZone{Zones: []string{"zone-9"}}, To: meshloadbalancingstrategy.ToZone{Type: meshloadbalancingstrategy.Any}},
								{To: meshloadbalancingstrategy.ToZone{Type: meshloadbalancingstrategy.Only, Zones: &[]string{"zone-2"}}},
								{To: meshloadbalancingstrategy.ToZone{Type: meshloadbalancingstrategy.AnyExcept, Zones: &[]string{"zone-4"}}},
							},
							FailoverThreshold: &meshloadbalancingstrategy.FailoverThreshold{Percentage: meshhttproute.Percentage{Value: "50"}},
						}},
				}),
				to(serviceRef("db"), meshloadbalancingstrategy.Conf{
					LoadBalancer: &meshloadbalancingstrategy.LoadBalancer{Type: meshloadbalancingstrategy.MaglevType,
						Maglev: &meshloadbalancingstrategy.Maglev{TableSize: u32(1021)}}}),
			},
		}),
	}
	return p
}

func faultPolicy(name string, spec *meshfaultinjection.Spec) rules.Policy[meshfaultinjection.Conf] {
	return meshfaultinjection.Policy(resources.Meta{Mesh: "default", Name: name}, spec)
}

func abortConf(status int32, pctValue string) meshfaultinjection.Conf {
	return meshfaultinjection.Conf{Http: &[]meshfaultinjection.FaultInjectionConf{{
		Abort: &meshfaultinjection.AbortConf{HttpStatus: status, Percentage: meshhttproute.Percentage{Value: pctValue}}}}}
}

// meshFaults: faults on the web inbound (an abort, a delay and a bandwidth limit for every
// client, and a delay for one SPIFFE ID, which needs mTLS and is left out), and a from-style
// abort on the orders service: a grpc-go client of orders injects it itself.
func meshFaults() *generate.Proxy {
	p := policyProxy()
	sidecars := &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("web")}
	p.Policies.Faults = []rules.Policy[meshfaultinjection.Conf]{
		faultPolicy("web-faults", &meshfaultinjection.Spec{TargetRef: sidecars, Rules: &[]meshfaultinjection.Rule{
			{Default: meshfaultinjection.Conf{Http: &[]meshfaultinjection.FaultInjectionConf{
				{Abort: &meshfaultinjection.AbortConf{HttpStatus: 503, Percentage: meshhttproute.Percentage{Value: "12.5"}},
					Delay: &meshfaultinjection.DelayConf{Value: *dur(2 * time.Second), Percentage: meshhttproute.Percentage{Value: "50"}}},
				{ResponseBandwidth: &meshfaultinjection.ResponseBandwidthConf{Limit: "100 Mbps", Percentage: meshhttproute.Percentage{Value: "5"}}},
			}}},
			{Matches: &[]targetref.Match{{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDExact, Value: "spiffe://default/web"}}},
				Default: abortConf(500, "100")},
		}}),
		faultPolicy("orders-aborts", &meshfaultinjection.Spec{
			TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("orders")},
			From:      &[]meshfaultinjection.From{{TargetRef: meshRef(), Default: abortConf(503, "50")}},
		}),
	}
	return p
}
