package generate_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/generate"
	mtp "github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// client is a caller's identity: the URI SANs Kuma's builtin CA puts in its certificate.
type client map[string]string

func (c client) sans(mesh string) []string {
	out := []string{generate.ServiceSpiffeID(mesh, c["kuma.io/service"])}
	for k, v := range c {
		if k != "kuma.io/service" {
			out = append(out, "kuma://"+k+"/"+v)
		}
	}
	return out
}

// matches evaluates a principal as Envoy does: authenticated principal_name matches if any
// URI SAN matches.
func matches(p *rbacv3.Principal, sans []string) bool {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return id.Any
	case *rbacv3.Principal_Authenticated_:
		return slices.Contains(sans, id.Authenticated.GetPrincipalName().GetExact())
	case *rbacv3.Principal_AndIds:
		for _, q := range id.AndIds.GetIds() {
			if !matches(q, sans) {
				return false
			}
		}
		return true
	case *rbacv3.Principal_NotId:
		return !matches(id.NotId, sans)
	default:
		panic(fmt.Sprintf("unexpected principal %T", id))
	}
}

// allows reports whether an ALLOW (or, for shadow rules, DENY) RBAC policy matches.
func policyMatches(r *rbacv3.RBAC, sans []string) bool {
	for _, p := range r.GetPolicies() {
		for _, pr := range p.GetPrincipals() {
			if matches(pr, sans) {
				return true
			}
		}
	}
	return false
}

// lastMatch is the semantics Kuma's rule merging gives `from`: the action of the last item
// (with an action) whose targetRef selects the client.
func lastMatch(items []mtp.From, c client) mtp.Action {
	action := mtp.Deny
	for _, f := range items {
		if f.Default.Action == nil {
			continue
		}
		sel := map[string]string{}
		switch f.TargetRef.Kind {
		case targetref.MeshService, targetref.MeshServiceSubset:
			sel["kuma.io/service"] = f.TargetRef.GetName()
		}
		for k, v := range f.TargetRef.GetTags() {
			sel[k] = v
		}
		ok := true
		for k, v := range sel {
			ok = ok && c[k] == v
		}
		if ok {
			action = *f.Default.Action
		}
	}
	return action
}

func randomFrom(rng *rand.Rand) mtp.From {
	services := []string{"frontend", "backend"}
	versions := []string{"v1", "canary"}
	var ref targetref.TargetRef
	switch rng.IntN(5) {
	case 0:
		ref = targetref.TargetRef{Kind: targetref.Mesh}
	case 1:
		ref = targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr(services[rng.IntN(2)])}
	case 2:
		ref = targetref.TargetRef{Kind: targetref.MeshSubset, Tags: &map[string]string{"version": versions[rng.IntN(2)]}}
	case 3:
		ref = targetref.TargetRef{Kind: targetref.MeshSubset, Tags: &map[string]string{"version": versions[rng.IntN(2)], "zone": "z1"}}
	default:
		ref = targetref.TargetRef{Kind: targetref.MeshServiceSubset, Name: targetref.Ptr(services[rng.IntN(2)]),
			Tags: &map[string]string{"version": versions[rng.IntN(2)]}}
	}
	actions := []*mtp.Action{targetref.Ptr(mtp.Allow), targetref.Ptr(mtp.Deny), targetref.Ptr(mtp.AllowWithShadowDeny), nil}
	return mtp.From{TargetRef: ref, Default: mtp.Conf{Action: actions[rng.IntN(len(actions))]}}
}

func allClients() []client {
	var out []client
	for _, s := range []string{"frontend", "backend", "web"} {
		for _, v := range []string{"", "v1", "canary"} {
			for _, z := range []string{"", "z1"} {
				c := client{"kuma.io/service": s}
				if v != "" {
					c["version"] = v
				}
				if z != "" {
					c["zone"] = z
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// TestFromRulesMatchKumaSemantics checks the generated principals against the rule merging
// semantics for random `from` lists and every client.
func TestFromRulesMatchKumaSemantics(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	in := &core.Inbound{Port: 80, Tags: tags("kuma.io/service", "backend")}
	dp := dataplane("backend-1", "10.0.0.1", []core.Inbound{*in}, nil)
	for i := range 500 {
		items := make([]mtp.From, rng.IntN(6))
		for j := range items {
			items[j] = randomFrom(rng)
		}
		perms := []generate.Permission{{Meta: resources.Meta{Name: "p"}, Spec: &mtp.Spec{From: &items}}}
		r, err := generate.InboundRBAC(mtlsMesh(), dp, in, perms)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range allClients() {
			want := lastMatch(items, c)
			sans := c.sans("default")
			allowed := policyMatches(r.Rules, sans)
			shadowDenied := r.ShadowRules != nil && policyMatches(r.ShadowRules, sans)
			if allowed != (want == mtp.Allow || want == mtp.AllowWithShadowDeny) || shadowDenied != (want == mtp.AllowWithShadowDeny) {
				t.Fatalf("case %d, client %v: allowed=%v shadowDenied=%v, want action %s\nitems: %+v\nrules: %v\nshadow: %v",
					i, c, allowed, shadowDenied, want, items, r.Rules, r.ShadowRules)
			}
		}
	}
}

func permission(name string, ref *targetref.TargetRef, action mtp.Action, from targetref.TargetRef) generate.Permission {
	return generate.Permission{
		Meta: resources.Meta{Mesh: "default", Name: name},
		Spec: &mtp.Spec{TargetRef: ref, From: &[]mtp.From{{TargetRef: from, Default: mtp.Conf{Action: targetref.Ptr(action)}}}},
	}
}

func TestInboundRBACSelectionAndOrder(t *testing.T) {
	mesh := targetref.TargetRef{Kind: targetref.Mesh}
	frontend := targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("frontend")}
	backendRef := &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("backend")}
	in := &core.Inbound{Port: 80, Name: "http", Tags: tags("kuma.io/service", "backend", "team", "a")}
	dp := dataplane("backend-1", "10.0.0.1", []core.Inbound{*in}, nil)
	dp.Meta.Labels = map[string]string{"app": "backend"}
	tests := []struct {
		name  string
		perms []generate.Permission
		// allowed lists which of frontend/web may call; nil RBAC expected when mtls is false.
		allowed []string
		mtls    bool
	}{
		{"mTLS off: nothing enforced", []generate.Permission{permission("p", nil, mtp.Deny, mesh)}, nil, false},
		{"no policy: deny all", nil, []string{}, true},
		{"policy for another service: deny all",
			[]generate.Permission{permission("p", &frontend, mtp.Allow, mesh)}, []string{}, true},
		{"mesh-wide allow", []generate.Permission{permission("p", nil, mtp.Allow, mesh)}, []string{"frontend", "web"}, true},
		{"MeshService policy overrides Mesh policy", []generate.Permission{
			permission("z-service", backendRef, mtp.Deny, frontend),
			permission("a-mesh", nil, mtp.Allow, mesh),
		}, []string{"web"}, true},
		{"equal policies: alphabetically first wins", []generate.Permission{
			permission("a", nil, mtp.Deny, mesh),
			permission("b", nil, mtp.Allow, mesh),
		}, []string{}, true},
		{"zone policy overrides global policy", []generate.Permission{
			{Meta: resources.Meta{Name: "zonal", Labels: map[string]string{"kuma.io/origin": "zone"}}, Spec: permission("", nil, mtp.Allow, mesh).Spec},
			{Meta: resources.Meta{Name: "global", Labels: map[string]string{"kuma.io/origin": "global"}}, Spec: permission("", nil, mtp.Deny, mesh).Spec},
		}, []string{"frontend", "web"}, true},
		{"Dataplane by labels and section", []generate.Permission{
			permission("p", &targetref.TargetRef{Kind: targetref.Dataplane, Labels: &map[string]string{"app": "backend"},
				SectionName: targetref.Ptr("http")}, mtp.Allow, frontend),
		}, []string{"frontend"}, true},
		{"Dataplane of another section", []generate.Permission{
			permission("p", &targetref.TargetRef{Kind: targetref.Dataplane, SectionName: targetref.Ptr("grpc")}, mtp.Allow, mesh),
		}, []string{}, true},
		{"MeshSubset on inbound tags", []generate.Permission{
			permission("p", &targetref.TargetRef{Kind: targetref.MeshSubset, Tags: &map[string]string{"team": "a"}}, mtp.Allow, mesh),
		}, []string{"frontend", "web"}, true},
		{"gateways only", []generate.Permission{
			permission("p", &targetref.TargetRef{Kind: targetref.Mesh, ProxyTypes: &[]targetref.ProxyType{targetref.Gateway}}, mtp.Allow, mesh),
		}, []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := plainMesh()
			if tt.mtls {
				m = mtlsMesh()
			}
			r, err := generate.InboundRBAC(m, dp, in, tt.perms)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.mtls {
				if r != nil {
					t.Fatalf("RBAC %v without mTLS", r)
				}
				return
			}
			var got []string
			for _, svc := range []string{"frontend", "web"} {
				if policyMatches(r.Rules, client{"kuma.io/service": svc}.sans("default")) {
					got = append(got, svc)
				}
			}
			if !slices.Equal(got, tt.allowed) {
				t.Errorf("allowed %v, want %v (rules %v)", got, tt.allowed, r.Rules)
			}
		})
	}
}

func TestRulesWinOverFrom(t *testing.T) {
	in := &core.Inbound{Port: 80, Tags: tags("kuma.io/service", "backend")}
	dp := dataplane("backend-1", "10.0.0.1", []core.Inbound{*in}, nil)
	perms := []generate.Permission{
		permission("from", nil, mtp.Allow, targetref.TargetRef{Kind: targetref.Mesh}),
		{Meta: resources.Meta{Name: "rules"}, Spec: &mtp.Spec{Rules: &[]mtp.Rule{{Default: mtp.RuleConf{
			Allow: &[]targetref.Match{{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDExact, Value: "spiffe://default/web"}}},
		}}}}},
	}
	r, err := generate.InboundRBAC(mtlsMesh(), dp, in, perms)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rules != nil || r.Matcher == nil || r.ShadowMatcher != nil {
		t.Fatalf("want only a matcher, got %+v", r)
	}
	list := r.Matcher.GetMatcherList().GetMatchers()
	if len(list) != 1 {
		t.Fatalf("want one field matcher, got %d", len(list))
	}
	// The KRI of a policy without mesh in its meta uses the proxy's mesh.
	action := &rbacv3.Action{}
	if err := list[0].GetOnMatch().GetAction().GetTypedConfig().UnmarshalTo(action); err != nil {
		t.Fatal(err)
	}
	if action.GetName() != "kri_mtp_default___rules_" || action.GetAction() != rbacv3.RBAC_ALLOW {
		t.Errorf("action %v", action)
	}
	for _, f := range []func() error{
		func() error { _, err := r.HTTPFilter(); return err },
		func() error { _, err := r.NetworkFilter("inbound:10.0.0.1:80"); return err },
	} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
}
