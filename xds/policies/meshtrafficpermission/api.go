// Package meshtrafficpermission is the MeshTrafficPermission policy: which clients may reach
// the proxies it targets. This file is its API (Kuma 2.14's
// pkg/plugins/policies/meshtrafficpermission/api/v1alpha1), validation and descriptor.
package meshtrafficpermission

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshTrafficPermission",
	WsPath:       "meshtrafficpermissions",
	SingularName: "meshtrafficpermission",
	PluralName:   "meshtrafficpermissions",
	ShortName:    "mtp",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{From: true, Rules: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshTrafficPermission. A policy has either From (the targetRef form,
// deprecated in 2.14) or Rules (matches on client identity, with MeshIdentity).
type Spec struct {
	// TargetRef selects the proxies the policy protects; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	From      *[]From              `json:"from,omitempty"`
	Rules     *[]Rule              `json:"rules,omitempty"`
}

// From is one group of clients and the action taken for them.
type From struct {
	TargetRef targetref.TargetRef `json:"targetRef"`
	Default   Conf                `json:"default,omitempty"`
}

// Conf is the configuration applied to a group of clients.
type Conf struct {
	Action *Action `json:"action,omitempty"`
}

// Action is what happens to a matched client's requests.
type Action string

// Actions.
const (
	Allow Action = "Allow"
	Deny  Action = "Deny"
	// AllowWithShadowDeny lets requests pass but logs them as if they were denied.
	AllowWithShadowDeny Action = "AllowWithShadowDeny"
)

// Rule is one inbound permissions configuration.
type Rule struct {
	Default RuleConf `json:"default"`
}

// RuleConf lists matches per action.
type RuleConf struct {
	Deny                *[]targetref.Match `json:"deny,omitempty"`
	AllowWithShadowDeny *[]targetref.Match `json:"allowWithShadowDeny,omitempty"`
	Allow               *[]targetref.Match `json:"allow,omitempty"`
}

// GetFrom returns the from items or nil.
func (s *Spec) GetFrom() []From {
	if s.From == nil {
		return nil
	}
	return *s.From
}

// GetRules returns the rules or nil.
func (s *Spec) GetRules() []Rule {
	if s.Rules == nil {
		return nil
	}
	return *s.Rules
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshTrafficPermission.
func (s *Spec) Warnings() []string {
	var out []string
	if len(s.GetFrom()) > 0 {
		out = append(out, "'from' field is deprecated and will be removed in 3.0, use 'rules' with MeshIdentity (spiffeId) instead")
	}
	for _, f := range s.GetFrom() {
		if f.TargetRef.Kind == targetref.MeshService {
			out = append(out, "MeshService value for 'from[].targetRef.kind' is deprecated, use MeshSubset with 'kuma.io/service' instead")
		}
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}
