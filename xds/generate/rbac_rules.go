package generate

import (
	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	matcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	netinputsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/matching/common_inputs/network/v3"
	sslinputsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/matching/common_inputs/ssl/v3"

	"google.golang.org/protobuf/proto"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// rulesRBAC is Kuma's RBACConfigurer for policies with `rules`: a matcher that denies on any
// deny match (of any policy), then allows on any allow match, and denies everything else
// ("default"); AllowWithShadowDeny matches also go to a shadow matcher that would deny them.
// Each action is named after the KRI of the policy it comes from. nil when no selected
// policy has rules.
func rulesRBAC(mesh string, selected []Permission) (*RBAC, error) {
	type rule struct {
		kri  string
		conf meshtrafficpermission.RuleConf
	}
	var rules []rule
	for _, p := range selected {
		meta := p.Meta
		if meta.Mesh == "" {
			meta.Mesh = mesh
		}
		kri := (&resources.Resource{Desc: meshtrafficpermission.Descriptor, Meta: meta}).KRI()
		for _, r := range p.Spec.GetRules() {
			rules = append(rules, rule{kri: kri, conf: r.Default})
		}
	}
	if len(rules) == 0 {
		return nil, nil
	}
	var pk packer
	var deny, allow, shadow []*matcherv3.Matcher_MatcherList_FieldMatcher
	for _, r := range rules {
		deny = appendFieldMatcher(&pk, deny, deref(r.conf.Deny), rbacv3.RBAC_DENY, r.kri)
	}
	for _, r := range rules {
		matches := append(append([]targetref.Match{}, deref(r.conf.Allow)...), deref(r.conf.AllowWithShadowDeny)...)
		allow = appendFieldMatcher(&pk, allow, matches, rbacv3.RBAC_ALLOW, r.kri)
		shadow = appendFieldMatcher(&pk, shadow, deref(r.conf.AllowWithShadowDeny), rbacv3.RBAC_DENY, r.kri)
	}
	out := &RBAC{Matcher: denyByDefault(&pk, append(deny, allow...))}
	if len(shadow) > 0 {
		out.ShadowMatcher = denyByDefault(&pk, shadow)
	}
	return out, pk.err
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

func denyByDefault(pk *packer, list []*matcherv3.Matcher_MatcherList_FieldMatcher) *matcherv3.Matcher {
	m := &matcherv3.Matcher{OnNoMatch: rbacAction(pk, rbacv3.RBAC_DENY, "default")}
	if len(list) > 0 {
		m.MatcherType = &matcherv3.Matcher_MatcherList_{MatcherList: &matcherv3.Matcher_MatcherList{Matchers: list}}
	}
	return m
}

// appendFieldMatcher adds one field matcher taking action when any of matches matches; a
// match with several conditions needs all of them. Nothing is added for no matches.
func appendFieldMatcher(pk *packer, list []*matcherv3.Matcher_MatcherList_FieldMatcher, matches []targetref.Match,
	action rbacv3.RBAC_Action, name string,
) []*matcherv3.Matcher_MatcherList_FieldMatcher {
	var anyOf []*matcherv3.Matcher_MatcherList_Predicate
	for _, m := range matches {
		var all []*matcherv3.Matcher_MatcherList_Predicate
		if m.SpiffeID != nil {
			sm := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: m.SpiffeID.Value}}
			if m.SpiffeID.Type == targetref.SpiffeIDPrefix {
				sm.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: m.SpiffeID.Value}
			}
			all = append(all, singlePredicate(pk, "envoy.matching.inputs.uri_san", &sslinputsv3.UriSanInput{}, sm))
		}
		if m.SNI != nil {
			sm := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: m.SNI.Value}}
			all = append(all, singlePredicate(pk, "envoy.matching.inputs.server_name", &netinputsv3.ServerNameInput{}, sm))
		}
		switch len(all) {
		case 0:
		case 1:
			anyOf = append(anyOf, all[0])
		default:
			anyOf = append(anyOf, &matcherv3.Matcher_MatcherList_Predicate{MatchType: &matcherv3.Matcher_MatcherList_Predicate_AndMatcher{
				AndMatcher: &matcherv3.Matcher_MatcherList_Predicate_PredicateList{Predicate: all},
			}})
		}
	}
	var predicate *matcherv3.Matcher_MatcherList_Predicate
	switch len(anyOf) {
	case 0:
		return list
	case 1:
		predicate = anyOf[0]
	default:
		predicate = &matcherv3.Matcher_MatcherList_Predicate{MatchType: &matcherv3.Matcher_MatcherList_Predicate_OrMatcher{
			OrMatcher: &matcherv3.Matcher_MatcherList_Predicate_PredicateList{Predicate: anyOf},
		}}
	}
	return append(list, &matcherv3.Matcher_MatcherList_FieldMatcher{Predicate: predicate, OnMatch: rbacAction(pk, action, name)})
}

func singlePredicate(pk *packer, inputName string, input proto.Message, sm *matcherv3.StringMatcher) *matcherv3.Matcher_MatcherList_Predicate {
	return &matcherv3.Matcher_MatcherList_Predicate{MatchType: &matcherv3.Matcher_MatcherList_Predicate_SinglePredicate_{
		SinglePredicate: &matcherv3.Matcher_MatcherList_Predicate_SinglePredicate{
			Input:   &xdscorev3.TypedExtensionConfig{Name: inputName, TypedConfig: pk.pack(input)},
			Matcher: &matcherv3.Matcher_MatcherList_Predicate_SinglePredicate_ValueMatch{ValueMatch: sm},
		},
	}}
}

func rbacAction(pk *packer, action rbacv3.RBAC_Action, name string) *matcherv3.Matcher_OnMatch {
	return &matcherv3.Matcher_OnMatch{OnMatch: &matcherv3.Matcher_OnMatch_Action{Action: &xdscorev3.TypedExtensionConfig{
		Name:        "envoy.filters.rbac.action",
		TypedConfig: pk.pack(&rbacv3.Action{Name: name, Action: action}),
	}}}
}
