// Package meshloadbalancingstrategy is the MeshLoadBalancingStrategy policy: which load
// balancer a proxy uses towards a destination (round robin, least request, ring hash,
// random, Maglev), what requests hash on, and how traffic stays in the local zone and fails
// over to others. api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshloadbalancingstrategy/api/v1alpha1), validate.go its validation,
// configurer.go what it does to Envoy clusters, routes and load assignments.
package meshloadbalancingstrategy

import (
	"fmt"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshLoadBalancingStrategy",
	WsPath:       "meshloadbalancingstrategies",
	SingularName: "meshloadbalancingstrategy",
	PluralName:   "meshloadbalancingstrategies",
	ShortName:    "mlbs",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{To: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshLoadBalancingStrategy.
type Spec struct {
	// TargetRef selects the proxies whose outbound traffic is balanced; absent means the mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	To        *[]To                `json:"to,omitempty"`
}

// To is one group of destinations and how traffic to them is balanced.
type To = rules.Item[Conf]

// Conf is the balancing of one destination.
type Conf struct {
	LocalityAwareness *LocalityAwareness `json:"localityAwareness,omitempty"`
	LoadBalancer      *LoadBalancer      `json:"loadBalancer,omitempty"`
	// HashPolicies say what RingHash and Maglev hash a request on.
	HashPolicies *[]HashPolicy `json:"hashPolicies,omitempty"`
}

// LocalityAwareness keeps traffic in the local zone (on by default once a policy applies)
// and says where it fails over to.
type LocalityAwareness struct {
	Disabled  *bool      `json:"disabled,omitempty"`
	LocalZone *LocalZone `json:"localZone,omitempty"`
	CrossZone *CrossZone `json:"crossZone,omitempty"`
}

// LocalZone prefers local instances sharing tags with the client.
type LocalZone struct {
	AffinityTags *[]AffinityTag `json:"affinityTags,omitempty"`
}

// AffinityTag is one tag and the weight of instances sharing it.
type AffinityTag struct {
	Key    string  `json:"key"`
	Weight *uint32 `json:"weight,omitempty"`
}

// CrossZone lists, in order, where traffic goes when the local zone has no healthy instance.
type CrossZone struct {
	Failover          *[]Failover        `json:"failover,omitempty"`
	FailoverThreshold *FailoverThreshold `json:"failoverThreshold,omitempty"`
}

// Failover is one failover step, for clients in the from zones (all when absent).
type Failover struct {
	From *FromZone `json:"from,omitempty"`
	To   ToZone    `json:"to"`
}

// FromZone lists the client zones a failover step applies to.
type FromZone struct {
	Zones []string `json:"zones"`
}

// ToZone is the zones a failover step sends traffic to.
type ToZone struct {
	Type  ToZoneType `json:"type"`
	Zones *[]string  `json:"zones,omitempty"`
}

// FailoverThreshold is the share of healthy local instances below which traffic starts to
// fail over.
type FailoverThreshold struct {
	Percentage meshhttproute.Percentage `json:"percentage"`
}

// ToZoneType says which zones a failover step uses.
type ToZoneType string

// The failover step types.
const (
	None      ToZoneType = "None"
	Only      ToZoneType = "Only"
	Any       ToZoneType = "Any"
	AnyExcept ToZoneType = "AnyExcept"
)

// LoadBalancerType names a load balancer.
type LoadBalancerType string

// The load balancers.
const (
	RoundRobinType   LoadBalancerType = "RoundRobin"
	LeastRequestType LoadBalancerType = "LeastRequest"
	RingHashType     LoadBalancerType = "RingHash"
	RandomType       LoadBalancerType = "Random"
	MaglevType       LoadBalancerType = "Maglev"
)

// LoadBalancer is the load balancer and its settings.
type LoadBalancer struct {
	Type         LoadBalancerType `json:"type"`
	RoundRobin   *struct{}        `json:"roundRobin,omitempty"`
	LeastRequest *LeastRequest    `json:"leastRequest,omitempty"`
	RingHash     *RingHash        `json:"ringHash,omitempty"`
	Random       *struct{}        `json:"random,omitempty"`
	Maglev       *Maglev          `json:"maglev,omitempty"`
}

// LeastRequest picks the least loaded of choiceCount random hosts.
type LeastRequest struct {
	ChoiceCount       *uint32                   `json:"choiceCount,omitempty"`
	ActiveRequestBias *meshhttproute.Percentage `json:"activeRequestBias,omitempty"`
}

// HashFunctionType names a ring hash function.
type HashFunctionType string

// The ring hash functions.
const (
	XXHashType      HashFunctionType = "XXHash"
	MurmurHash2Type HashFunctionType = "MurmurHash2"
)

// RingHash is consistent hashing on a ring.
type RingHash struct {
	HashFunction *HashFunctionType `json:"hashFunction,omitempty"`
	MinRingSize  *uint32           `json:"minRingSize,omitempty"`
	MaxRingSize  *uint32           `json:"maxRingSize,omitempty"`
	// HashPolicies is deprecated for Conf.HashPolicies.
	HashPolicies *[]HashPolicy `json:"hashPolicies,omitempty"`
}

// Maglev is consistent hashing with a lookup table.
type Maglev struct {
	TableSize *uint32 `json:"tableSize,omitempty"`
	// HashPolicies is deprecated for Conf.HashPolicies.
	HashPolicies *[]HashPolicy `json:"hashPolicies,omitempty"`
}

// HashPolicyType names what a request is hashed on.
type HashPolicyType string

// The hash policy types (SourceIP is deprecated for Connection).
const (
	HeaderType         HashPolicyType = "Header"
	CookieType         HashPolicyType = "Cookie"
	ConnectionType     HashPolicyType = "Connection"
	SourceIPType       HashPolicyType = "SourceIP"
	QueryParameterType HashPolicyType = "QueryParameter"
	FilterStateType    HashPolicyType = "FilterState"
)

// HashPolicy is one input of a request's hash.
type HashPolicy struct {
	Type HashPolicyType `json:"type"`
	// Terminal stops at this policy when it produced a hash.
	Terminal       *bool           `json:"terminal,omitempty"`
	Header         *NameOnly       `json:"header,omitempty"`
	Cookie         *Cookie         `json:"cookie,omitempty"`
	Connection     *Connection     `json:"connection,omitempty"`
	QueryParameter *NameOnly       `json:"queryParameter,omitempty"`
	FilterState    *FilterStateKey `json:"filterState,omitempty"`
}

// NameOnly names a header or query parameter.
type NameOnly struct {
	Name string `json:"name"`
}

// Cookie hashes on a cookie, generated with ttl and path when absent.
type Cookie struct {
	Name string              `json:"name"`
	TTL  *targetref.Duration `json:"ttl,omitempty"`
	Path *string             `json:"path,omitempty"`
}

// Connection hashes on the client's address.
type Connection struct {
	SourceIP *bool `json:"sourceIP,omitempty"`
}

// FilterStateKey hashes on an Envoy filter state object.
type FilterStateKey struct {
	Key string `json:"key"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To {
	if s.To == nil {
		return nil
	}
	return *s.To
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations: hash policies inside
// the load balancer, and SourceIP hashing.
func (s *Spec) Warnings() []string {
	var out []string
	for i, t := range s.GetTo() {
		lb := t.Default.LoadBalancer
		if lb == nil {
			continue
		}
		var where string
		var policies *[]HashPolicy
		switch {
		case lb.Type == RingHashType && lb.RingHash != nil && lb.RingHash.HashPolicies != nil:
			where, policies = "ringHash", lb.RingHash.HashPolicies
		case lb.Type == MaglevType && lb.Maglev != nil && lb.Maglev.HashPolicies != nil:
			where, policies = "maglev", lb.Maglev.HashPolicies
		default:
			continue
		}
		out = append(out, fmt.Sprintf("configuration 'spec.to[%d].default.loadBalancer.%s.hashPolicies' is deprecated, use 'spec.to[%d].default.hashPolicies' instead", i, where, i))
		for j, p := range *policies {
			if p.Type == SourceIPType {
				out = append(out, fmt.Sprintf("SourceIP type for 'spec.to[%d].default.loadBalancer.%s.hashPolicies[%d].type' is deprecated, use Connection instead", i, where, j))
			}
		}
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

// Policy converts a stored MeshLoadBalancingStrategy for the rules framework.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	p.To = s.GetTo()
	return p
}
