package snapshots

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
)

// The operational policies reach the proxies of their mesh by event, like the traffic ones:
// applying one changes the proxy's published config, deleting it restores the config.
func TestOperationalPoliciesReachProxies(t *testing.T) {
	const clusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	tests := []struct {
		typ, name, json string
		// changes is the resource type whose version the policy must change.
		changes string
	}{
		{"MeshRateLimit", "rl", `{"type":"MeshRateLimit","mesh":"default","name":"rl","spec":{"targetRef":{"kind":"MeshService","name":"a"},
 "rules":[{"default":{"local":{"tcp":{"connectionRate":{"num":5,"interval":"1s"}}}}}]}}`, resourceListenerType},
		{"MeshAccessLog", "al", `{"type":"MeshAccessLog","mesh":"default","name":"al","spec":{
 "to":[{"targetRef":{"kind":"Mesh"},"default":{"backends":[{"type":"File","file":{"path":"/dev/stdout"}}]}}]}}`, resourceListenerType},
		{"MeshTrace", "tr", `{"type":"MeshTrace","mesh":"default","name":"tr","spec":{
 "default":{"backends":[{"type":"OpenTelemetry","openTelemetry":{"endpoint":"127.0.0.1:4317"}}]}}}`, clusterType},
		{"MeshProxyPatch", "pp", `{"type":"MeshProxyPatch","mesh":"default","name":"pp","spec":{
 "default":{"appendModifications":[{"cluster":{"operation":"Patch","match":{"name":"backend"},"value":"connectTimeout: 3s"}}]}}}`, clusterType},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			h := newHarness(t)
			h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "backend"))
			h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
			h.waitCount("default.a", 1)
			h.settle()
			n, before := h.rec.count("default.a"), h.rec.versions["default.a"][tt.changes]

			h.apply(tt.typ, "default", tt.name, tt.json)
			h.waitCount("default.a", n+1)
			h.settle()
			if h.rec.versions["default.a"][tt.changes] == before {
				t.Fatalf("%s did not change the proxy's %s", tt.typ, tt.changes)
			}

			n = h.rec.count("default.a")
			h.apply(tt.typ, "default", tt.name, "")
			h.waitCount("default.a", n+1)
			h.settle()
			if got := h.rec.versions["default.a"][tt.changes]; got != before {
				t.Fatalf("after delete %s, want %s", got, before)
			}
		})
	}
}

// A MeshProxyPatch that breaks the config is not published: the proxy keeps the config it
// had (the generator refuses it; the projector logs the error).
func TestBrokenProxyPatchIsNotPublished(t *testing.T) {
	h := newHarness(t)
	h.apply("Dataplane", "default", "a", dp("a", 18001, "a", "backend"))
	h.p.Connect(Client{NodeID: "default.a", Mesh: "default", Name: "a"})
	h.waitCount("default.a", 1)
	h.settle()
	n, before := h.rec.count("default.a"), h.rec.versions["default.a"]

	h.apply("MeshProxyPatch", "default", "bad", `{"type":"MeshProxyPatch","mesh":"default","name":"bad","spec":{
 "default":{"appendModifications":[{"listener":{"operation":"Patch","jsonPatches":[{"op":"replace","path":"/address/socketAddress/portValue","value":70000}]}}]}}}`)
	h.settle()
	if got := h.rec.count("default.a"); got != n {
		t.Fatalf("%d snapshots published after the broken patch, want %d", got, n)
	}
	// A good change after removing the patch is published again.
	h.apply("MeshProxyPatch", "default", "bad", "")
	h.apply("MeshTimeout", "default", "t", `{"type":"MeshTimeout","mesh":"default","name":"t","spec":{"to":[{"targetRef":{"kind":"Mesh"},"default":{"idleTimeout":"1m"}}]}}`)
	h.waitCount("default.a", n+1)
	h.settle()
	if h.rec.versions["default.a"][resourceListenerType] == before[resourceListenerType] {
		t.Fatal("the config after the fix was not published")
	}
}

// The agent's work directory from the node metadata places the access log socket of TCP
// backends where kuma-dp listens.
func TestAccessLogSocketUnderWorkDir(t *testing.T) {
	decode := func(desc *resources.Descriptor, doc string) *resources.Resource {
		r, err := resources.DecodeAs(desc, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	in := Input{
		Client:    Client{NodeID: "default.a", Mesh: "default", Name: "a", WorkDir: "/run/kuma-dp"},
		Mesh:      decode(core.MeshType, `{"type":"Mesh","name":"default"}`),
		Dataplane: decode(core.DataplaneType, dp("a", 18001, "a", "backend")),
		Policies: map[string][]*resources.Resource{"MeshAccessLog": {decode(meshaccesslog.Descriptor, `{"type":"MeshAccessLog","mesh":"default","name":"al","spec":{
 "to":[{"targetRef":{"kind":"Mesh"},"default":{"backends":[{"type":"Tcp","tcp":{"address":"logs:5000"}}]}}]}}`)}},
	}
	byType, _, err := Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	want := "/run/kuma-dp/kuma-al-a-default.sock"
	found := false
	for _, r := range byType[resourceListenerType] {
		b, err := protojson.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		found = found || strings.Contains(string(b), `"path":"`+want+`"`)
	}
	if !found {
		t.Errorf("no access log writes to %s", want)
	}
}
