// Package meshhealthcheck is the MeshHealthCheck policy: active health checks (TCP, HTTP or
// gRPC probes) of the destinations of the proxies it targets. api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshhealthcheck/api/v1alpha1), validate.go its validation,
// configurer.go what it does to Envoy clusters.
//
// grpc-go's xDS client does not run active health checks (it ignores a cluster's
// health_checks), so this policy only affects Envoy sidecars.
package meshhealthcheck

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshHealthCheck",
	WsPath:       "meshhealthchecks",
	SingularName: "meshhealthcheck",
	PluralName:   "meshhealthchecks",
	ShortName:    "mhc",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{To: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshHealthCheck.
type Spec struct {
	// TargetRef selects the proxies that probe; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	To        *[]To                `json:"to,omitempty"`
}

// To is one group of destinations and how they are probed.
type To = rules.Item[Conf]

// Conf is one health check. The destination's protocol picks the checker: http for http
// and http2 services, grpc for grpc ones, tcp for tcp ones or when the protocol's own
// checker is disabled.
type Conf struct {
	// Interval between probes (default 1m).
	Interval *targetref.Duration `json:"interval,omitempty"`
	// Timeout of one probe (default 15s).
	Timeout *targetref.Duration `json:"timeout,omitempty"`
	// UnhealthyThreshold failed probes mark a host unhealthy (default 5).
	UnhealthyThreshold *int32 `json:"unhealthyThreshold,omitempty"`
	// HealthyThreshold passed probes mark it healthy again (default 1).
	HealthyThreshold      *int32              `json:"healthyThreshold,omitempty"`
	InitialJitter         *targetref.Duration `json:"initialJitter,omitempty"`
	IntervalJitter        *targetref.Duration `json:"intervalJitter,omitempty"`
	IntervalJitterPercent *int32              `json:"intervalJitterPercent,omitempty"`
	// HealthyPanicThreshold is deprecated: it belongs to MeshCircuitBreaker now.
	HealthyPanicThreshold        *meshhttproute.Percentage `json:"healthyPanicThreshold,omitempty"`
	FailTrafficOnPanic           *bool                     `json:"failTrafficOnPanic,omitempty"`
	EventLogPath                 *string                   `json:"eventLogPath,omitempty"`
	AlwaysLogHealthCheckFailures *bool                     `json:"alwaysLogHealthCheckFailures,omitempty"`
	// NoTrafficInterval is the interval for hosts that received no traffic yet.
	NoTrafficInterval *targetref.Duration `json:"noTrafficInterval,omitempty"`
	Tcp               *TcpHealthCheck     `json:"tcp,omitempty"`
	Http              *HttpHealthCheck    `json:"http,omitempty"`
	Grpc              *GrpcHealthCheck    `json:"grpc,omitempty"`
	ReuseConnection   *bool               `json:"reuseConnection,omitempty"`
}

// TcpHealthCheck connects, optionally sends a payload and expects the given ones back.
type TcpHealthCheck struct {
	Disabled *bool     `json:"disabled,omitempty"`
	Send     *string   `json:"send,omitempty"`
	Receive  *[]string `json:"receive,omitempty"`
}

// HttpHealthCheck requests path and expects one of the statuses (default 200).
type HttpHealthCheck struct {
	Disabled            *bool           `json:"disabled,omitempty"`
	Path                *string         `json:"path,omitempty"`
	RequestHeadersToAdd *HeaderModifier `json:"requestHeadersToAdd,omitempty"`
	ExpectedStatuses    *[]int32        `json:"expectedStatuses,omitempty"`
}

// GrpcHealthCheck calls grpc.health.v1.Health/Check.
type GrpcHealthCheck struct {
	Disabled    *bool   `json:"disabled,omitempty"`
	ServiceName *string `json:"serviceName,omitempty"`
	Authority   *string `json:"authority,omitempty"`
}

// HeaderModifier lists headers the probe sets or adds; a comma-separated value is several.
type HeaderModifier struct {
	Set *[]meshhttproute.HeaderKeyValue `json:"set,omitempty"`
	Add *[]meshhttproute.HeaderKeyValue `json:"add,omitempty"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To {
	if s.To == nil {
		return nil
	}
	return *s.To
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations.
func (s *Spec) Warnings() []string {
	out := targetref.TopLevelDeprecations(s.TargetRef)
	for _, t := range s.GetTo() {
		if t.Default.HealthyPanicThreshold != nil {
			out = append(out, "healthyPanicThreshold for 'to[].default' is deprecated. "+
				"The setting has been moved to MeshCircuitBreaker policy, please use MeshCircuitBreaker policy instead.")
		}
	}
	return out
}

// Policy converts a stored MeshHealthCheck for the rules framework.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	p.To = s.GetTo()
	return p
}
