package api_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// upstreamPolicies are one policy of each type xds/generate/policies_upstream.go applies,
// each selecting web-1 and configuring its backend outbound.
var upstreamPolicies = map[string]string{
	"/meshes/default/meshcircuitbreakers/backend-limits": `{"type":"MeshCircuitBreaker","mesh":"default","name":"backend-limits","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"connectionLimits":{"maxRequests":1}}}]}}`,
	"/meshes/default/meshhealthchecks/backend-health": `{"type":"MeshHealthCheck","mesh":"default","name":"backend-health","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"interval":"10s","tcp":{}}}]}}`,
	"/meshes/default/meshloadbalancingstrategies/backend-lb": `{"type":"MeshLoadBalancingStrategy","mesh":"default","name":"backend-lb","spec":{
 "targetRef":{"kind":"Mesh"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"loadBalancer":{"type":"LeastRequest"}}}]}}`,
	"/meshes/default/meshfaultinjections/web-faults": `{"type":"MeshFaultInjection","mesh":"default","name":"web-faults","spec":{
 "targetRef":{"kind":"MeshService","name":"web"},
 "rules":[{"default":{"http":[{"abort":{"httpStatus":503,"percentage":50}}]}}]}}`,
}

// The inspect API shows the policies of policies_upstream.go: the merged conf of the backend
// outbound and the matched policies per outbound.
func TestInspectUpstreamPolicies(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	for path, body := range upstreamPolicies {
		c.must("PUT", path, body, 201)
	}

	var rules struct {
		Rules []struct {
			Type         string `json:"type"`
			InboundRules []struct {
				Inbound struct{ Port int } `json:"inbound"`
			} `json:"inboundRules"`
			Outbounds []struct {
				Service string         `json:"service"`
				Conf    map[string]any `json:"conf"`
			} `json:"outbounds"`
		} `json:"rules"`
	}
	remarshal(t, c.must("GET", "/meshes/default/dataplanes/web-1/_rules", "", 200), &rules)
	got := map[string]map[string]any{}
	faultInbounds := 0
	for _, r := range rules.Rules {
		if r.Type == "MeshFaultInjection" {
			faultInbounds = len(r.InboundRules)
		}
		for _, o := range r.Outbounds {
			if o.Service == "backend" {
				got[r.Type] = o.Conf
			}
		}
	}
	want := map[string]map[string]any{
		"MeshCircuitBreaker":        {"connectionLimits": map[string]any{"maxRequests": float64(1)}},
		"MeshHealthCheck":           {"interval": "10s", "tcp": map[string]any{}},
		"MeshLoadBalancingStrategy": {"loadBalancer": map[string]any{"type": "LeastRequest"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backend outbound confs (-want +got):\n%s", diff)
	}
	if faultInbounds != 1 {
		t.Errorf("MeshFaultInjection has inbound rules for %d inbounds, want 1", faultInbounds)
	}

	var policies struct {
		Items []struct {
			Type            string                      `json:"type"`
			Service         string                      `json:"service"`
			MatchedPolicies map[string][]map[string]any `json:"matchedPolicies"`
		} `json:"items"`
	}
	remarshal(t, c.must("GET", "/meshes/default/dataplanes/web-1/policies", "", 200), &policies)
	matched := map[string]bool{}
	for _, it := range policies.Items {
		if it.Type == "outbound" && it.Service == "backend" {
			for typ := range it.MatchedPolicies {
				matched[typ] = true
			}
		}
	}
	for typ := range want {
		if !matched[typ] {
			t.Errorf("%s not among the backend outbound's matched policies %v", typ, matched)
		}
	}
}
