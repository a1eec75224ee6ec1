package generate_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/jetmesh/jetmesh/xds/generate"
)

func versions(t *testing.T, p *generate.Proxy) map[string]string {
	t.Helper()
	v, err := mustGenerate(t, p).Versions()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// encode marshals every resource deterministically, in output order.
func encode(t *testing.T, r *generate.Resources) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, typeURL := range []string{resourcev3.ListenerType, resourcev3.ClusterType, resourcev3.RouteType, resourcev3.EndpointType} {
		for _, m := range r.ByType()[typeURL] {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
		}
	}
	return buf.Bytes()
}

func TestVersionIsAContentHash(t *testing.T) {
	base := versions(t, grpcTwoZones())
	if again := versions(t, grpcTwoZones()); !equalMaps(base, again) {
		t.Errorf("same input, different versions: %v vs %v", base, again)
	}

	changed := grpcTwoZones()
	changed.Endpoints["orders"][0].Address = "10.0.0.99"
	v := versions(t, changed)
	if v[resourcev3.EndpointType] == base[resourcev3.EndpointType] {
		t.Error("an endpoint changed but the endpoints version did not")
	}
	for _, typeURL := range []string{resourcev3.ListenerType, resourcev3.ClusterType, resourcev3.RouteType} {
		if v[typeURL] != base[typeURL] {
			t.Errorf("%s version changed though only an endpoint did", typeURL)
		}
	}
}

func TestVersionIgnoresResourceOrder(t *testing.T) {
	r := mustGenerate(t, grpcTwoZones())
	rs := r.ByType()[resourcev3.ClusterType]
	want, err := generate.Version(rs)
	if err != nil {
		t.Fatal(err)
	}
	reversed := make([]types.Resource, len(rs))
	for i, m := range rs {
		reversed[len(rs)-1-i] = m
	}
	if got, _ := generate.Version(reversed); got != want {
		t.Errorf("reordering changed the version: %s vs %s", got, want)
	}
	if empty, _ := generate.Version(nil); empty == want || empty == "" {
		t.Errorf("empty version %q", empty)
	}
}

// TestOutputIndependentOfInputOrder shuffles every input list whose order carries no meaning
// (endpoints of a service, permissions) and relies on Go's randomized map iteration for the
// maps (Endpoints, tags): the encoded output must not change.
func TestOutputIndependentOfInputOrder(t *testing.T) {
	for name, build := range map[string]func() *generate.Proxy{
		"two zones":   grpcTwoZones,
		"subset":      subsetOutbound,
		"permissions": mtlsPermissions,
	} {
		t.Run(name, func(t *testing.T) {
			want := encode(t, mustGenerate(t, build()))
			rng := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				p := build()
				for _, eps := range p.Endpoints {
					rng.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
				}
				rng.Shuffle(len(p.Permissions), func(i, j int) { p.Permissions[i], p.Permissions[j] = p.Permissions[j], p.Permissions[i] })
				if got := encode(t, mustGenerate(t, p)); !bytes.Equal(got, want) {
					t.Fatal("output changed with input order")
				}
			}
		})
	}
}

func TestGenerateDoesNotModifyInput(t *testing.T) {
	p := grpcTwoZones()
	before := encodeProxyEndpoints(p)
	mustGenerate(t, p)
	if after := encodeProxyEndpoints(p); after != before {
		t.Errorf("Generate modified the endpoints:\n%s\n%s", before, after)
	}
}

func encodeProxyEndpoints(p *generate.Proxy) string {
	var buf bytes.Buffer
	for _, s := range []string{"orders", "payments"} {
		for _, e := range p.Endpoints[s] {
			buf.WriteString(e.Address)
			buf.WriteByte(' ')
		}
	}
	return buf.String()
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
