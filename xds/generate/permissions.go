package generate

import (
	"slices"

	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// selectPermissions returns the permissions whose top-level targetRef selects the inbound,
// least specific first: later ones override earlier ones (rules.Compare, Kuma's
// SortByTargetRef).
func selectPermissions(dp Dataplane, in *core.Inbound, perms []Permission) []Permission {
	var out []Permission
	for _, p := range perms {
		if p.Spec != nil && rules.SelectsInbound(p.Meta, p.Spec.TargetRef, dp, in) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Permission) int {
		return rules.Compare(a.Meta, a.Spec.TargetRef, b.Meta, b.Spec.TargetRef)
	})
	return out
}
