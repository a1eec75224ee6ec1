package generate

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

// selectPermissions returns the permissions whose top-level targetRef selects the inbound,
// least specific first: later ones override earlier ones. The order is Kuma's
// SortByTargetRef: by kind (Mesh, Dataplane, MeshSubset, MeshService, MeshServiceSubset),
// Dataplane refs by precision, then origin (global before zone), then policy role, then
// display name descending, so that of two equal policies the alphabetically first wins.
func selectPermissions(dp Dataplane, in *core.Inbound, perms []Permission) []Permission {
	var out []Permission
	for _, p := range perms {
		if p.Spec != nil && selectsInbound(p, dp, in) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, comparePermissions)
	return out
}

func topLevel(p Permission) targetref.TargetRef {
	if p.Spec.TargetRef == nil {
		return targetref.TargetRef{Kind: targetref.Mesh}
	}
	return *p.Spec.TargetRef
}

// selectsInbound is Kuma's DppSelectedByPolicy for one sidecar inbound.
func selectsInbound(p Permission, dp Dataplane, in *core.Inbound) bool {
	if !selectedByZone(p.Meta.Labels, dp.Meta.Labels) || !selectedByNamespace(p.Meta.Labels, dp.Meta.Labels) {
		return false
	}
	ref := topLevel(p)
	service := in.Tags[resources.TagService]
	switch ref.Kind {
	case targetref.Mesh:
		return sidecarSelected(ref)
	case targetref.MeshSubset:
		return sidecarSelected(ref) && selectorMatches(ref.GetTags(), in.Tags)
	case targetref.MeshService:
		return service == ref.GetName()
	case targetref.MeshServiceSubset:
		return service == ref.GetName() && selectorMatches(ref.GetTags(), in.Tags)
	case targetref.Dataplane:
		return dataplaneSelected(ref, dp) && (ref.GetSectionName() == "" || ref.GetSectionName() == in.SectionName())
	default:
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
		name := dp.Meta.Labels[resources.LabelDisplayName]
		if name == "" {
			name = dp.Meta.Name
		}
		if ref.GetName() == name && ref.GetNamespace() == dp.Meta.Labels[resources.LabelKubeNamespace] {
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

func comparePermissions(a, b Permission) int {
	ra, rb := topLevel(a), topLevel(b)
	return cmp.Or(
		cmp.Compare(kindOrder(ra.Kind), kindOrder(rb.Kind)),
		compareDataplaneRefs(ra, rb),
		cmp.Compare(originOrder(a.Meta.Labels[resources.LabelOrigin]), originOrder(b.Meta.Labels[resources.LabelOrigin])),
		cmp.Compare(roleOrder(a.Meta.Labels[resources.LabelPolicyRole]), roleOrder(b.Meta.Labels[resources.LabelPolicyRole])),
		cmp.Compare(displayName(b.Meta), displayName(a.Meta)),
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

func displayName(m resources.Meta) string {
	if n := m.Labels[resources.LabelDisplayName]; n != "" {
		return n
	}
	return m.Name
}
