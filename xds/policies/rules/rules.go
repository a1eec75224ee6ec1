package rules

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Policy is one policy of a type as the framework sees it: meta, top-level targetRef and its
// items, with confs of type C. Each policy folder converts its Spec to this.
type Policy[C any] struct {
	Meta      resources.Meta
	TargetRef *targetref.TargetRef
	To        []Item[C]
	From      []Item[C]
	Rules     []RuleItem[C]
}

// Item is one entry of a policy's "to" or "from" list, in Kuma's JSON shape, so that policy
// types whose items are just a target and a conf use it as their own To and From.
type Item[C any] struct {
	TargetRef targetref.TargetRef `json:"targetRef"`
	Default   C                   `json:"default"`
}

// RuleItem is one entry of a policy's 2.14 "rules" list: a conf for inbound traffic, limited to
// clients the matches select (none: all clients).
type RuleItem[C any] struct {
	Matches []targetref.Match
	Default C
}

// Options says how a policy type uses its items.
type Options struct {
	// FromAsRules makes "from" items count as inbound rules without matches (Kuma's
	// is_from_as_rules, set on MeshTimeout, MeshRateLimit, MeshFaultInjection, ...).
	FromAsRules bool
}

// Origin is the item of a policy that contributed to a rule.
type Origin struct {
	Policy resources.Meta
	// Index of the item in the policy's to, from or rules list.
	Index int
}

// Tag is one condition of a Subset.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Not   bool   `json:"not"`
}

// Subset is the group of destinations (to rules) or clients (from rules) a rule covers, as a
// conjunction of tags; empty means everything.
type Subset []Tag

// Contains is Kuma's ContainsElement for subsets without negations: every tag of the subset
// is among the element's tags.
func (s Subset) Contains(element map[string]string) bool {
	for _, t := range s {
		v, ok := element[t.Key]
		if t.Not == (ok && v == t.Value) {
			return false
		}
	}
	return true
}

// within reports whether every tag of s is in other (s selects at least what other selects).
func (s Subset) within(other Subset) bool {
	for _, t := range s {
		if !slices.Contains(other, t) {
			return false
		}
	}
	return true
}

// Rule is the merged conf for one subset, with the items it came from in merge order.
type Rule[C any] struct {
	Subset  Subset
	Conf    C
	Origins []Origin
}

// InboundRule is one entry of 2.14's inbound rules: a conf for the clients Match selects (nil:
// every client), not yet merged with the others.
type InboundRule[C any] struct {
	Match  *targetref.Match
	Conf   C
	Origin Origin
}

// Result is what policies of one type mean for one proxy.
type Result[C any] struct {
	// Policies selects the proxy (any of its inbounds), least specific first.
	Policies []resources.Meta
	// To are the outbound rules, most specific subset first; see ToRule.
	To []Rule[C]
	// ByInbound lists, per inbound, the policies selecting it, least specific first.
	ByInbound map[Inbound][]resources.Meta
	// From are the rules built from "from" items per inbound; see FromRule.
	From map[Inbound][]Rule[C]
	// InboundRules are 2.14's inbound rules per inbound, most specific match first.
	InboundRules map[Inbound][]InboundRule[C]
}

// Compute matches policies against dp and builds its rules. The order of policies does not
// matter: they are sorted with Compare.
func Compute[C any](dp Dataplane, policies []Policy[C], opts Options) (*Result[C], error) {
	res := &Result[C]{ByInbound: map[Inbound][]resources.Meta{}, From: map[Inbound][]Rule[C]{},
		InboundRules: map[Inbound][]InboundRule[C]{}}
	if dp.Spec == nil || dp.Spec.Networking == nil {
		return res, nil
	}
	sorted := slices.Clone(policies)
	slices.SortStableFunc(sorted, func(a, b Policy[C]) int { return Compare(a.Meta, a.TargetRef, b.Meta, b.TargetRef) })
	n := dp.Spec.Networking
	byInbound := map[Inbound][]Policy[C]{}
	var inbounds []Inbound
	var matched []Policy[C]
	for _, p := range sorted {
		selected := false
		for i := range n.Inbound {
			in := &n.Inbound[i]
			if !SelectsInbound(p.Meta, p.TargetRef, dp, in) {
				continue
			}
			selected = true
			key := InboundOf(n, in)
			if _, seen := byInbound[key]; !seen {
				inbounds = append(inbounds, key)
			}
			byInbound[key] = append(byInbound[key], p)
		}
		if selected {
			matched = append(matched, p)
			res.Policies = append(res.Policies, p.Meta)
		}
	}
	var err error
	if res.To, err = buildRules(toItems(matched)); err != nil {
		return nil, fmt.Errorf("to rules: %w", err)
	}
	for _, in := range inbounds {
		ps := byInbound[in]
		for _, p := range ps {
			res.ByInbound[in] = append(res.ByInbound[in], p.Meta)
		}
		if res.From[in], err = buildRules(fromItems(ps)); err != nil {
			return nil, fmt.Errorf("from rules of %s:%d: %w", in.Address, in.Port, err)
		}
		res.InboundRules[in] = inboundRules(ps, opts)
	}
	return res, nil
}

type itemWithOrigin[C any] struct {
	subset Subset
	conf   C
	origin Origin
}

// toItems lists the "to" items that legacy (kuma.io/service) outbounds can use. Like Kuma,
// a policy with a MeshHTTPRoute item is left out (its confs apply per route, which only
// MeshHTTPRoute-aware configurers read), and items naming real resources (MeshExternalService,
// MeshMultiZoneService) do not apply to tag-based outbounds.
func toItems[C any](ps []Policy[C]) []itemWithOrigin[C] {
	var out []itemWithOrigin[C]
	for _, p := range ps {
		if slices.ContainsFunc(p.To, func(it Item[C]) bool { return it.TargetRef.Kind == targetref.MeshHTTPRoute }) {
			continue
		}
		out = append(out, subsetItems(p, p.To)...)
	}
	return out
}

func fromItems[C any](ps []Policy[C]) []itemWithOrigin[C] {
	var out []itemWithOrigin[C]
	for _, p := range ps {
		out = append(out, subsetItems(p, p.From)...)
	}
	return out
}

func subsetItems[C any](p Policy[C], items []Item[C]) []itemWithOrigin[C] {
	var out []itemWithOrigin[C]
	for i, it := range items {
		ss, ok := asSubset(it.TargetRef)
		if !ok {
			continue
		}
		out = append(out, itemWithOrigin[C]{subset: ss, conf: it.Default, origin: Origin{Policy: p.Meta, Index: i}})
	}
	return out
}

// asSubset is the tag form of the targetRef kinds that select by tags.
func asSubset(ref targetref.TargetRef) (Subset, bool) {
	var tags map[string]string
	switch ref.Kind {
	case targetref.Mesh:
	case targetref.MeshSubset:
		tags = ref.GetTags()
	case targetref.MeshService, targetref.MeshServiceSubset:
		tags = map[string]string{resources.TagService: ref.GetName()}
		if ref.Kind == targetref.MeshServiceSubset {
			maps.Copy(tags, ref.GetTags())
		}
	default:
		return nil, false
	}
	ss := Subset{}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		ss = append(ss, Tag{Key: k, Value: tags[k]})
	}
	return ss, true
}

// buildRules makes one rule per distinct subset the items name, merging the confs of every
// item whose subset covers it, in item order; rules with more tags come first, so the first
// rule that contains an element is the most specific one for it. This is Kuma's BuildRules
// for lists without negations, which is what to-lists (Mesh, MeshService) and Mesh-only
// from-lists give. MeshSubset items with several keys in one list would need Kuma's negated
// subsets to describe clients that match some but not all tags; for destinations and for
// lookups by a known element the result here is the same.
func buildRules[C any](items []itemWithOrigin[C]) ([]Rule[C], error) {
	var subsets []Subset
	for _, it := range items {
		if !slices.ContainsFunc(subsets, func(s Subset) bool { return slices.Equal(s, it.subset) }) {
			subsets = append(subsets, it.subset)
		}
	}
	var out []Rule[C]
	for _, ss := range subsets {
		var confs []C
		var origins []Origin
		for _, it := range items {
			if it.subset.within(ss) {
				confs = append(confs, it.conf)
				origins = append(origins, it.origin)
			}
		}
		conf, err := Merge(confs)
		if err != nil {
			return nil, err
		}
		out = append(out, Rule[C]{Subset: ss, Conf: conf, Origins: origins})
	}
	slices.SortStableFunc(out, func(a, b Rule[C]) int { return cmp.Compare(len(b.Subset), len(a.Subset)) })
	return out, nil
}

// ComputeRule returns the first (most specific) rule containing element.
func ComputeRule[C any](rules []Rule[C], element map[string]string) (Rule[C], bool) {
	for _, r := range rules {
		if r.Subset.Contains(element) {
			return r, true
		}
	}
	return Rule[C]{}, false
}

// ToRule is the rule for an outbound to a kuma.io/service.
func (r *Result[C]) ToRule(service string) (Rule[C], bool) {
	return ComputeRule(r.To, map[string]string{resources.TagService: service})
}

// FromRule is the rule of an inbound for all clients (Kuma's MeshElement).
func (r *Result[C]) FromRule(in Inbound) (Rule[C], bool) {
	return ComputeRule(r.From[in], map[string]string{})
}

// CatchAll merges an inbound's rules without a match (Kuma's MatchesAllIncomingTraffic); ok
// is false when there are none. Policies apply their inbound defaults only then, or when an
// inbound has no rules at all.
func (r *Result[C]) CatchAll(in Inbound) (conf C, origins []Origin, ok bool, err error) {
	var confs []C
	for _, ir := range r.InboundRules[in] {
		if ir.Match == nil {
			confs = append(confs, ir.Conf)
			origins = append(origins, ir.Origin)
		}
	}
	if len(confs) == 0 {
		return conf, nil, false, nil
	}
	conf, err = Merge(confs)
	return conf, origins, err == nil, err
}

// inboundRules is Kuma's inbound.BuildRules: a policy's rules entries, or (FromAsRules) its
// from entries as match-less rules, one rule per match, stably sorted so that rules with a
// SPIFFE ID match (Exact before Prefix), then an SNI match, come before catch-all ones.
func inboundRules[C any](ps []Policy[C], opts Options) []InboundRule[C] {
	var out []InboundRule[C]
	for _, p := range ps {
		switch {
		case len(p.Rules) > 0:
			for i, r := range p.Rules {
				o := Origin{Policy: p.Meta, Index: i}
				if len(r.Matches) == 0 {
					out = append(out, InboundRule[C]{Conf: r.Default, Origin: o})
				}
				for k := range r.Matches {
					out = append(out, InboundRule[C]{Match: &r.Matches[k], Conf: r.Default, Origin: o})
				}
			}
		case opts.FromAsRules:
			for i, f := range p.From {
				out = append(out, InboundRule[C]{Conf: f.Default, Origin: Origin{Policy: p.Meta, Index: i}})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b InboundRule[C]) int { return compareMatch(a.Match, b.Match) })
	return out
}

func compareMatch(a, b *targetref.Match) int {
	var ma, mb targetref.Match
	if a != nil {
		ma = *a
	}
	if b != nil {
		mb = *b
	}
	spiffeScore := func(m *targetref.SpiffeIDMatch) int {
		switch {
		case m == nil:
			return 0
		case m.Type == targetref.SpiffeIDExact:
			return 3
		case m.Type == targetref.SpiffeIDPrefix:
			return 2
		default:
			return 1
		}
	}
	sniScore := func(m *targetref.SNIMatch) int {
		if m == nil {
			return 0
		}
		return 1
	}
	return cmp.Or(cmp.Compare(spiffeScore(mb.SpiffeID), spiffeScore(ma.SpiffeID)), cmp.Compare(sniScore(mb.SNI), sniScore(ma.SNI)))
}

// View is a Result with its confs as plain values (what they encode to in JSON), so that
// results of every policy type can be listed together, as the inspect API does.
type View struct {
	Type         string
	Policies     []resources.Meta
	To           []Rule[any]
	ByInbound    map[Inbound][]resources.Meta
	From         map[Inbound][]Rule[any]
	InboundRules map[Inbound][]InboundRule[any]
	// CatchAll is the merged conf of each inbound's match-less rules (see Result.CatchAll).
	CatchAll map[Inbound]Rule[any]
}

// View erases the conf type of r.
func (r *Result[C]) View(typ string) (View, error) {
	v := View{Type: typ, Policies: r.Policies, ByInbound: r.ByInbound, From: map[Inbound][]Rule[any]{},
		InboundRules: map[Inbound][]InboundRule[any]{}, CatchAll: map[Inbound]Rule[any]{}}
	for _, x := range r.To {
		v.To = append(v.To, Rule[any]{Subset: x.Subset, Conf: x.Conf, Origins: x.Origins})
	}
	for in, rs := range r.From {
		for _, x := range rs {
			v.From[in] = append(v.From[in], Rule[any]{Subset: x.Subset, Conf: x.Conf, Origins: x.Origins})
		}
	}
	for in, rs := range r.InboundRules {
		for _, x := range rs {
			v.InboundRules[in] = append(v.InboundRules[in], InboundRule[any]{Match: x.Match, Conf: x.Conf, Origin: x.Origin})
		}
		conf, origins, ok, err := r.CatchAll(in)
		if err != nil {
			return View{}, err
		}
		if ok {
			v.CatchAll[in] = Rule[any]{Conf: conf, Origins: origins}
		}
	}
	return v, nil
}
