package generate_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/generate"
)

var update = flag.Bool("update", false, "rewrite golden files")

func updating() bool { return *update || os.Getenv("UPDATE_GOLDEN") == "1" }

// goldenCases are the representative proxies; each has testdata/<name>.golden.yaml.
func goldenCases() map[string]func() (*generate.Resources, error) {
	gen := func(p func() *generate.Proxy) func() (*generate.Resources, error) {
		return func() (*generate.Resources, error) { return generate.Generate(p()) }
	}
	return map[string]func() (*generate.Resources, error){
		"sidecar-http-inbound-tcp-outbound": gen(sidecarHTTPInTCPOut),
		"grpc-inbound-two-zones":            gen(grpcTwoZones),
		"subset-outbound":                   gen(subsetOutbound),
		"mtls-permissions":                  gen(mtlsPermissions),
		"no-outbounds":                      gen(noOutbounds),
		"mtls-subset-outbound":              gen(mtlsSubsetOutbound),
		"mtls-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(mtlsGRPCClient())
		},
		// an xDS-enabled grpc-go server of the dataplane's inbounds: mTLS and RBAC
		"mtls-grpc-server": func() (*generate.Resources, error) {
			return generate.GRPCClient(mtlsPermissions())
		},
		"grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(grpcClientProxy())
		},
		"meshtimeout": gen(meshTimeouts),
		"meshretry":   gen(meshRetries),
		"meshroutes":  gen(meshRoutes),
		"meshroutes-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(meshRoutes())
		},
		"meshretry-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(meshRetries())
		},
		"meshtimeout-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(meshTimeoutsGRPCClient())
		},
		"zone-ingress": func() (*generate.Resources, error) {
			return generate.GenerateIngress(zoneIngress())
		},
		"zone-egress": func() (*generate.Resources, error) {
			return generate.GenerateEgress(&generate.EgressProxy{
				Name: "ze-1", Zone: "zone-1",
				Spec: &core.ZoneEgress{Zone: "zone-1", Networking: &core.ZoneEgressNetworking{Address: "10.0.0.9", Port: 10002}},
				Services: []generate.IngressService{{Mesh: "mesh1", Service: "backend", Endpoints: []generate.Endpoint{
					{Address: "203.0.113.2", Port: 10001, Weight: 3, Zone: "zone-2", Tags: map[string]string{"kuma.io/service": "backend", "version": "v1"}},
					{Address: "203.0.113.3", Port: 10001, Weight: 1, Zone: "zone-3", Tags: map[string]string{"kuma.io/service": "backend"}},
				}}},
			})
		},
		"zone-ingress-empty": func() (*generate.Resources, error) {
			p := zoneIngress()
			p.Services = nil
			return generate.GenerateIngress(p)
		},
		"meshcircuitbreaker": gen(meshCircuitBreakers),
		"meshcircuitbreaker-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(meshCircuitBreakers())
		},
		"meshhealthcheck":           gen(meshHealthChecks),
		"meshloadbalancingstrategy": gen(meshLoadBalancing),
		"meshloadbalancingstrategy-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(meshLoadBalancing())
		},
		"transparent-proxy":           gen(transparentProxy),
		"transparent-proxy-ipv4-only": gen(transparentProxyIPv4Only),
		// kuma-dp with CoreDNS: Envoy's DNS filter answers the names
		"transparent-proxy-envoy-dns": func() (*generate.Resources, error) {
			p := transparentProxy()
			p.DNS.Embedded, p.DNS.EnvoyPort, p.DNS.ReusePort = false, 15054, true
			return generate.Generate(p)
		},
		"transparent-proxy-bind-outbounds": func() (*generate.Resources, error) {
			p := transparentProxy()
			p.BindOutbounds = true
			return generate.Generate(p)
		},
		"meshfaultinjection": gen(meshFaults),
		"meshfaultinjection-grpc-client": func() (*generate.Resources, error) {
			return generate.GRPCClient(meshFaults())
		},
	}
}

func TestGolden(t *testing.T) {
	for name, build := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			res, err := build()
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if err := generate.Validate(res); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := renderYAML(t, res)
			path := filepath.Join("testdata", name+".golden.yaml")
			if updating() {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(parseYAML(t, want), parseYAML(t, got)); diff != "" {
				t.Errorf("%s differs (-golden +got), rerun with -update if intended:\n%s", path, diff)
			}
		})
	}
}

// renderYAML writes the resources as protojson converted to YAML, with sorted keys, grouped by
// type; an empty type is left out.
func renderYAML(t *testing.T, r *generate.Resources) []byte {
	t.Helper()
	doc := map[string][]json.RawMessage{}
	add := func(key string, m proto.Message) {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatalf("protojson: %v", err)
		}
		doc[key] = append(doc[key], b)
	}
	for _, l := range r.Listeners {
		add("listeners", l)
	}
	for _, c := range r.Clusters {
		add("clusters", c)
	}
	for _, rc := range r.Routes {
		add("routes", rc)
	}
	for _, e := range r.Endpoints {
		add("endpoints", e)
	}
	for _, s := range r.Secrets {
		add("secrets", s)
	}
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func parseYAML(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse YAML: %v", err)
	}
	return v
}
