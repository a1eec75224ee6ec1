// Package meshcircuitbreaker is the MeshCircuitBreaker policy: connection limits (Envoy
// circuit breakers) and outlier detection on the clusters of the proxies it targets, for
// traffic out of them (to) and into them (from, rules). api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshcircuitbreaker/api/v1alpha1), validate.go its validation,
// configurer.go what it does to Envoy clusters.
package meshcircuitbreaker

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshCircuitBreaker",
	WsPath:       "meshcircuitbreakers",
	SingularName: "meshcircuitbreaker",
	PluralName:   "meshcircuitbreakers",
	ShortName:    "mcb",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{From: true, To: true, Rules: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Options is how the rules framework reads MeshCircuitBreaker: from items are inbound rules
// without matches (Kuma's is_from_as_rules).
var Options = rules.Options{FromAsRules: true}

// Spec is the spec of a MeshCircuitBreaker.
type Spec struct {
	// TargetRef selects the proxies the policy configures; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	// To configures the clusters of outbound destinations.
	To *[]To `json:"to,omitempty"`
	// From configures the inbound clusters (deprecated in 2.14 for Rules).
	From *[]From `json:"from,omitempty"`
	// Rules configure the inbound clusters; they have no matches, a cluster serves every client.
	Rules *[]Rule `json:"rules,omitempty"`
}

// To is one group of destinations and their limits.
type To = rules.Item[Conf]

// From is one group of clients and the limits of the inbound cluster.
type From = rules.Item[Conf]

// Rule is one inbound configuration.
type Rule struct {
	Default Conf `json:"default,omitempty"`
}

// Conf is what a cluster gets.
type Conf struct {
	ConnectionLimits *ConnectionLimits `json:"connectionLimits,omitempty"`
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
}

// ConnectionLimits are the thresholds of the cluster's default-priority circuit breaker;
// Envoy's defaults (1024 connections, pending and concurrent requests, 3 retries) apply to
// the ones left out.
type ConnectionLimits struct {
	MaxConnections     *uint32 `json:"maxConnections,omitempty"`
	MaxConnectionPools *uint32 `json:"maxConnectionPools,omitempty"`
	MaxPendingRequests *uint32 `json:"maxPendingRequests,omitempty"`
	MaxRetries         *uint32 `json:"maxRetries,omitempty"`
	MaxRequests        *uint32 `json:"maxRequests,omitempty"`
}

// OutlierDetection ejects hosts that fail, for baseEjectionTime times the number of their
// ejections.
type OutlierDetection struct {
	// Disabled turns outlier detection off even if a less specific policy enables it.
	Disabled                    *bool               `json:"disabled,omitempty"`
	Interval                    *targetref.Duration `json:"interval,omitempty"`
	BaseEjectionTime            *targetref.Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent          *uint32             `json:"maxEjectionPercent,omitempty"`
	SplitExternalAndLocalErrors *bool               `json:"splitExternalAndLocalErrors,omitempty"`
	Detectors                   *Detectors          `json:"detectors,omitempty"`
	// HealthyPanicThreshold is a percentage (number or decimal string): below this share of
	// healthy hosts Envoy balances over all hosts.
	HealthyPanicThreshold *meshhttproute.Percentage `json:"healthyPanicThreshold,omitempty"`
}

// Detectors are the ways a host is found failing; only configured ones are enforced.
type Detectors struct {
	TotalFailures       *Consecutive       `json:"totalFailures,omitempty"`
	GatewayFailures     *Consecutive       `json:"gatewayFailures,omitempty"`
	LocalOriginFailures *Consecutive       `json:"localOriginFailures,omitempty"`
	SuccessRate         *SuccessRate       `json:"successRate,omitempty"`
	FailurePercentage   *FailurePercentage `json:"failurePercentage,omitempty"`
}

// Consecutive ejects a host after this many failures in a row.
type Consecutive struct {
	Consecutive *uint32 `json:"consecutive,omitempty"`
}

// SuccessRate ejects hosts whose success rate is below the mean by standardDeviationFactor
// standard deviations.
type SuccessRate struct {
	MinimumHosts            *uint32                   `json:"minimumHosts,omitempty"`
	RequestVolume           *uint32                   `json:"requestVolume,omitempty"`
	StandardDeviationFactor *meshhttproute.Percentage `json:"standardDeviationFactor,omitempty"`
}

// FailurePercentage ejects hosts whose failure percentage reaches threshold.
type FailurePercentage struct {
	MinimumHosts  *uint32 `json:"minimumHosts,omitempty"`
	RequestVolume *uint32 `json:"requestVolume,omitempty"`
	Threshold     *uint32 `json:"threshold,omitempty"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To { return deref(s.To) }

// GetFrom returns the from items or nil.
func (s *Spec) GetFrom() []From { return deref(s.From) }

// GetRules returns the rules or nil.
func (s *Spec) GetRules() []Rule { return deref(s.Rules) }

// Warnings implements resources.Warner with Kuma 2.14's deprecations.
func (s *Spec) Warnings() []string {
	var out []string
	if len(s.GetFrom()) > 0 {
		out = append(out, "'from' field is deprecated, use 'rules' instead")
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

// Policy converts a stored MeshCircuitBreaker for the rules framework.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	p.To = s.GetTo()
	p.From = s.GetFrom()
	for _, r := range s.GetRules() {
		p.Rules = append(p.Rules, rules.RuleItem[Conf]{Default: r.Default})
	}
	return p
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
