// Package meshratelimit is the MeshRateLimit policy: local (per-proxy) rate limits on the
// traffic a proxy receives, requests per interval for HTTP and connections per interval for
// TCP. api.go is its API (Kuma 2.14's pkg/plugins/policies/meshratelimit/api/v1alpha1),
// validate.go its validation, configurer.go what it does to inbound listeners.
package meshratelimit

import (
	"fmt"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshRateLimit",
	WsPath:       "meshratelimits",
	SingularName: "meshratelimit",
	PluralName:   "meshratelimits",
	ShortName:    "mrl",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{From: true, To: true, Rules: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Options is how the rules framework reads MeshRateLimit: from items are inbound rules
// without matches (Kuma's is_from_as_rules).
var Options = rules.Options{FromAsRules: true}

// Spec is the spec of a MeshRateLimit. Sidecars are limited through from or rules (what they
// receive); to is for gateways only, which jetmesh does not generate.
type Spec struct {
	// TargetRef selects the proxies the policy configures; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	// From configures inbound traffic per group of clients (deprecated in 2.14 for Rules).
	From *[]From `json:"from,omitempty"`
	// To configures the traffic a gateway receives.
	To *[]To `json:"to,omitempty"`
	// Rules configures inbound traffic, optionally only for clients the matches select.
	Rules *[]Rule `json:"rules,omitempty"`
}

// Rule is one inbound rate limit.
type Rule struct {
	Matches *[]targetref.Match `json:"matches,omitempty"`
	Default Conf               `json:"default,omitempty"`
}

// From is one group of clients and their limit.
type From = rules.Item[Conf]

// To is one group of gateway routes and their limit.
type To = rules.Item[Conf]

// Conf is a rate limit configuration.
type Conf struct {
	Local *Local `json:"local,omitempty"`
}

// Local limits are enforced by each proxy on its own, without a rate limit service.
type Local struct {
	HTTP *LocalHTTP `json:"http,omitempty"`
	TCP  *LocalTCP  `json:"tcp,omitempty"`
}

// LocalHTTP limits requests. Policies merge field by field (rules.Merge); a Rate always
// carries both its fields, so a more specific rate replaces a less specific one whole, as
// Kuma's non-mergeable Rate does.
type LocalHTTP struct {
	// Disabled turns off a limit a less specific policy set.
	Disabled *bool `json:"disabled,omitempty"`
	// RequestRate is the number of requests allowed per interval.
	RequestRate *Rate `json:"requestRate,omitempty"`
	// OnRateLimit is the response to a limited request (default: 429, no extra headers).
	OnRateLimit *OnRateLimit `json:"onRateLimit,omitempty"`
}

// OnRateLimit is the response to a limited request.
type OnRateLimit struct {
	Status  *uint32         `json:"status,omitempty"`
	Headers *HeaderModifier `json:"headers,omitempty"`
}

// HeaderKeyValue is one response header.
type HeaderKeyValue struct {
	Name  targetref.HeaderName  `json:"name"`
	Value targetref.HeaderValue `json:"value"`
}

// HeaderModifier adds headers to the response (add appends, set replaces; a set value with
// commas becomes several headers, as in Kuma).
type HeaderModifier struct {
	Set *[]HeaderKeyValue `json:"set,omitempty"`
	Add *[]HeaderKeyValue `json:"add,omitempty"`
}

// LocalTCP limits new connections.
type LocalTCP struct {
	Disabled       *bool `json:"disabled,omitempty"`
	ConnectionRate *Rate `json:"connectionRate,omitempty"`
}

// Rate is Num events per Interval.
type Rate struct {
	Num      uint32             `json:"num"`
	Interval targetref.Duration `json:"interval"`
}

// GetFrom returns the from items or nil.
func (s *Spec) GetFrom() []From { return deref(s.From) }

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To { return deref(s.To) }

// GetRules returns the rules or nil.
func (s *Spec) GetRules() []Rule { return deref(s.Rules) }

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshRateLimit.
func (s *Spec) Warnings() []string {
	var out []string
	statusWarning := func(list string, i int, c Conf) {
		if c.Local != nil && c.Local.HTTP != nil && c.Local.HTTP.OnRateLimit != nil &&
			c.Local.HTTP.OnRateLimit.Status != nil && *c.Local.HTTP.OnRateLimit.Status < 400 {
			out = append(out, fmt.Sprintf("'spec.%s[%d].default.local.http.requestRate.status' must be 400 or higher. Please update your configuration.", list, i))
		}
	}
	if len(s.GetFrom()) > 0 {
		out = append(out, "'from' field is deprecated, use 'rules' instead")
		for i, f := range s.GetFrom() {
			statusWarning("from", i, f.Default)
		}
	}
	for i, r := range s.GetRules() {
		statusWarning("rules", i, r.Default)
	}
	for i, t := range s.GetTo() {
		statusWarning("to", i, t.Default)
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

// Policy converts a stored MeshRateLimit for the rules framework.
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
