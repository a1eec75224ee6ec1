package api_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const inspectDataplaneJSON = `{"type":"Dataplane","mesh":"default","name":"web-1","networking":{"address":"127.0.0.1",
 "inbound":[{"port":18080,"servicePort":8080,"tags":{"kuma.io/service":"web","kuma.io/protocol":"http"}}],
 "outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}},{"port":10002,"tags":{"kuma.io/service":"db"}}]}}`

const timeoutsAllJSON = `{"type":"MeshTimeout","mesh":"default","name":"mesh-timeout-all-default","spec":{
 "targetRef":{"kind":"Mesh"},
 "from":[{"targetRef":{"kind":"Mesh"},"default":{"idleTimeout":"2h","http":{"requestTimeout":"0s"}}}],
 "to":[{"targetRef":{"kind":"Mesh"},"default":{"connectionTimeout":"5s","http":{"requestTimeout":"15s"}}}]}}`

const timeoutsWebJSON = `{"type":"MeshTimeout","mesh":"default","name":"web-to-backend","spec":{
 "targetRef":{"kind":"MeshService","name":"web"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"http":{"requestTimeout":"1m0s"}}}]}}`

// remarshal turns a decoded JSON value into the given shape for comparisons.
func remarshal(t *testing.T, v any, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// kumactl 2.14's `inspect dataplane web-1` reads /meshes/default/dataplanes/web-1/policies.
func TestInspectDataplanePolicies(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	c.must("PUT", "/meshes/default/meshtimeouts/mesh-timeout-all-default", timeoutsAllJSON, 201)
	c.must("PUT", "/meshes/default/meshtimeouts/web-to-backend", timeoutsWebJSON, 201)
	c.must("PUT", "/meshes/default/meshtrafficpermissions/allow-all", mtpJSON, 201)

	got := c.must("GET", "/meshes/default/dataplanes/web-1/policies", "", 200)
	var resp struct {
		Kind  string `json:"kind"`
		Total int    `json:"total"`
		Items []struct {
			Type            string                      `json:"type"`
			Name            string                      `json:"name"`
			Service         string                      `json:"service"`
			MatchedPolicies map[string][]map[string]any `json:"matchedPolicies"`
		} `json:"items"`
	}
	remarshal(t, got, &resp)
	if resp.Kind != "SidecarDataplane" || resp.Total != len(resp.Items) {
		t.Fatalf("kind %q total %d items %d", resp.Kind, resp.Total, len(resp.Items))
	}
	summary := map[string]map[string][]string{}
	for _, it := range resp.Items {
		key := it.Type + " " + it.Name + " " + it.Service
		summary[key] = map[string][]string{}
		for typ, metas := range it.MatchedPolicies {
			for _, m := range metas {
				if m["type"] != typ || m["mesh"] != "default" {
					t.Errorf("%s: meta %v", key, m)
				}
				summary[key][typ] = append(summary[key][typ], m["name"].(string))
			}
		}
	}
	want := map[string]map[string][]string{
		"dataplane  ": {
			"MeshTimeout":           {"mesh-timeout-all-default", "web-to-backend"},
			"MeshTrafficPermission": {"allow-all"},
		},
		"inbound 127.0.0.1:18080:8080 web": {
			"MeshTimeout":           {"mesh-timeout-all-default"},
			"MeshTrafficPermission": {"allow-all"},
		},
		"outbound 127.0.0.1:10001 backend": {"MeshTimeout": {"mesh-timeout-all-default", "web-to-backend"}},
		"outbound 127.0.0.1:10002 db":      {"MeshTimeout": {"mesh-timeout-all-default"}},
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	c.must("GET", "/meshes/default/dataplanes/nope/policies", "", 404)
	c.must("POST", "/meshes/default/dataplanes/web-1/policies", "", 405)
}

// _rules shows Kuma's rules per policy type, plus the conf each inbound and outbound gets.
func TestInspectDataplaneRules(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	c.must("PUT", "/meshes/default/meshtimeouts/mesh-timeout-all-default", timeoutsAllJSON, 201)
	c.must("PUT", "/meshes/default/meshtimeouts/web-to-backend", timeoutsWebJSON, 201)

	got := c.must("GET", "/meshes/default/dataplanes/web-1/_rules", "", 200)
	var resp struct {
		Resource struct{ Type, Mesh, Name, KRI string } `json:"resource"`
		Rules    []struct {
			Type    string `json:"type"`
			ToRules []struct {
				Matchers []struct {
					Key, Value string
					Not        bool
				} `json:"matchers"`
				Conf   map[string]any   `json:"conf"`
				Origin []map[string]any `json:"origin"`
			} `json:"toRules"`
			InboundRules []struct {
				Inbound struct{ Port int } `json:"inbound"`
				Rules   []struct {
					Conf []map[string]any `json:"conf"`
				} `json:"rules"`
			} `json:"inboundRules"`
			Outbounds []struct {
				Name, Service string
				Conf          map[string]any `json:"conf"`
				Origin        []struct {
					ResourceMeta struct{ Name string } `json:"resourceMeta"`
					RuleIndex    int                   `json:"ruleIndex"`
				} `json:"origin"`
			} `json:"outbounds"`
			Inbounds []struct {
				Name string
				Conf map[string]any `json:"conf"`
			} `json:"inbounds"`
		} `json:"rules"`
		HTTPMatches []any `json:"httpMatches"`
	}
	remarshal(t, got, &resp)
	if resp.Resource.Type != "Dataplane" || resp.Resource.Name != "web-1" || resp.Resource.KRI == "" || resp.HTTPMatches == nil {
		t.Errorf("resource %+v, httpMatches %v", resp.Resource, resp.HTTPMatches)
	}
	if len(resp.Rules) != 1 || resp.Rules[0].Type != "MeshTimeout" {
		t.Fatalf("rules %+v", resp.Rules)
	}
	r := resp.Rules[0]
	if len(r.ToRules) != 2 || len(r.ToRules[0].Matchers) != 1 || r.ToRules[0].Matchers[0].Value != "backend" ||
		len(r.ToRules[1].Matchers) != 0 {
		t.Fatalf("toRules %+v", r.ToRules)
	}
	wantBackend := map[string]any{"connectionTimeout": "5s", "http": map[string]any{"requestTimeout": "1m0s"}}
	if diff := cmp.Diff(wantBackend, r.ToRules[0].Conf); diff != "" {
		t.Errorf("backend rule (-want +got):\n%s", diff)
	}
	if o := r.ToRules[0].Origin; len(o) != 2 || o[1]["name"] != "web-to-backend" || o[1]["kri"] == "" {
		t.Errorf("backend origins %v", o)
	}
	if len(r.Outbounds) != 2 || r.Outbounds[0].Service != "backend" || r.Outbounds[1].Service != "db" {
		t.Fatalf("outbounds %+v", r.Outbounds)
	}
	if diff := cmp.Diff(wantBackend, r.Outbounds[0].Conf); diff != "" {
		t.Errorf("backend outbound (-want +got):\n%s", diff)
	}
	if o := r.Outbounds[0].Origin; len(o) != 2 || o[0].ResourceMeta.Name != "mesh-timeout-all-default" || o[1].RuleIndex != 0 {
		t.Errorf("backend outbound origins %+v", o)
	}
	if r.Outbounds[1].Conf["http"].(map[string]any)["requestTimeout"] != "15s" {
		t.Errorf("db outbound %+v", r.Outbounds[1].Conf)
	}
	if len(r.InboundRules) != 1 || r.InboundRules[0].Inbound.Port != 18080 || len(r.Inbounds) != 1 ||
		r.Inbounds[0].Conf["idleTimeout"] != "2h0m0s" {
		t.Errorf("inbound rules %+v, inbounds %+v", r.InboundRules, r.Inbounds)
	}

	c.must("GET", "/meshes/default/dataplanes/nope/_rules", "", 404)
}
