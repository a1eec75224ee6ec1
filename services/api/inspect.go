package api

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Which policies apply to a dataplane is computed on request from the read model with the
// same matching code the xDS generator uses (xds/policies/rules), so what these endpoints
// show is what the proxy gets.

// inspected is a dataplane and what every policy type means for it.
type inspected struct {
	dp    *resources.Resource
	spec  *core.Dataplane
	views []rules.View
	descs map[string]*resources.Descriptor
}

// inspectDataplane loads a dataplane and matches the mesh's policies; it writes the error
// answer itself and returns false when there is nothing to show.
func (s *Server) inspectDataplane(w http.ResponseWriter, mesh, name string) (*inspected, bool) {
	view := s.mgr.View()
	e, ok := view.Get("Dataplane", mesh, name)
	if !ok {
		writeError(w, newError(http.StatusNotFound, "Could not retrieve a resource", "Not found"))
		return nil, false
	}
	spec, ok := e.Resource.Spec.(*core.Dataplane)
	if !ok || spec.Networking == nil {
		writeError(w, newError(http.StatusBadRequest, "Could not get MatchedPolicies", "dataplane has no networking"))
		return nil, false
	}
	descs := map[string]*resources.Descriptor{}
	list := func(typ string) []*resources.Resource {
		var out []*resources.Resource
		for _, p := range view.List(typ, state.Filter{Mesh: mesh}) {
			out = append(out, p.Resource)
			descs[typ] = p.Resource.Desc
		}
		return out
	}
	views, err := policies.Inspect(rules.Dataplane{Meta: e.Resource.Meta, Spec: spec}, list)
	if err != nil {
		s.log.Error("inspect dataplane failed", "mesh", mesh, "dataplane", name, "err", err)
		writeError(w, newError(http.StatusInternalServerError, "Could not get MatchedPolicies", err.Error()))
		return nil, false
	}
	return &inspected{dp: e.Resource, spec: spec, views: views, descs: descs}, true
}

// restMeta is the meta Kuma's inspect endpoints list per policy (v1alpha1.ResourceMeta).
type restMeta struct {
	Type             string            `json:"type"`
	Mesh             string            `json:"mesh"`
	Name             string            `json:"name"`
	CreationTime     time.Time         `json:"creationTime"`
	ModificationTime time.Time         `json:"modificationTime"`
	Labels           map[string]string `json:"labels,omitempty"`
}

// oapiMeta is the Meta schema of Kuma's OpenAPI spec (rules origins, the inspected resource).
type oapiMeta struct {
	Type   string            `json:"type"`
	Mesh   string            `json:"mesh"`
	Name   string            `json:"name"`
	KRI    string            `json:"kri,omitempty"`
	Labels map[string]string `json:"labels"`
}

func (in *inspected) oapiMeta(typ string, m resources.Meta) oapiMeta {
	labels := m.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	out := oapiMeta{Type: typ, Mesh: m.Mesh, Name: m.Name, Labels: labels}
	if d := in.descs[typ]; d != nil {
		out.KRI = (&resources.Resource{Desc: d, Meta: m}).KRI()
	}
	return out
}

// attachment is one entry of Kuma's DataplaneInspectEntryList.
type attachment struct {
	Type            string                `json:"type"`
	Name            string                `json:"name,omitempty"`
	Service         string                `json:"service,omitempty"`
	MatchedPolicies map[string][]restMeta `json:"matchedPolicies"`
}

type dataplaneInspectResponse struct {
	Kind  string       `json:"kind"`
	Total int          `json:"total"`
	Items []attachment `json:"items"`
}

// dataplanePolicies answers GET /meshes/{mesh}/dataplanes/{name}/policies, what kumactl 2.14's
// `inspect dataplane NAME` prints. Kuma lists targetRef policies only under the "dataplane"
// attachment; we also list, per inbound and per outbound, the policies whose rules apply
// there (kumactl prints those entries as it does for Kuma's legacy policies).
func (s *Server) dataplanePolicies(w http.ResponseWriter, mesh, name string) {
	in, ok := s.inspectDataplane(w, mesh, name)
	if !ok {
		return
	}
	n := in.spec.Networking
	byKey := map[string]*attachment{}
	var order []string
	add := func(typ, name, service, policyType string, metas ...resources.Meta) {
		key := typ + "\x00" + name
		a := byKey[key]
		if a == nil {
			a = &attachment{Type: typ, Name: name, Service: service, MatchedPolicies: map[string][]restMeta{}}
			byKey[key] = a
			order = append(order, key)
		}
		for _, m := range metas {
			if !slices.ContainsFunc(a.MatchedPolicies[policyType], func(x restMeta) bool { return x.Name == m.Name }) {
				a.MatchedPolicies[policyType] = append(a.MatchedPolicies[policyType], restMeta{Type: policyType,
					Mesh: m.Mesh, Name: m.Name, CreationTime: m.CreationTime, ModificationTime: m.ModificationTime, Labels: m.Labels})
			}
		}
	}
	for _, v := range in.views {
		add("dataplane", "", "", v.Type, v.Policies...)
		for i := range n.Inbound {
			ib := &n.Inbound[i]
			key := rules.InboundOf(n, ib)
			iface := n.InboundInterface(ib)
			label := iface.DataplaneIP + ":" + strconv.Itoa(int(iface.DataplanePort)) + ":" + strconv.Itoa(int(iface.WorkloadPort))
			if metas := inboundOrigins(v, key); len(metas) > 0 {
				add("inbound", label, ib.Service(), v.Type, metas...)
			}
		}
		for _, o := range n.Outbound {
			service := o.Tags[resources.TagService]
			if service == "" {
				continue
			}
			if r, ok := rules.ComputeRule(v.To, map[string]string{resources.TagService: service}); ok {
				add("outbound", outboundName(o), service, v.Type, originMetas(r.Origins)...)
			}
		}
	}
	resp := dataplaneInspectResponse{Kind: "SidecarDataplane", Items: []attachment{}}
	for _, k := range order {
		resp.Items = append(resp.Items, *byKey[k])
	}
	slices.SortStableFunc(resp.Items, func(a, b attachment) int {
		return cmp.Or(cmp.Compare(attachmentOrder(a.Type), attachmentOrder(b.Type)), cmp.Compare(a.Name, b.Name))
	})
	resp.Total = len(resp.Items)
	writeJSON(w, http.StatusOK, resp)
}

func attachmentOrder(t string) int {
	switch t {
	case "dataplane":
		return 0
	case "inbound":
		return 1
	default:
		return 2
	}
}

func outboundName(o core.Outbound) string {
	addr := o.Address
	if addr == "" {
		addr = "127.0.0.1"
	}
	return addr + ":" + strconv.Itoa(int(o.Port))
}

// inboundOrigins are the policies whose from rule for all clients or inbound rules apply to
// an inbound.
func inboundOrigins(v rules.View, key rules.Inbound) []resources.Meta {
	var out []resources.Meta
	if r, ok := rules.ComputeRule(v.From[key], map[string]string{}); ok {
		out = append(out, originMetas(r.Origins)...)
	}
	for _, r := range v.InboundRules[key] {
		out = append(out, r.Origin.Policy)
	}
	return out
}

func originMetas(os []rules.Origin) []resources.Meta {
	out := make([]resources.Meta, 0, len(os))
	for _, o := range os {
		out = append(out, o.Policy)
	}
	return out
}

// Kuma's InspectRules schema (api/openapi/specs), and jetmesh's additions: per inbound and per
// outbound, the merged conf that applies and where it came from.
type (
	ruleMatcher struct {
		Key   string `json:"key"`
		Value string `json:"value"`
		Not   bool   `json:"not"`
	}
	inspectRuleEntry struct {
		Matchers []ruleMatcher `json:"matchers"`
		Conf     any           `json:"conf"`
		Origin   []oapiMeta    `json:"origin"`
	}
	inboundRef struct {
		Name *string           `json:"name,omitempty"`
		Tags map[string]string `json:"tags"`
		Port int               `json:"port"`
	}
	fromRule struct {
		Inbound inboundRef         `json:"inbound"`
		Rules   []inspectRuleEntry `json:"rules"`
	}
	ruleOrigin struct {
		ResourceMeta oapiMeta `json:"resourceMeta"`
		RuleIndex    int      `json:"ruleIndex"`
	}
	inboundRule struct {
		Conf   []any            `json:"conf"`
		Match  *targetref.Match `json:"match,omitempty"`
		Origin []ruleOrigin     `json:"origin"`
	}
	inboundRulesEntry struct {
		Inbound inboundRef    `json:"inbound"`
		Rules   []inboundRule `json:"rules"`
	}
	// effective is jetmesh's addition: the conf one inbound or outbound ends up with.
	effective struct {
		Name    string       `json:"name"`
		Service string       `json:"service,omitempty"`
		Conf    any          `json:"conf"`
		Origin  []ruleOrigin `json:"origin"`
	}
	inspectRule struct {
		Type            string              `json:"type"`
		ToRules         []inspectRuleEntry  `json:"toRules"`
		ToResourceRules []any               `json:"toResourceRules"`
		FromRules       []fromRule          `json:"fromRules"`
		InboundRules    []inboundRulesEntry `json:"inboundRules"`
		Warnings        []string            `json:"warnings"`
		Inbounds        []effective         `json:"inbounds"`
		Outbounds       []effective         `json:"outbounds"`
	}
	inspectRulesResponse struct {
		Resource    oapiMeta      `json:"resource"`
		Rules       []inspectRule `json:"rules"`
		HTTPMatches []any         `json:"httpMatches"`
	}
)

// dataplaneRules answers GET /meshes/{mesh}/dataplanes/{name}/_rules in Kuma 2.x's shape,
// with "inbounds" and "outbounds" added to each type's entry.
func (s *Server) dataplaneRules(w http.ResponseWriter, mesh, name string) {
	in, ok := s.inspectDataplane(w, mesh, name)
	if !ok {
		return
	}
	resp := inspectRulesResponse{Resource: in.oapiMeta("Dataplane", in.dp.Meta), Rules: []inspectRule{}, HTTPMatches: []any{}}
	resp.Resource.KRI = in.dp.KRI()
	for _, v := range in.views {
		resp.Rules = append(resp.Rules, in.inspectRule(v))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (in *inspected) inspectRule(v rules.View) inspectRule {
	out := inspectRule{Type: v.Type, ToRules: []inspectRuleEntry{}, ToResourceRules: []any{}, FromRules: []fromRule{},
		InboundRules: []inboundRulesEntry{}, Warnings: []string{}, Inbounds: []effective{}, Outbounds: []effective{}}
	for _, r := range v.To {
		out.ToRules = append(out.ToRules, in.ruleEntry(v.Type, r))
	}
	n := in.spec.Networking
	for i := range n.Inbound {
		ib := &n.Inbound[i]
		key := rules.InboundOf(n, ib)
		ref := inboundRef{Tags: ib.Tags, Port: int(key.Port)}
		if ib.Name != "" {
			ref.Name = &ib.Name
		}
		if rs := v.From[key]; len(rs) > 0 {
			fr := fromRule{Inbound: ref}
			for _, r := range rs {
				fr.Rules = append(fr.Rules, in.ruleEntry(v.Type, r))
			}
			out.FromRules = append(out.FromRules, fr)
		}
		if rs := v.InboundRules[key]; len(rs) > 0 {
			e := inboundRulesEntry{Inbound: ref}
			for _, r := range rs {
				e.Rules = append(e.Rules, inboundRule{Conf: []any{r.Conf}, Match: r.Match, Origin: []ruleOrigin{in.origin(v.Type, r.Origin)}})
			}
			out.InboundRules = append(out.InboundRules, e)
		}
		if r, ok := in.inboundConf(v, key); ok {
			out.Inbounds = append(out.Inbounds, in.effective(v.Type, key.Address+":"+strconv.Itoa(int(key.Port)), ib.Service(), r))
		}
	}
	for _, o := range n.Outbound {
		service := o.Tags[resources.TagService]
		if r, ok := rules.ComputeRule(v.To, map[string]string{resources.TagService: service}); ok && service != "" {
			out.Outbounds = append(out.Outbounds, in.effective(v.Type, outboundName(o), service, r))
		}
	}
	slices.SortStableFunc(out.FromRules, func(a, b fromRule) int { return cmp.Compare(a.Inbound.Port, b.Inbound.Port) })
	slices.SortStableFunc(out.InboundRules, func(a, b inboundRulesEntry) int { return cmp.Compare(a.Inbound.Port, b.Inbound.Port) })
	return out
}

// inboundConf is what applies to all clients of an inbound: the merged match-less inbound
// rules when the type has them, else the from rule for the whole mesh.
func (in *inspected) inboundConf(v rules.View, key rules.Inbound) (rules.Rule[any], bool) {
	if r, ok := v.CatchAll[key]; ok {
		return r, true
	}
	return rules.ComputeRule(v.From[key], map[string]string{})
}

func (in *inspected) ruleEntry(typ string, r rules.Rule[any]) inspectRuleEntry {
	e := inspectRuleEntry{Matchers: []ruleMatcher{}, Conf: r.Conf, Origin: []oapiMeta{}}
	for _, t := range r.Subset {
		e.Matchers = append(e.Matchers, ruleMatcher{Key: t.Key, Value: t.Value, Not: t.Not})
	}
	for _, o := range r.Origins {
		e.Origin = append(e.Origin, in.oapiMeta(typ, o.Policy))
	}
	return e
}

func (in *inspected) origin(typ string, o rules.Origin) ruleOrigin {
	return ruleOrigin{ResourceMeta: in.oapiMeta(typ, o.Policy), RuleIndex: o.Index}
}

func (in *inspected) effective(typ, name, service string, r rules.Rule[any]) effective {
	e := effective{Name: name, Service: service, Conf: r.Conf, Origin: []ruleOrigin{}}
	for _, o := range r.Origins {
		e.Origin = append(e.Origin, in.origin(typ, o))
	}
	return e
}
