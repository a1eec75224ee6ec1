package generate

import (
	matcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	typematcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// rbacPolicyName is the key of the single RBAC policy Kuma generates.
const rbacPolicyName = "MeshTrafficPermission"

// RBAC is the access control of one inbound. Exactly one form is set: Rules (and
// ShadowRules) for policies using `from`, identifying clients by the SPIFFE and kuma:// URI
// SANs of Kuma's builtin CA; or Matcher (and ShadowMatcher) for policies using `rules`
// (SPIFFE ID and SNI matches). As in Kuma, `rules` win over `from` on the same inbound.
type RBAC struct {
	Rules         *rbacv3.RBAC
	ShadowRules   *rbacv3.RBAC
	Matcher       *matcherv3.Matcher
	ShadowMatcher *matcherv3.Matcher
}

// InboundRBAC is the MeshTrafficPermission enforcement for inbound in of dp, or nil when the
// mesh has no mTLS (Kuma enforces MeshTrafficPermission only with mTLS: without certificates
// there is no client identity). With mTLS, the permissions selecting the inbound are merged
// the way Kuma merges them. If any of them has `rules`, only `rules` count (see rulesRBAC).
// Otherwise each client gets the action of the last `from` item that selects it, in policy
// order (least specific policy first); clients no item allows are denied, and so is everyone
// on an inbound no policy selects. The error can only be a marshalling error (invalid UTF-8
// in a name).
func InboundRBAC(mesh Mesh, dp Dataplane, in *core.Inbound, perms []Permission) (*RBAC, error) {
	if !mesh.MTLSEnabled() {
		return nil, nil
	}
	selected := selectPermissions(dp, in, perms)
	if r, err := rulesRBAC(mesh.Name, selected); r != nil || err != nil {
		return r, err
	}
	return fromRBAC(mesh.Name, selected), nil
}

// fromRBAC is Kuma's LegacyRBACConfigurer: an ALLOW policy listing the principals whose final
// action is Allow or AllowWithShadowDeny, and shadow rules that would DENY the latter. No
// principal means an empty ALLOW policy set, which denies everything.
func fromRBAC(mesh string, selected []Permission) *RBAC {
	var items []fromItem
	for _, p := range selected {
		for _, f := range p.Spec.GetFrom() {
			if f.Default.Action == nil {
				continue // an item without action overrides nothing (Kuma's merge)
			}
			items = append(items, fromItem{tags: subsetTags(f.TargetRef), action: *f.Default.Action})
		}
	}
	isAllow := func(a meshtrafficpermission.Action) bool { return a == meshtrafficpermission.Allow }
	isShadow := func(a meshtrafficpermission.Action) bool { return a == meshtrafficpermission.AllowWithShadowDeny }
	allowed := func(a meshtrafficpermission.Action) bool { return isAllow(a) || isShadow(a) }

	r := &RBAC{Rules: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{}}}
	// Principals of plain Allow first, then of AllowWithShadowDeny, as Kuma lists them.
	principals := append(principalsFor(mesh, items, allowed, isAllow), principalsFor(mesh, items, allowed, isShadow)...)
	if len(principals) > 0 {
		r.Rules.Policies[rbacPolicyName] = anyPermissionPolicy(principals)
	}
	if denied := principalsFor(mesh, items, isShadow, isShadow); len(denied) > 0 {
		r.ShadowRules = &rbacv3.RBAC{Action: rbacv3.RBAC_DENY, Policies: map[string]*rbacv3.Policy{
			rbacPolicyName: anyPermissionPolicy(denied),
		}}
	}
	return r
}

// fromItem is one `from` entry: the client tags it selects and its action.
type fromItem struct {
	tags   map[string]string
	action meshtrafficpermission.Action
}

// subsetTags is the tag set a `from` targetRef selects (Kuma's asSubset); empty for Mesh,
// which selects every client. Other kinds cannot appear in `from` (validation rejects them).
func subsetTags(ref targetref.TargetRef) map[string]string {
	tags := map[string]string{}
	switch ref.Kind {
	case targetref.MeshService, targetref.MeshServiceSubset:
		tags[resources.TagService] = ref.GetName()
	}
	switch ref.Kind {
	case targetref.MeshSubset, targetref.MeshServiceSubset:
		for k, v := range ref.GetTags() {
			tags[k] = v
		}
	}
	return tags
}

// principalsFor returns the principals of clients whose final action is in class: for every
// item i whose action is emitted, "matches i and no later item with an action outside class".
// A client matching i gets the action of the last item it matches, which is i or a later one
// in class, so the union over i is exactly the set of clients with a final action in class.
// Later items that cannot overlap i (a tag with another value) are left out, and items
// entirely overridden by a later one are dropped, which keeps common cases as Kuma writes
// them (allow-all then deny one service gives not_id(that service)).
func principalsFor(mesh string, items []fromItem, class, emit func(meshtrafficpermission.Action) bool) []*rbacv3.Principal {
	var out []*rbacv3.Principal
	for i, it := range items {
		if !emit(it.action) {
			continue
		}
		ids := tagPrincipals(mesh, it.tags)
		covered := false
		for _, later := range items[i+1:] {
			if class(later.action) || disjoint(it.tags, later.tags) {
				continue
			}
			if tagsMatch(later.tags, it.tags) { // every client of i matches later
				covered = true
				break
			}
			ids = append(ids, &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: andPrincipal(tagPrincipals(mesh, later.tags))}})
		}
		if covered {
			continue
		}
		p := andPrincipal(ids)
		if !containsPrincipal(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// disjoint reports whether no client can match both tag sets.
func disjoint(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return true
		}
	}
	return false
}

// tagPrincipals maps client tags to the URI SANs of Kuma's builtin CA certificates:
// kuma.io/service to spiffe://<mesh>/<service>, every other tag to kuma://<tag>/<value>.
func tagPrincipals(mesh string, tags map[string]string) []*rbacv3.Principal {
	out := make([]*rbacv3.Principal, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		name := kumaID(k, tags[k])
		if k == resources.TagService {
			name = ServiceSpiffeID(mesh, tags[k])
		}
		out = append(out, &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{
			Authenticated: &rbacv3.Principal_Authenticated{PrincipalName: &typematcherv3.StringMatcher{
				MatchPattern: &typematcherv3.StringMatcher_Exact{Exact: name},
			}},
		}})
	}
	return out
}

// andPrincipal is any for no ids, the id itself for one, and_ids otherwise.
func andPrincipal(ids []*rbacv3.Principal) *rbacv3.Principal {
	switch len(ids) {
	case 0:
		return &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}
	case 1:
		return ids[0]
	default:
		return &rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ids}}}
	}
}

func anyPermissionPolicy(principals []*rbacv3.Principal) *rbacv3.Policy {
	return &rbacv3.Policy{
		Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
		Principals:  principals,
	}
}

func containsPrincipal(list []*rbacv3.Principal, p *rbacv3.Principal) bool {
	for _, q := range list {
		if proto.Equal(p, q) {
			return true
		}
	}
	return false
}

// NetworkFilter is the RBAC as an envoy.filters.network.rbac filter, for tcp_proxy filter
// chains; it must come first in the chain. Its stats are under "<statsName>." (Kuma uses the
// sanitized listener name).
func (r *RBAC) NetworkFilter(statsName string) (*listenerv3.Filter, error) {
	var p packer
	f := r.networkFilter(&p, statsName)
	return f, p.err
}

// HTTPFilter is the RBAC as an envoy.filters.http.rbac filter, which Kuma puts first in the
// HttpConnectionManager for better stats.
func (r *RBAC) HTTPFilter() (*hcmv3.HttpFilter, error) {
	var p packer
	f := r.httpFilter(&p)
	return f, p.err
}

func (r *RBAC) networkFilter(p *packer, statsName string) *listenerv3.Filter {
	return &listenerv3.Filter{
		Name: wellknown.RoleBasedAccessControl,
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: p.pack(&netrbacv3.RBAC{
			StatPrefix:    SanitizeMetric(statsName) + ".",
			Rules:         r.Rules,
			ShadowRules:   r.ShadowRules,
			Matcher:       r.Matcher,
			ShadowMatcher: r.ShadowMatcher,
		})},
	}
}

func (r *RBAC) httpFilter(p *packer) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name: wellknown.HTTPRoleBasedAccessControl,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: p.pack(&httprbacv3.RBAC{
			Rules:         r.Rules,
			ShadowRules:   r.ShadowRules,
			Matcher:       r.Matcher,
			ShadowMatcher: r.ShadowMatcher,
		})},
	}
}
