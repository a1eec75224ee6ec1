// Package meshtcproute is the MeshTCPRoute policy: which backends, with which weights, a
// proxy's outbound TCP traffic to a service goes to. api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshtcproute/api/v1alpha1), validation, and the TCP proxy it
// configures.
package meshtcproute

import (
	"fmt"

	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshTCPRoute",
	WsPath:       "meshtcproutes",
	SingularName: "meshtcproute",
	PluralName:   "meshtcproutes",
	ShortName:    "mtcpr",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{To: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshTCPRoute.
type Spec struct {
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	To        *[]To                `json:"to,omitempty"`
}

// To is the routing of traffic to one destination; only the first rule is used.
type To struct {
	TargetRef targetref.TargetRef `json:"targetRef"`
	Rules     []Rule              `json:"rules"`
}

// Rule routes all traffic of the destination.
type Rule struct {
	Default RuleConf `json:"default"`
}

// RuleConf lists the weighted backends.
type RuleConf struct {
	BackendRefs *[]targetref.BackendRef `json:"backendRefs,omitempty"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To {
	if s.To == nil {
		return nil
	}
	return *s.To
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations.
func (s *Spec) Warnings() []string { return targetref.TopLevelDeprecations(s.TargetRef) }

// Policy converts a stored MeshTCPRoute for the rules framework: each to item's conf is its
// first rule, or, without rules, the destination itself with weight 1 (Kuma's GetDefault).
func Policy(meta resources.Meta, s *Spec) rules.Policy[Rule] {
	p := rules.Policy[Rule]{Meta: meta, TargetRef: s.TargetRef}
	for _, t := range s.GetTo() {
		conf := Rule{Default: RuleConf{BackendRefs: &[]targetref.BackendRef{{TargetRef: t.TargetRef, Weight: targetref.Ptr(uint(1))}}}}
		if len(t.Rules) > 0 {
			conf = t.Rules[0]
		}
		p.To = append(p.To, rules.Item[Rule]{TargetRef: t.TargetRef, Default: conf})
	}
	return p
}

var (
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds      = []targetref.Kind{targetref.MeshService, targetref.MeshExternalService, targetref.MeshMultiZoneService}
	backendKinds = []targetref.Kind{targetref.MeshService, targetref.MeshServiceSubset, targetref.MeshExternalService,
		targetref.MeshMultiZoneService}
)

// Validate implements resources.Spec: Kuma's schema checks, then its Go validator.
func (s *Spec) Validate() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		v.AddErrorAt(spec.Field("to").Index(i).Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
	}
	if v.HasViolations() {
		return v
	}
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds: topLevelKinds, GatewayListenerTagsAllowed: true}))
	}
	kinds := toKinds
	if s.TargetRef != nil && s.TargetRef.Kind == targetref.MeshGateway {
		kinds = []targetref.Kind{targetref.Mesh}
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: kinds}))
		for j, r := range t.Rules {
			rp := at.Field("rules").Index(j).Field("default").Field("backendRefs")
			if r.Default.BackendRefs == nil || len(*r.Default.BackendRefs) == 0 {
				v.AddViolation(rp, targetref.MustBeDefined)
				continue
			}
			for k, b := range *r.Default.BackendRefs {
				v.AddErrorAt(rp.Index(k), targetref.Validate(b.TargetRef, targetref.Options{SupportedKinds: backendKinds}))
				if b.Kind == targetref.MeshMultiZoneService && b.Port == nil {
					v.AddViolation(rp.Index(k).Field("port"), "must be defined with kind MeshMultiZoneService")
				}
			}
		}
	}
	return v
}

// ConfigureTCPProxy points a TCP proxy at the rule's backends: one cluster, or weighted
// clusters for several. clusterName names a backend's cluster; the backends used are
// returned so that the generator creates their clusters. A rule whose backends all name
// real resources leaves the proxy alone.
func ConfigureTCPProxy(t *tcpproxyv3.TcpProxy, r Rule, clusterName func(map[string]string) string) ([]meshhttproute.Backend, error) {
	var refs []targetref.BackendRef
	if r.Default.BackendRefs != nil {
		refs = *r.Default.BackendRefs
	}
	bs := meshhttproute.ResolveBackends(refs)
	var out []meshhttproute.Backend
	switch len(bs) {
	case 0:
		return nil, nil
	case 1:
		t.ClusterSpecifier = &tcpproxyv3.TcpProxy_Cluster{Cluster: clusterName(bs[0].Backend().Tags)}
		out = append(out, bs[0].Backend())
	default:
		wc := &tcpproxyv3.TcpProxy_WeightedCluster{}
		for _, b := range bs {
			if b.Weight() == 0 {
				continue // Envoy requires weights of at least 1; 0 means no traffic anyway
			}
			wc.Clusters = append(wc.Clusters, &tcpproxyv3.TcpProxy_WeightedCluster_ClusterWeight{
				Name: clusterName(b.Backend().Tags), Weight: b.Weight()})
			out = append(out, b.Backend())
		}
		if len(wc.Clusters) == 0 {
			return nil, fmt.Errorf("every backend of the route has weight 0")
		}
		t.ClusterSpecifier = &tcpproxyv3.TcpProxy_WeightedClusters{WeightedClusters: wc}
	}
	return out, nil
}
