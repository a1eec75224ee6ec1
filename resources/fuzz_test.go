package resources_test

import (
	"encoding/json"
	"testing"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/policies"
)

// No document crashes decoding or validation of any type: what the API decodes from a PUT,
// and what the DP server decodes from a proxy's node metadata and bootstrap request
// (Dataplane, ZoneIngress, ZoneEgress). A document that decodes and validates survives a
// round trip through the JSON the API answers.
func FuzzDecodeValidate(f *testing.F) {
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		f.Fatal(err)
	}
	all := reg.All()
	for _, seed := range []string{
		`{"type":"Dataplane","mesh":"default","name":"web","networking":{"address":"127.0.0.1","inbound":[{"port":8080,"tags":{"kuma.io/service":"web"}}],"outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}`,
		`{"type":"ZoneIngress","name":"ingress-1","networking":{"address":"127.0.0.1","port":10001,"advertisedAddress":"10.0.0.1","advertisedPort":10001},"availableServices":[{"tags":{"kuma.io/service":"web"},"instances":2,"mesh":"default"}]}`,
		`{"type":"ZoneEgress","name":"egress-1","networking":{"address":"127.0.0.1","port":10002}}`,
		`{"type":"Mesh","name":"m","mtls":{"enabledBackend":"ca","backends":[{"name":"ca","type":"builtin"}]}}`,
		`{"type":"MeshTimeout","mesh":"default","name":"t","spec":{"targetRef":{"kind":"Mesh"},"to":[{"targetRef":{"kind":"Mesh"},"default":{"idleTimeout":"1h"}}]}}`,
		`{"type":"MeshHTTPRoute","mesh":"default","name":"r","spec":{"targetRef":{"kind":"Mesh"},"to":[{"targetRef":{"kind":"MeshService","name":"b"},"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"default":{"backendRefs":[{"kind":"MeshService","name":"b","weight":1}]}}]}]}}`,
		"type: Dataplane\nmesh: default\nname: y\nnetworking:\n  address: 127.0.0.1\n",
		`{}`, `[]`, `null`, `{"type":`,
	} {
		for i := range all {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, doc []byte) {
		desc := all[int(typ)%len(all)]
		r, err := resources.DecodeAs(desc, doc)
		if err != nil || resources.Validate(r) != nil {
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a valid %s does not marshal: %v", desc.Name, err)
		}
		back, err := resources.DecodeAs(desc, out)
		if err != nil {
			t.Fatalf("a valid %s does not decode from its own JSON %s: %v", desc.Name, out, err)
		}
		if err := resources.Validate(back); err != nil {
			t.Fatalf("a valid %s is invalid after a round trip %s: %v", desc.Name, out, err)
		}
	})
}
