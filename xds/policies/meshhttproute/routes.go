package meshhttproute

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshretry"
)

// Backend is a destination of routes in tag form: kuma.io/service plus subset tags. The
// generator creates an EDS cluster (and load assignment) for each.
type Backend struct {
	Tags map[string]string
}

// Service is the backend's kuma.io/service.
func (b Backend) Service() string { return b.Tags[resources.TagService] }

// Routes is the outcome of BuildRoutes.
type Routes struct {
	Routes []*routev3.Route
	// Backends are every backend the routes (and their mirrors) send to, the default
	// backend included, each once.
	Backends []Backend
}

var catchAll = Match{Path: &PathMatch{Value: "/", Type: PathPrefix}}

// HashMatches names a rule's routes as Kuma does: base64 of the sha256 of the matches' JSON.
func HashMatches(ms []Match) string {
	b, _ := json.Marshal(ms) // plain structs of strings: cannot fail
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// route is one match of one rule, before it becomes Envoy routes.
type route struct {
	name     string
	match    Match
	filters  []Filter
	backends []weighted
}

type weighted = WeightedBackend

// WeightedBackend is a backend and its share of traffic.
type WeightedBackend struct {
	backend Backend
	weight  uint32
}

// Backend returns the backend.
func (w WeightedBackend) Backend() Backend { return w.backend }

// Weight returns the weight.
func (w WeightedBackend) Weight() uint32 { return w.weight }

// BuildRoutes turns the merged conf of an outbound (nil: no MeshHTTPRoute) into Envoy
// routes, Kuma's way: one route per match of every rule, sorted by Gateway API precedence
// (exact path, longer prefix, method, more headers, more query parameters), then a catch-all
// route to the default backend unless a rule already matches every path. Backend refs that
// name real resources (MeshService objects, MeshExternalService, MeshMultiZoneService) do
// not apply to tag-based outbounds and are dropped; a route left without backends goes to
// the default backend. clusterName names the cluster of a backend.
func BuildRoutes(conf *Conf, def Backend, clusterName func(tags map[string]string) string) (Routes, error) {
	var rs []route
	if conf != nil {
		for _, rule := range conf.Rules {
			backends := ResolveBackends(deref(rule.Default.BackendRefs))
			name := HashMatches(rule.Matches)
			matches := rule.Matches
			if len(matches) == 0 {
				// A rule without matches has no routes in Kuma either.
				continue
			}
			for _, m := range matches {
				rs = append(rs, route{name: name, match: m, filters: deref(rule.Default.Filters), backends: backends})
			}
		}
	}
	slices.SortStableFunc(rs, func(a, b route) int { return compareMatch(a.match, b.match) })
	if !slices.ContainsFunc(rs, func(r route) bool { return reflect.DeepEqual(r.match, catchAll) }) {
		rs = append(rs, route{name: HashMatches([]Match{catchAll}), match: catchAll})
	}
	out := Routes{}
	seen := map[string]bool{}
	use := func(b Backend) string {
		name := clusterName(b.Tags)
		if !seen[name] {
			seen[name] = true
			out.Backends = append(out.Backends, b)
		}
		return name
	}
	use(def)
	for _, r := range rs {
		if r.match.Path == nil {
			r.match.Path = catchAll.Path
		}
		if len(r.backends) == 0 {
			r.backends = []weighted{{backend: def, weight: 1}}
		}
		envoyRoutes, err := r.envoy(use)
		if err != nil {
			return Routes{}, err
		}
		out.Routes = append(out.Routes, envoyRoutes...)
	}
	return out, nil
}

// ResolveBackends keeps the refs that name kuma.io/service values (MeshService by name,
// MeshServiceSubset), in tag form with their weights. Refs to real resources (MeshService
// objects by section or port, MeshExternalService, MeshMultiZoneService) do not apply to
// tag-based outbounds and are dropped (MeshTCPRoute uses this too).
func ResolveBackends(refs []targetref.BackendRef) []WeightedBackend {
	var out []weighted
	for _, ref := range refs {
		if ref.ReferencesRealObject() || (ref.Kind != targetref.MeshService && ref.Kind != targetref.MeshServiceSubset) {
			continue
		}
		tags := map[string]string{resources.TagService: ref.GetName()}
		if ref.Kind == targetref.MeshServiceSubset {
			maps.Copy(tags, ref.GetTags())
		}
		w := ref.GetWeight()
		if w > math.MaxUint32 {
			w = math.MaxUint32
		}
		out = append(out, weighted{backend: Backend{Tags: tags}, weight: uint32(w)})
	}
	return out
}

// envoy builds the Envoy routes of one match: a path prefix other than "/" becomes two (the
// exact path and the path followed by "/"), which gives Gateway API's "/-separated prefix"
// semantics and keeps prefix rewrites correct.
func (r route) envoy(use func(Backend) string) ([]*routev3.Route, error) {
	var out []*routev3.Route
	for _, pm := range pathMatches(*r.match.Path) {
		er := &routev3.Route{Name: r.name, Match: pm}
		if r.match.Method != nil {
			pm.Headers = append(pm.Headers, meshretry.HeaderMatcher(targetref.HeaderMatch{Name: ":method", Value: targetref.HeaderValue(*r.match.Method)}))
		}
		queryMatches(pm, deref(r.match.QueryParams))
		headerMatches(pm, deref(r.match.Headers))
		action := &routev3.RouteAction{Timeout: durationpb.New(0)}
		if len(r.backends) == 1 {
			action.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: use(r.backends[0].backend)}
		} else {
			wc := &routev3.WeightedCluster{}
			for _, b := range r.backends {
				wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: use(b.backend), Weight: wrapperspb.UInt32(b.weight)})
			}
			action.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
		}
		er.Action = &routev3.Route_Route{Route: action}
		prefix := r.match.Path.Type == PathPrefix
		for _, f := range r.filters {
			if err := applyFilter(er, action, f, prefix, use); err != nil {
				return nil, fmt.Errorf("route %s: %w", r.name, err)
			}
		}
		out = append(out, er)
	}
	return out, nil
}

func pathMatches(p PathMatch) []*routev3.RouteMatch {
	switch p.Type {
	case Exact:
		return []*routev3.RouteMatch{{PathSpecifier: &routev3.RouteMatch_Path{Path: p.Value}}}
	case RegularExpression:
		return []*routev3.RouteMatch{{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: p.Value}}}}
	default:
		if p.Value == "/" {
			return []*routev3.RouteMatch{{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}}
		}
		trimmed := strings.TrimSuffix(p.Value, "/")
		return []*routev3.RouteMatch{
			{PathSpecifier: &routev3.RouteMatch_Path{Path: trimmed}},
			{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: trimmed + "/"}},
		}
	}
}

// queryMatches adds the query parameter matches; a repeated name keeps its first match.
func queryMatches(m *routev3.RouteMatch, qs []QueryParamsMatch) {
	seen := map[string]bool{}
	for _, q := range qs {
		if seen[q.Name] {
			continue
		}
		seen[q.Name] = true
		sm := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: q.Value}}
		if q.Type == RegularExpressionQueryMatch {
			sm = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: q.Value}}}
		}
		m.QueryParameters = append(m.QueryParameters, &routev3.QueryParameterMatcher{Name: q.Name,
			QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: sm}})
	}
}

// headerMatches adds the header matches; a repeated name keeps its first match, and an empty
// prefix (which Envoy rejects) means "present".
func headerMatches(m *routev3.RouteMatch, hs []targetref.HeaderMatch) {
	seen := map[targetref.HeaderName]bool{}
	for _, h := range hs {
		if seen[h.Name] {
			continue
		}
		seen[h.Name] = true
		if h.GetType() == targetref.HeaderMatchPrefix && h.Value == "" {
			h.Type = targetref.Ptr(targetref.HeaderMatchPresent)
		}
		m.Headers = append(m.Headers, meshretry.HeaderMatcher(h))
	}
}

func applyFilter(er *routev3.Route, action *routev3.RouteAction, f Filter, prefix bool, use func(Backend) string) error {
	switch f.Type {
	case RequestHeaderModifierType:
		if m := f.RequestHeaderModifier; m != nil {
			add, remove := headerOptions(*m)
			er.RequestHeadersToAdd = append(er.RequestHeadersToAdd, add...)
			er.RequestHeadersToRemove = append(er.RequestHeadersToRemove, remove...)
		}
	case ResponseHeaderModifierType:
		if m := f.ResponseHeaderModifier; m != nil {
			add, remove := headerOptions(*m)
			er.ResponseHeadersToAdd = append(er.ResponseHeadersToAdd, add...)
			er.ResponseHeadersToRemove = append(er.ResponseHeadersToRemove, remove...)
		}
	case RequestRedirectType:
		if r := f.RequestRedirect; r != nil {
			er.Action = &routev3.Route_Redirect{Redirect: redirect(*r, er.Match, prefix)}
		}
	case URLRewriteType:
		if r := f.URLRewrite; r != nil {
			if r.Hostname != nil {
				action.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: string(*r.Hostname)}
			}
			if p := r.Path; p != nil {
				switch {
				case p.Type == ReplaceFullPathType && p.ReplaceFullPath != nil:
					action.RegexRewrite = fullRewrite(*p.ReplaceFullPath)
				case p.Type == ReplacePrefixMatchType && p.ReplacePrefixMatch != nil && prefix && er.Match.GetPath() != "":
					action.RegexRewrite = fullRewrite(*p.ReplacePrefixMatch)
				case p.Type == ReplacePrefixMatchType && p.ReplacePrefixMatch != nil && prefix && er.Match.GetPrefix() != "":
					action.PrefixRewrite = *p.ReplacePrefixMatch
				}
			}
		}
	case RequestMirrorType:
		if m := f.RequestMirror; m != nil {
			return mirror(action, *m, use)
		}
	}
	return nil
}

func headerOptions(m HeaderModifier) ([]*corev3.HeaderValueOption, []string) {
	var out []*corev3.HeaderValueOption
	for _, h := range deref(m.Set) {
		out = append(out, &corev3.HeaderValueOption{AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			Header: &corev3.HeaderValue{Key: string(h.Name), Value: string(h.Value)}})
	}
	for _, h := range deref(m.Add) {
		out = append(out, &corev3.HeaderValueOption{AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
			Header: &corev3.HeaderValue{Key: string(h.Name), Value: string(h.Value)}})
	}
	return out, deref(m.Remove)
}

func fullRewrite(s string) *matcherv3.RegexMatchAndSubstitute {
	return &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: ".*"}, Substitution: s}
}

var redirectCodesEnvoy = map[int]routev3.RedirectAction_RedirectResponseCode{
	0: routev3.RedirectAction_FOUND, 301: routev3.RedirectAction_MOVED_PERMANENTLY, 302: routev3.RedirectAction_FOUND,
	303: routev3.RedirectAction_SEE_OTHER, 307: routev3.RedirectAction_TEMPORARY_REDIRECT, 308: routev3.RedirectAction_PERMANENT_REDIRECT,
}

func redirect(r RequestRedirect, m *routev3.RouteMatch, prefix bool) *routev3.RedirectAction {
	out := &routev3.RedirectAction{ResponseCode: redirectCodesEnvoy[r.StatusCode]}
	if r.Hostname != nil {
		out.HostRedirect = string(*r.Hostname)
	}
	if r.Port != nil {
		out.PortRedirect = uint32(*r.Port)
	}
	if r.Scheme != nil {
		out.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: *r.Scheme}
	}
	if p := r.Path; p != nil {
		switch {
		case p.Type == ReplaceFullPathType && p.ReplaceFullPath != nil:
			out.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: fullRewrite(*p.ReplaceFullPath)}
		case p.Type == ReplacePrefixMatchType && p.ReplacePrefixMatch != nil && prefix && m.GetPath() != "":
			out.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: fullRewrite(*p.ReplacePrefixMatch)}
		case p.Type == ReplacePrefixMatchType && p.ReplacePrefixMatch != nil && prefix && m.GetPrefix() != "":
			out.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: *p.ReplacePrefixMatch}
		}
	}
	return out
}

func mirror(action *routev3.RouteAction, m RequestMirror, use func(Backend) string) error {
	bs := ResolveBackends([]targetref.BackendRef{m.BackendRef})
	if len(bs) == 0 {
		return nil // a real resource: not for tag-based outbounds
	}
	p := &routev3.RouteAction_RequestMirrorPolicy{Cluster: use(bs[0].backend)}
	if m.Percentage != nil {
		f, err := m.Percentage.Float()
		if err != nil {
			return err
		}
		p.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: fraction(f)}
	}
	action.RequestMirrorPolicies = append(action.RequestMirrorPolicies, p)
	return nil
}

// fraction writes a percentage with the smallest denominator that holds it exactly (up to
// four decimals), as Kuma's ConvertPercentage does.
func fraction(pct float64) *typev3.FractionalPercent {
	switch {
	case pct == math.Trunc(pct):
		return &typev3.FractionalPercent{Numerator: uint32(pct), Denominator: typev3.FractionalPercent_HUNDRED}
	case pct*100 == math.Trunc(pct*100):
		return &typev3.FractionalPercent{Numerator: uint32(pct * 100), Denominator: typev3.FractionalPercent_TEN_THOUSAND}
	default:
		return &typev3.FractionalPercent{Numerator: uint32(math.Round(pct * 10000)), Denominator: typev3.FractionalPercent_MILLION}
	}
}

// compareMatch orders matches by Gateway API precedence (Kuma's CompareMatch): a path match
// first (exact, then the longest prefix, then the longest regex), then a method, then more
// headers, then more query parameters.
func compareMatch(a, b Match) int {
	return cmp.Or(comparePath(a.Path, b.Path), presence(a.Method != nil, b.Method != nil),
		cmp.Compare(len(deref(b.Headers)), len(deref(a.Headers))),
		cmp.Compare(len(deref(b.QueryParams)), len(deref(a.QueryParams))))
}

func presence(a, b bool) int {
	switch {
	case a && !b:
		return -1
	case !a && b:
		return 1
	}
	return 0
}

func comparePath(a, b *PathMatch) int {
	if c := presence(a != nil, b != nil); c != 0 || a == nil {
		return c
	}
	rank := map[PathMatchType]int{Exact: 0, PathPrefix: 1, RegularExpression: 2}
	if a.Type != b.Type {
		return cmp.Compare(rank[a.Type], rank[b.Type])
	}
	if a.Type == Exact {
		return 0
	}
	return cmp.Compare(len(b.Value), len(a.Value))
}
