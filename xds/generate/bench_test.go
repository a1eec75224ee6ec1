package generate_test

import (
	"fmt"
	"testing"

	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// benchProxy is a sidecar with one HTTP inbound and 50 outbounds (alternately http and tcp),
// each service with 20 endpoints in two zones.
func benchProxy() *generate.Proxy {
	mesh := mtlsMesh()
	mesh.Spec.Routing = &core.Routing{LocalityAwareLoadBalancing: true}
	var outbounds []core.Outbound
	endpoints := map[string][]generate.Endpoint{}
	for i := range 50 {
		service := fmt.Sprintf("svc-%02d", i)
		outbounds = append(outbounds, core.Outbound{Port: uint32(10000 + i), Tags: tags("kuma.io/service", service)})
		protocol := "http"
		if i%2 == 1 {
			protocol = "tcp"
		}
		for j := range 20 {
			zone := "zone-1"
			if j%4 == 0 {
				zone = "zone-2"
			}
			endpoints[service] = append(endpoints[service],
				ep(fmt.Sprintf("10.%d.%d.%d", i, j/10, j%10), 8080, zone, "kuma.io/service", service, "kuma.io/protocol", protocol, "version", "v1"))
		}
	}
	return &generate.Proxy{
		Mesh: mesh,
		Dataplane: dataplane("web-1", "192.168.0.1",
			[]core.Inbound{{Port: 8080, ServicePort: 18080, Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "http")}},
			outbounds),
		Zone:        "zone-1",
		Admin:       generate.Admin{Port: 9901, ReadinessPort: 9902},
		Endpoints:   endpoints,
		Permissions: mtlsPermissions().Permissions,
	}
}

func BenchmarkGenerateSidecar(b *testing.B) {
	p := benchProxy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := generate.Generate(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateSidecarWithVersions adds what the xDS server does next: versioning.
func BenchmarkGenerateSidecarWithVersions(b *testing.B) {
	p := benchProxy()
	b.ReportAllocs()
	for b.Loop() {
		r, err := generate.Generate(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Versions(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchProxyIsValid(t *testing.T) {
	r := mustGenerate(t, benchProxy())
	if len(r.Listeners) != 52 || len(r.Clusters) != 53 || len(r.Endpoints) != 50 {
		t.Errorf("got %d listeners, %d clusters, %d load assignments", len(r.Listeners), len(r.Clusters), len(r.Endpoints))
	}
}
