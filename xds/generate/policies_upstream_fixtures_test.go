package generate_test

import (
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
	"github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
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
