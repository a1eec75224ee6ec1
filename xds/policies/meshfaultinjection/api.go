// Package meshfaultinjection is the MeshFaultInjection policy: HTTP faults (aborts, delays,
// response bandwidth limits) injected into traffic to the proxies it targets. api.go is its
// API (Kuma 2.14's pkg/plugins/policies/meshfaultinjection/api/v1alpha1), validate.go its
// validation, configurer.go the Envoy fault filters.
package meshfaultinjection

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshFaultInjection",
	WsPath:       "meshfaultinjections",
	SingularName: "meshfaultinjection",
	PluralName:   "meshfaultinjections",
	ShortName:    "mfi",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{From: true, To: true, Rules: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshFaultInjection. Faults are injected on the server side: rules
// and from configure the targeted proxies' inbounds; to is for gateways only.
type Spec struct {
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	From      *[]From              `json:"from,omitempty"`
	To        *[]To                `json:"to,omitempty"`
	Rules     *[]Rule              `json:"rules,omitempty"`
}

// Rule is the faults for the clients its matches select (all clients without matches).
type Rule struct {
	Matches *[]targetref.Match `json:"matches,omitempty"`
	Default Conf               `json:"default"`
}

// From is the faults for one group of clients (deprecated for rules).
type From = rules.Item[Conf]

// To is the faults of a gateway towards its destinations.
type To = rules.Item[Conf]

// Conf lists faults; each becomes one fault filter, applied in order.
type Conf struct {
	Http *[]FaultInjectionConf `json:"http,omitempty"`
}

// FaultInjectionConf is one fault: any of an abort, a delay and a bandwidth limit.
type FaultInjectionConf struct {
	Abort             *AbortConf             `json:"abort,omitempty"`
	Delay             *DelayConf             `json:"delay,omitempty"`
	ResponseBandwidth *ResponseBandwidthConf `json:"responseBandwidth,omitempty"`
}

// AbortConf answers percentage of requests with httpStatus.
type AbortConf struct {
	HttpStatus int32                    `json:"httpStatus"`
	Percentage meshhttproute.Percentage `json:"percentage"`
}

// DelayConf delays percentage of requests by value.
type DelayConf struct {
	Value      targetref.Duration       `json:"value"`
	Percentage meshhttproute.Percentage `json:"percentage"`
}

// ResponseBandwidthConf limits the response bandwidth of percentage of requests to limit
// ("<n>kbps", "Mbps" or "Gbps").
type ResponseBandwidthConf struct {
	Limit      string                   `json:"limit"`
	Percentage meshhttproute.Percentage `json:"percentage"`
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
		out = append(out, "'from' field is deprecated, use 'rules' with SPIFFE-based 'matches' instead")
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

// Policy converts a stored MeshFaultInjection for the rules framework (from items stay
// from rules: Kuma's MeshFaultInjection is not is_from_as_rules).
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	p.To = s.GetTo()
	p.From = s.GetFrom()
	for _, r := range s.GetRules() {
		p.Rules = append(p.Rules, rules.RuleItem[Conf]{Matches: deref(r.Matches), Default: r.Default})
	}
	return p
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
