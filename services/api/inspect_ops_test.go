package api_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The operational policies (rate limits, access logs, traces, proxy patches) show up in the
// inspect API like the others: which policies select the proxy, and the merged inbound conf.

const rateLimitJSON = `{"type":"MeshRateLimit","mesh":"default","name":"web-limits","spec":{
 "targetRef":{"kind":"MeshService","name":"web"},
 "rules":[{"default":{"local":{"http":{"requestRate":{"num":100,"interval":"1s"}}}}}]}}`

// opsRules fetches _rules and returns, per policy type, its conf per "inbound <service>" and
// "outbound <service>".
func opsRules(t *testing.T, c client) map[string]map[string]map[string]any {
	t.Helper()
	got := c.must("GET", "/meshes/default/dataplanes/web-1/_rules", "", 200)
	var resp struct {
		Rules []struct {
			Type     string `json:"type"`
			Inbounds []struct {
				Service string         `json:"service"`
				Conf    map[string]any `json:"conf"`
			} `json:"inbounds"`
			Outbounds []struct {
				Service string         `json:"service"`
				Conf    map[string]any `json:"conf"`
			} `json:"outbounds"`
		} `json:"rules"`
	}
	remarshal(t, got, &resp)
	out := map[string]map[string]map[string]any{}
	for _, r := range resp.Rules {
		out[r.Type] = map[string]map[string]any{}
		for _, in := range r.Inbounds {
			out[r.Type]["inbound "+in.Service] = in.Conf
		}
		for _, o := range r.Outbounds {
			out[r.Type]["outbound "+o.Service] = o.Conf
		}
	}
	return out
}

func TestInspectMeshRateLimit(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	c.must("PUT", "/meshes/default/meshratelimits/web-limits", rateLimitJSON, 201)

	got := opsRules(t, c)["MeshRateLimit"]
	want := map[string]map[string]any{"inbound web": {"local": map[string]any{"http": map[string]any{
		"requestRate": map[string]any{"num": float64(100), "interval": "1s"}}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MeshRateLimit inbounds (-want +got):\n%s", diff)
	}
}

const accessLogJSON = `{"type":"MeshAccessLog","mesh":"default","name":"web-logs","spec":{
 "targetRef":{"kind":"MeshService","name":"web"},
 "to":[{"targetRef":{"kind":"MeshService","name":"backend"},"default":{"backends":[{"type":"File","file":{"path":"/dev/stdout"}}]}}]}}`

func TestInspectMeshAccessLog(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	c.must("PUT", "/meshes/default/meshaccesslogs/web-logs", accessLogJSON, 201)

	got := opsRules(t, c)["MeshAccessLog"]
	want := map[string]map[string]any{"outbound backend": {"backends": []any{
		map[string]any{"type": "File", "file": map[string]any{"path": "/dev/stdout"}}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MeshAccessLog (-want +got):\n%s", diff)
	}
}

const traceJSON = `{"type":"MeshTrace","mesh":"default","name":"mesh-trace","spec":{
 "targetRef":{"kind":"Mesh"},
 "default":{"backends":[{"type":"OpenTelemetry","openTelemetry":{"endpoint":"otel:4317"}}]}}}`

// MeshTrace has one conf per proxy; the inspect API shows it on every outbound.
func TestInspectMeshTrace(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	c.must("PUT", "/meshes/default/meshtraces/mesh-trace", traceJSON, 201)

	got := opsRules(t, c)["MeshTrace"]
	conf := map[string]any{"backends": []any{map[string]any{"type": "OpenTelemetry",
		"openTelemetry": map[string]any{"endpoint": "otel:4317"}}}}
	want := map[string]map[string]any{"outbound backend": conf, "outbound db": conf}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MeshTrace (-want +got):\n%s", diff)
	}
}

const proxyPatchMeshJSON = `{"type":"MeshProxyPatch","mesh":"default","name":"z-mesh","spec":{
 "targetRef":{"kind":"Mesh"},
 "default":{"appendModifications":[{"cluster":{"operation":"Remove","match":{"name":"x"}}}]}}}`

const proxyPatchWebJSON = `{"type":"MeshProxyPatch","mesh":"default","name":"b-web","spec":{
 "targetRef":{"kind":"MeshService","name":"web"},
 "default":{"appendModifications":[{"cluster":{"operation":"Remove","match":{"name":"y"}}}]}}}`

// The modifications of every MeshProxyPatch selecting the proxy are listed in the order
// they run: the mesh-wide policy's first, whatever the names.
func TestInspectMeshProxyPatch(t *testing.T) {
	c, _ := newClient(t)
	c.must("PUT", "/meshes/default/dataplanes/web-1", inspectDataplaneJSON, 201)
	c.must("PUT", "/meshes/default/meshproxypatches/b-web", proxyPatchWebJSON, 201)
	c.must("PUT", "/meshes/default/meshproxypatches/z-mesh", proxyPatchMeshJSON, 201)

	got := opsRules(t, c)["MeshProxyPatch"]["outbound backend"]
	remove := func(name string) any {
		return map[string]any{"cluster": map[string]any{"operation": "Remove", "match": map[string]any{"name": name}}}
	}
	want := map[string]any{"appendModifications": []any{remove("x"), remove("y")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MeshProxyPatch (-want +got):\n%s", diff)
	}
}
