// Package rules is Kuma 2.x's policy matching for targetRef policies: which policies of a type
// select a proxy (by their top-level targetRef), in which order they override each other, and
// the configuration that results for each outbound (the "to" rules), each inbound (the "from"
// rules and 2.14's "rules" section), merged field by field. It is pure and generic over a
// policy's conf type, so every policy folder reuses it, and the inspect API shows exactly what
// the xDS generator applies.
package rules

import (
	"cmp"
	"slices"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Policy roles and origins, as Kuma labels them.
const (
	roleProducer      = "producer"
	roleConsumer      = "consumer"
	roleWorkloadOwner = "workload-owner"
	originGlobal      = "global"
	originZone        = "zone"
	matchAllTagValue  = "*"
)

// Dataplane is the proxy policies are matched against: its meta (Dataplane targetRefs select
// by name and labels; zone and namespace labels limit policies) and its spec.
type Dataplane struct {
	Meta resources.Meta
	Spec *core.Dataplane
}

// Inbound identifies an inbound listener the way Kuma keys inbound rules: the dataplane-side
// address and port.
type Inbound struct {
	Address string `json:"address"`
	Port    uint32 `json:"port"`
}

// InboundOf returns the key of one of the dataplane's inbounds.
func InboundOf(n *core.DataplaneNetworking, in *core.Inbound) Inbound {
	iface := n.InboundInterface(in)
	return Inbound{Address: iface.DataplaneIP, Port: iface.DataplanePort}
}

// TopLevel is a policy's top-level targetRef; absent means the whole mesh.
func TopLevel(ref *targetref.TargetRef) targetref.TargetRef {
	if ref == nil {
		return targetref.TargetRef{Kind: targetref.Mesh}
	}
	return *ref
}

// SelectsInbound is Kuma's DppSelectedByPolicy for one sidecar inbound: does the policy (its
// meta and top-level targetRef) select this inbound of dp?
func SelectsInbound(policy resources.Meta, ref *targetref.TargetRef, dp Dataplane, in *core.Inbound) bool {
	if !selectedByZone(policy.Labels, dp.Meta.Labels) || !selectedByNamespace(policy.Labels, dp.Meta.Labels) {
		return false
	}
	r := TopLevel(ref)
	service := in.Tags[resources.TagService]
	switch r.Kind {
	case targetref.Mesh:
		return sidecarSelected(r)
	case targetref.MeshSubset:
		return sidecarSelected(r) && selectorMatches(r.GetTags(), in.Tags)
	case targetref.MeshService:
		return service == r.GetName()
	case targetref.MeshServiceSubset:
		return service == r.GetName() && selectorMatches(r.GetTags(), in.Tags)
	case targetref.Dataplane:
		return dataplaneSelected(r, dp) && (r.GetSectionName() == "" || r.GetSectionName() == in.SectionName())
	default:
		// MeshGateway and MeshHTTPRoute top-level refs select gateways or routes, not
		// sidecar inbounds; builtin gateways are not generated here.
		return false
	}
}

func sidecarSelected(ref targetref.TargetRef) bool {
	types := ref.GetProxyTypes()
	return len(types) == 0 || slices.Contains(types, targetref.Sidecar)
}

// selectorMatches is Kuma's TagSelector.Matches: every selector tag is present and equal,
// or the selector's value is "*".
func selectorMatches(selector, tags map[string]string) bool {
	for k, v := range selector {
		got, ok := tags[k]
		if !ok || (v != matchAllTagValue && v != got) {
			return false
		}
	}
	return true
}

// dataplaneSelected: a Dataplane ref without name and labels selects every dataplane; with a
// name it selects the dataplane of that (display) name and namespace; with labels, those
// whose labels include them. Kuma compares full KRIs; within one mesh and zone this is the
// same.
func dataplaneSelected(ref targetref.TargetRef, dp Dataplane) bool {
	if ref.GetName() == "" && ref.GetNamespace() == "" && ref.Labels == nil {
		return true
	}
	if ref.GetName() != "" {
		if ref.GetName() == DisplayName(dp.Meta) && ref.GetNamespace() == dp.Meta.Labels[resources.LabelKubeNamespace] {
			return true
		}
	}
	if ref.Labels == nil {
		return false
	}
	for k, v := range ref.GetLabels() {
		if dp.Meta.Labels[k] != v {
			return false
		}
	}
	return true
}

// selectedByZone is Kuma's dppSelectedByZone: a policy created in one zone applies only to
// that zone's dataplanes, unless it is a producer policy.
func selectedByZone(policy, dp map[string]string) bool {
	if policy[resources.LabelPolicyRole] == roleProducer {
		return true
	}
	if origin, ok := dp[resources.LabelOrigin]; !ok || origin == originGlobal {
		return true
	}
	zone, ok := policy[resources.LabelZone]
	if policy[resources.LabelOrigin] != originZone || !ok {
		return true
	}
	return dp[resources.LabelZone] == zone
}

// selectedByNamespace: consumer and workload-owner policies apply only in their namespace.
func selectedByNamespace(policy, dp map[string]string) bool {
	switch policy[resources.LabelPolicyRole] {
	case roleConsumer, roleWorkloadOwner:
		ns, ok := policy[resources.LabelKubeNamespace]
		return ok && ns == dp[resources.LabelKubeNamespace]
	default:
		return true
	}
}

// Compare orders two policies least specific first, so that later ones override earlier
// ones. It is Kuma's SortByTargetRef: by kind of the top-level targetRef (Mesh, Dataplane,
// MeshSubset, MeshService, MeshServiceSubset), Dataplane refs by precision, then origin
// (global before zone), then policy role, then display name descending, so that of two
// otherwise equal policies the alphabetically first one wins.
func Compare(aMeta resources.Meta, aRef *targetref.TargetRef, bMeta resources.Meta, bRef *targetref.TargetRef) int {
	ra, rb := TopLevel(aRef), TopLevel(bRef)
	return cmp.Or(
		cmp.Compare(kindOrder(ra.Kind), kindOrder(rb.Kind)),
		compareDataplaneRefs(ra, rb),
		cmp.Compare(originOrder(aMeta.Labels[resources.LabelOrigin]), originOrder(bMeta.Labels[resources.LabelOrigin])),
		cmp.Compare(roleOrder(aMeta.Labels[resources.LabelPolicyRole]), roleOrder(bMeta.Labels[resources.LabelPolicyRole])),
		cmp.Compare(DisplayName(bMeta), DisplayName(aMeta)),
	)
}

// kindOrder is Kuma 2.14's TargetRefKind order (Dataplane right after Mesh).
func kindOrder(k targetref.Kind) int {
	switch k {
	case targetref.Mesh:
		return 1
	case targetref.Dataplane:
		return 2
	case targetref.MeshSubset:
		return 3
	case targetref.MeshGateway:
		return 4
	case targetref.MeshService:
		return 5
	case targetref.MeshExternalService:
		return 6
	case targetref.MeshMultiZoneService:
		return 7
	case targetref.MeshServiceSubset:
		return 8
	default:
		return 9
	}
}

// compareDataplaneRefs is Kuma's CompareDataplaneKind: labels < name, no section < section.
func compareDataplaneRefs(a, b targetref.TargetRef) int {
	if a.Kind != targetref.Dataplane || b.Kind != targetref.Dataplane {
		return 0
	}
	switch {
	case a.GetName() != "" && b.Labels != nil:
		return 1
	case a.Labels != nil && b.GetName() != "":
		return -1
	case a.GetSectionName() != "" && b.GetSectionName() == "":
		return 1
	case a.GetSectionName() == "" && b.GetSectionName() != "":
		return -1
	}
	return 0
}

func originOrder(origin string) int {
	switch origin {
	case originGlobal:
		return 1
	case originZone:
		return 3
	default:
		return 2
	}
}

func roleOrder(role string) int {
	switch role {
	case roleProducer:
		return 2
	case roleConsumer:
		return 3
	case roleWorkloadOwner:
		return 4
	default:
		return 1
	}
}

// DisplayName is the kuma.io/display-name label, else the resource name.
func DisplayName(m resources.Meta) string {
	if n := m.Labels[resources.LabelDisplayName]; n != "" {
		return n
	}
	return m.Name
}
