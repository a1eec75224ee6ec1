// Package meshtimeout is the MeshTimeout policy: connection, idle, request, stream idle and
// stream duration limits for traffic into (from, rules) and out of (to) the proxies it
// targets. api.go is its API (Kuma 2.14's pkg/plugins/policies/meshtimeout/api/v1alpha1),
// validate.go its validation, configurer.go what it does to Envoy resources.
package meshtimeout

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshTimeout",
	WsPath:       "meshtimeouts",
	SingularName: "meshtimeout",
	PluralName:   "meshtimeouts",
	ShortName:    "mt",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{From: true, To: true, Rules: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Options is how the rules framework reads MeshTimeout: from items are inbound rules without
// matches (Kuma's is_from_as_rules).
var Options = rules.Options{FromAsRules: true}

// Spec is the spec of a MeshTimeout.
type Spec struct {
	// TargetRef selects the proxies the policy configures; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	// To configures outbound traffic per destination.
	To *[]To `json:"to,omitempty"`
	// From configures inbound traffic per group of clients (deprecated in 2.14 for Rules).
	From *[]From `json:"from,omitempty"`
	// Rules configures inbound traffic, optionally only for clients the matches select.
	Rules *[]Rule `json:"rules,omitempty"`
}

// To is one group of destinations and their timeouts.
type To = rules.Item[Conf]

// From is one group of clients and their timeouts.
type From = rules.Item[Conf]

// Rule is one inbound timeout configuration.
type Rule struct {
	Matches *[]targetref.Match `json:"matches,omitempty"`
	Default Conf               `json:"default,omitempty"`
}

// Conf is the set of timeouts. Every field is optional; absent ones keep the value of a less
// specific policy, or Kuma's default (see configurer.go).
type Conf struct {
	// ConnectionTimeout bounds establishing a TCP connection (default 5s; 0 is invalid).
	ConnectionTimeout *targetref.Duration `json:"connectionTimeout,omitempty"`
	// IdleTimeout closes a connection without traffic (default 1h; 0 disables it).
	IdleTimeout *targetref.Duration `json:"idleTimeout,omitempty"`
	Http        *Http               `json:"http,omitempty"`
}

// Http holds the HTTP-only timeouts.
type Http struct {
	// RequestTimeout bounds a whole request and response (default 15s; 0 disables it).
	RequestTimeout *targetref.Duration `json:"requestTimeout,omitempty"`
	// StreamIdleTimeout ends a stream without activity (default 30m; 0 disables it).
	StreamIdleTimeout *targetref.Duration `json:"streamIdleTimeout,omitempty"`
	// MaxStreamDuration bounds a stream's lifetime (disabled by default).
	MaxStreamDuration *targetref.Duration `json:"maxStreamDuration,omitempty"`
	// MaxConnectionDuration drains a connection this long after it was established
	// (disabled by default).
	MaxConnectionDuration *targetref.Duration `json:"maxConnectionDuration,omitempty"`
	// RequestHeadersTimeout bounds receiving the request headers (disabled by default).
	RequestHeadersTimeout *targetref.Duration `json:"requestHeadersTimeout,omitempty"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To { return deref(s.To) }

// GetFrom returns the from items or nil.
func (s *Spec) GetFrom() []From { return deref(s.From) }

// GetRules returns the rules or nil.
func (s *Spec) GetRules() []Rule { return deref(s.Rules) }

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshTimeout.
func (s *Spec) Warnings() []string {
	var out []string
	if len(s.GetFrom()) > 0 {
		out = append(out, "'from' field is deprecated, use 'rules' instead")
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

// Policy converts a stored MeshTimeout for the rules framework.
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
