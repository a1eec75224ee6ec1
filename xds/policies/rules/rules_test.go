package rules_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

type nested struct {
	X *string `json:"x,omitempty"`
	Y *string `json:"y,omitempty"`
}

type conf struct {
	A          *string  `json:"a,omitempty"`
	N          *int     `json:"n,omitempty"`
	Nested     *nested  `json:"nested,omitempty"`
	List       []string `json:"list,omitempty"`
	AppendList []string `json:"appendList,omitempty"`
}

func str(s string) *string { return &s }

func c(js string) conf {
	var out conf
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		panic(err)
	}
	return out
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name  string
		confs []string
		want  string
	}{
		{"none", nil, `{}`},
		{"one", []string{`{"a":"x"}`}, `{"a":"x"}`},
		{"later wins per field", []string{`{"a":"x","n":1}`, `{"n":2}`}, `{"a":"x","n":2}`},
		{"nested objects merge", []string{`{"nested":{"x":"1","y":"2"}}`, `{"nested":{"y":"3"}}`}, `{"nested":{"x":"1","y":"3"}}`},
		{"lists are replaced", []string{`{"list":["a","b"]}`, `{"list":["c"]}`}, `{"list":["c"]}`},
		{"absent list keeps the earlier one", []string{`{"list":["a"]}`, `{"a":"x"}`}, `{"a":"x","list":["a"]}`},
		{"append lists accumulate", []string{`{"appendList":["a"]}`, `{"appendList":["b","c"]}`}, `{"appendList":["a","b","c"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var confs []conf
			for _, s := range tt.confs {
				confs = append(confs, c(s))
			}
			got, err := rules.Merge(confs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c(tt.want), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// The inputs are not modified by a merge.
	a, b := c(`{"nested":{"x":"1"}}`), c(`{"nested":{"y":"2"}}`)
	if _, err := rules.Merge([]conf{a, b}); err != nil {
		t.Fatal(err)
	}
	if a.Nested.Y != nil {
		t.Error("merge modified its input")
	}
}

// dp is a dataplane named name with one inbound per service (ports 8080, 8081, ...), the
// given extra inbound tags, and labels.
func dp(name string, labels map[string]string, inbounds ...map[string]string) rules.Dataplane {
	n := &core.DataplaneNetworking{Address: "10.0.0.1"}
	for i, tags := range inbounds {
		n.Inbound = append(n.Inbound, core.Inbound{Port: uint32(8080 + i), Tags: tags})
	}
	return rules.Dataplane{Meta: resources.Meta{Name: name, Mesh: "default", Labels: labels}, Spec: &core.Dataplane{Networking: n}}
}

func ref(kind targetref.Kind, name string, tags map[string]string) *targetref.TargetRef {
	r := &targetref.TargetRef{Kind: kind}
	if name != "" {
		r.Name = &name
	}
	if tags != nil {
		r.Tags = &tags
	}
	return r
}

func to(kind targetref.Kind, name, confJSON string) rules.Item[conf] {
	return rules.Item[conf]{TargetRef: *ref(kind, name, nil), Default: c(confJSON)}
}

func policy(name string, top *targetref.TargetRef, items ...rules.Item[conf]) rules.Policy[conf] {
	return rules.Policy[conf]{Meta: resources.Meta{Name: name, Mesh: "default"}, TargetRef: top, To: items}
}

func names(ms []resources.Meta) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func origins(os []rules.Origin) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Policy.Name)
	}
	return out
}

func TestToRules(t *testing.T) {
	web := dp("web-1", map[string]string{"app": "web"}, map[string]string{"kuma.io/service": "web", "version": "v1", "kuma.io/zone": "east"})
	tests := []struct {
		name     string
		dp       rules.Dataplane
		policies []rules.Policy[conf]
		service  string
		matched  []string // policies selecting the proxy, in merge order
		want     string   // merged conf for the outbound, "" for no rule
		origins  []string
	}{
		{
			name:     "mesh-wide default",
			dp:       web,
			policies: []rules.Policy[conf]{policy("all", nil, to(targetref.Mesh, "", `{"a":"mesh","n":1}`))},
			service:  "backend", matched: []string{"all"}, want: `{"a":"mesh","n":1}`, origins: []string{"all"},
		},
		{
			name: "mesh-wide default overridden per destination service",
			dp:   web,
			policies: []rules.Policy[conf]{policy("all", nil,
				to(targetref.Mesh, "", `{"a":"mesh","n":1}`),
				to(targetref.MeshService, "backend", `{"n":2}`))},
			service: "backend", matched: []string{"all"}, want: `{"a":"mesh","n":2}`, origins: []string{"all", "all"},
		},
		{
			name: "other destinations keep the mesh-wide default",
			dp:   web,
			policies: []rules.Policy[conf]{policy("all", nil,
				to(targetref.Mesh, "", `{"a":"mesh","n":1}`),
				to(targetref.MeshService, "backend", `{"n":2}`))},
			service: "orders", matched: []string{"all"}, want: `{"a":"mesh","n":1}`, origins: []string{"all"},
		},
		{
			name: "a more specific top-level targetRef overrides a mesh-wide policy",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("for-web", ref(targetref.MeshService, "web", nil), to(targetref.Mesh, "", `{"n":5}`)),
				policy("all", nil, to(targetref.Mesh, "", `{"a":"mesh","n":1}`)),
			},
			service: "backend", matched: []string{"all", "for-web"}, want: `{"a":"mesh","n":5}`, origins: []string{"all", "for-web"},
		},
		{
			name: "two policies on one service: name decides, alphabetically first wins",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("aaa", ref(targetref.MeshService, "web", nil), to(targetref.Mesh, "", `{"a":"aaa"}`)),
				policy("bbb", ref(targetref.MeshService, "web", nil), to(targetref.Mesh, "", `{"a":"bbb","n":2}`)),
			},
			service: "backend", matched: []string{"bbb", "aaa"}, want: `{"a":"aaa","n":2}`, origins: []string{"bbb", "aaa"},
		},
		{
			name: "subset top-level targetRefs: MeshServiceSubset beats MeshService beats MeshSubset",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("svc-subset", ref(targetref.MeshServiceSubset, "web", map[string]string{"version": "v1"}), to(targetref.Mesh, "", `{"a":"svc-subset"}`)),
				policy("svc", ref(targetref.MeshService, "web", nil), to(targetref.Mesh, "", `{"a":"svc","n":3}`)),
				policy("zone", ref(targetref.MeshSubset, "", map[string]string{"kuma.io/zone": "east"}), to(targetref.Mesh, "", `{"a":"zone","list":["z"]}`)),
			},
			service: "backend", matched: []string{"zone", "svc", "svc-subset"}, want: `{"a":"svc-subset","n":3,"list":["z"]}`,
			origins: []string{"zone", "svc", "svc-subset"},
		},
		{
			name: "subsets that do not match the proxy are ignored",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("v2", ref(targetref.MeshServiceSubset, "web", map[string]string{"version": "v2"}), to(targetref.Mesh, "", `{"a":"v2"}`)),
				policy("west", ref(targetref.MeshSubset, "", map[string]string{"kuma.io/zone": "west"}), to(targetref.Mesh, "", `{"a":"west"}`)),
				policy("other", ref(targetref.MeshService, "other", nil), to(targetref.Mesh, "", `{"a":"other"}`)),
			},
			service: "backend", matched: nil, want: "",
		},
		{
			name: "Dataplane by name beats Dataplane by labels beats Mesh",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("by-name", ref(targetref.Dataplane, "web-1", nil), to(targetref.Mesh, "", `{"a":"name"}`)),
				{Meta: resources.Meta{Name: "by-labels"}, TargetRef: &targetref.TargetRef{Kind: targetref.Dataplane,
					Labels: &map[string]string{"app": "web"}}, To: []rules.Item[conf]{to(targetref.Mesh, "", `{"a":"labels","n":7}`)}},
				policy("mesh", ref(targetref.Mesh, "", nil), to(targetref.Mesh, "", `{"a":"mesh","list":["m"]}`)),
				policy("other-dp", ref(targetref.Dataplane, "web-2", nil), to(targetref.Mesh, "", `{"a":"other"}`)),
			},
			service: "backend", matched: []string{"mesh", "by-labels", "by-name"}, want: `{"a":"name","n":7,"list":["m"]}`,
			origins: []string{"mesh", "by-labels", "by-name"},
		},
		{
			name: "a destination-specific item of a less specific policy still beats its Mesh item only",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("all", nil, to(targetref.MeshService, "backend", `{"a":"all-backend"}`)),
				policy("web", ref(targetref.MeshService, "web", nil), to(targetref.Mesh, "", `{"a":"web-mesh","n":1}`)),
			},
			// Kuma merges every item whose subset covers the rule in policy order: the
			// MeshService item of "all" comes before the Mesh item of the more specific "web".
			service: "backend", matched: []string{"all", "web"}, want: `{"a":"web-mesh","n":1}`, origins: []string{"all", "web"},
		},
		{
			name: "zone policies apply only to their zone's dataplanes",
			dp: dp("web-1", map[string]string{resources.LabelOrigin: "zone", resources.LabelZone: "east"},
				map[string]string{"kuma.io/service": "web"}),
			policies: []rules.Policy[conf]{
				{Meta: resources.Meta{Name: "west-only", Labels: map[string]string{resources.LabelOrigin: "zone", resources.LabelZone: "west"}},
					To: []rules.Item[conf]{to(targetref.Mesh, "", `{"a":"west"}`)}},
				{Meta: resources.Meta{Name: "east-only", Labels: map[string]string{resources.LabelOrigin: "zone", resources.LabelZone: "east"}},
					To: []rules.Item[conf]{to(targetref.Mesh, "", `{"a":"east"}`)}},
			},
			service: "backend", matched: []string{"east-only"}, want: `{"a":"east"}`, origins: []string{"east-only"},
		},
		{
			name: "a policy with a MeshHTTPRoute item is left out of the service rules",
			dp:   web,
			policies: []rules.Policy[conf]{
				policy("route", nil, to(targetref.MeshHTTPRoute, "r", `{"a":"route"}`)),
				policy("all", nil, to(targetref.Mesh, "", `{"a":"all"}`)),
			},
			service: "backend", matched: []string{"route", "all"}, want: `{"a":"all"}`, origins: []string{"all"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rules.Compute(tt.dp, tt.policies, rules.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.matched, names(res.Policies)); diff != "" {
				t.Errorf("matched policies (-want +got):\n%s", diff)
			}
			rule, ok := res.ToRule(tt.service)
			if tt.want == "" {
				if ok {
					t.Fatalf("unexpected rule %+v", rule)
				}
				return
			}
			if !ok {
				t.Fatal("no rule")
			}
			if diff := cmp.Diff(c(tt.want), rule.Conf); diff != "" {
				t.Errorf("conf (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.origins, origins(rule.Origins)); diff != "" {
				t.Errorf("origins (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToRulesOrder(t *testing.T) {
	res, err := rules.Compute(dp("web-1", nil, map[string]string{"kuma.io/service": "web"}), []rules.Policy[conf]{
		policy("all", nil, to(targetref.Mesh, "", `{"n":1}`), to(targetref.MeshService, "a", `{"n":2}`),
			to(targetref.MeshService, "b", `{"n":3}`), to(targetref.MeshService, "a", `{"a":"again"}`)),
	}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.To {
		got = append(got, js(t, r.Subset)+" "+js(t, r.Conf))
	}
	want := []string{
		`[{"key":"kuma.io/service","value":"a","not":false}] {"a":"again","n":2}`,
		`[{"key":"kuma.io/service","value":"b","not":false}] {"n":3}`,
		`[] {"n":1}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestInboundRules(t *testing.T) {
	d := dp("web-1", nil, map[string]string{"kuma.io/service": "web"}, map[string]string{"kuma.io/service": "admin"})
	webIn := rules.Inbound{Address: "10.0.0.1", Port: 8080}
	adminIn := rules.Inbound{Address: "10.0.0.1", Port: 8081}
	from := func(confJSON string) []rules.Item[conf] {
		return []rules.Item[conf]{{TargetRef: targetref.TargetRef{Kind: targetref.Mesh}, Default: c(confJSON)}}
	}
	policies := []rules.Policy[conf]{
		{Meta: resources.Meta{Name: "mesh"}, From: from(`{"a":"mesh","n":1}`)},
		{Meta: resources.Meta{Name: "web"}, TargetRef: ref(targetref.MeshService, "web", nil), From: from(`{"a":"web"}`)},
		{Meta: resources.Meta{Name: "web-rules"}, TargetRef: ref(targetref.MeshService, "web", nil), Rules: []rules.RuleItem[conf]{
			{Matches: []targetref.Match{{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDPrefix, Value: "spiffe://default/"}}}, Default: c(`{"n":9}`)},
			{Default: c(`{"list":["r"]}`)},
		}},
	}

	t.Run("from rules per inbound", func(t *testing.T) {
		res, err := rules.Compute(d, policies, rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, ok := res.FromRule(webIn)
		if !ok || js(t, r.Conf) != `{"a":"web","n":1}` {
			t.Errorf("web inbound: %v %s", ok, js(t, r.Conf))
		}
		r, ok = res.FromRule(adminIn)
		if !ok || js(t, r.Conf) != `{"a":"mesh","n":1}` {
			t.Errorf("admin inbound: %v %s", ok, js(t, r.Conf))
		}
		if diff := cmp.Diff([]string{"mesh", "web-rules", "web"}, names(res.ByInbound[webIn])); diff != "" {
			t.Errorf("policies of the web inbound:\n%s", diff)
		}
		// Without FromAsRules, from items are not inbound rules.
		if n := len(res.InboundRules[adminIn]); n != 0 {
			t.Errorf("admin inbound has %d inbound rules", n)
		}
	})

	t.Run("from as rules, rules with matches first", func(t *testing.T) {
		res, err := rules.Compute(d, policies, rules.Options{FromAsRules: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.InboundRules[webIn] {
			got = append(got, r.Origin.Policy.Name+" "+js(t, r.Match)+" "+js(t, r.Conf))
		}
		want := []string{
			`web-rules {"spiffeID":{"type":"Prefix","value":"spiffe://default/"}} {"n":9}`,
			`mesh null {"a":"mesh","n":1}`,
			`web-rules null {"list":["r"]}`,
			`web null {"a":"web"}`, // "web" < "web-rules": the alphabetically first wins, so it merges last
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		all, origins, ok, err := res.CatchAll(webIn)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if js(t, all) != `{"a":"web","n":1,"list":["r"]}` || len(origins) != 3 {
			t.Errorf("catch-all %s from %v", js(t, all), origins)
		}
		if _, _, ok, _ := res.CatchAll(rules.Inbound{Address: "10.0.0.1", Port: 1}); ok {
			t.Error("catch-all for an unknown inbound")
		}
	})
}

func TestSectionName(t *testing.T) {
	d := dp("web-1", nil, map[string]string{"kuma.io/service": "web"}, map[string]string{"kuma.io/service": "admin"})
	d.Spec.Networking.Inbound[1].Name = "admin-port"
	p := rules.Policy[conf]{Meta: resources.Meta{Name: "admin-only"},
		TargetRef: &targetref.TargetRef{Kind: targetref.Dataplane, Name: str("web-1"), SectionName: str("admin-port")},
		From:      []rules.Item[conf]{{TargetRef: targetref.TargetRef{Kind: targetref.Mesh}, Default: c(`{"a":"x"}`)}}}
	res, err := rules.Compute(d, []rules.Policy[conf]{p}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.FromRule(rules.Inbound{Address: "10.0.0.1", Port: 8080}); ok {
		t.Error("the policy selected the web inbound")
	}
	if _, ok := res.FromRule(rules.Inbound{Address: "10.0.0.1", Port: 8081}); !ok {
		t.Error("the policy did not select the admin inbound")
	}
}
