package generate_test

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/generate"
	mtp "github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// Fixtures shared by the golden, fact and benchmark tests. Every call returns fresh values,
// so a test may modify what it gets.

func tags(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func plainMesh() generate.Mesh { return generate.Mesh{Name: "default", Spec: &core.Mesh{}} }

func mtlsMesh() generate.Mesh {
	return generate.Mesh{Name: "default", Spec: &core.Mesh{MTLS: &core.MeshMTLS{
		EnabledBackend: "ca-1",
		Backends:       []core.CABackend{{Name: "ca-1", Type: core.CABuiltin}},
	}}}
}

func dataplane(name, address string, inbound []core.Inbound, outbound []core.Outbound) generate.Dataplane {
	return generate.Dataplane{
		Meta: resources.Meta{Mesh: "default", Name: name},
		Spec: &core.Dataplane{Networking: &core.DataplaneNetworking{
			Address:  address,
			Inbound:  inbound,
			Outbound: outbound,
		}},
	}
}

func ep(address string, port uint32, zone string, kv ...string) generate.Endpoint {
	t := tags(kv...)
	if zone != "" {
		t[resources.TagZone] = zone
	}
	return generate.Endpoint{Address: address, Port: port, Tags: t, Weight: 1, Zone: zone}
}

// sidecarHTTPInTCPOut: an HTTP inbound and a TCP outbound, admin exposed on the dataplane
// address with kuma-dp's readiness reporter.
func sidecarHTTPInTCPOut() *generate.Proxy {
	return &generate.Proxy{
		Mesh: plainMesh(),
		Dataplane: dataplane("web-1", "192.168.0.1",
			[]core.Inbound{{Port: 8080, ServicePort: 18080, Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "http")}},
			[]core.Outbound{{Port: 10001, Tags: tags("kuma.io/service", "db")}}),
		Zone:  "zone-1",
		Admin: generate.Admin{Port: 9901, ReadinessPort: 9902},
		Endpoints: map[string][]generate.Endpoint{
			"db":  {ep("192.168.0.10", 5432, "", "kuma.io/service", "db", "kuma.io/protocol", "tcp")},
			"web": {ep("192.168.0.1", 8080, "", "kuma.io/service", "web", "kuma.io/protocol", "http")},
		},
	}
}

// grpcTwoZones: a gRPC inbound and two outbounds whose endpoints live in two zones; the mesh
// balances by locality, and "payments" has no local endpoint (its remote zone becomes
// priority 0).
func grpcTwoZones() *generate.Proxy {
	mesh := mtlsMesh()
	mesh.Spec.Routing = &core.Routing{LocalityAwareLoadBalancing: true}
	return &generate.Proxy{
		Mesh: mesh,
		Dataplane: dataplane("backend-1", "10.0.0.1",
			[]core.Inbound{{Port: 9090, ServiceAddress: "127.0.0.1", Tags: tags("kuma.io/service", "backend", "kuma.io/protocol", "grpc", "kuma.io/zone", "zone-1")}},
			[]core.Outbound{
				{Port: 10001, Tags: tags("kuma.io/service", "orders")},
				{Address: "127.0.0.2", Port: 10002, Tags: tags("kuma.io/service", "payments")},
			}),
		Zone:  "zone-1",
		Admin: generate.Admin{Port: 9901, ReadinessPort: 9902},
		Endpoints: map[string][]generate.Endpoint{
			"orders": {
				ep("10.0.0.3", 8080, "zone-1", "kuma.io/service", "orders", "kuma.io/protocol", "http"),
				ep("10.0.0.2", 8080, "zone-1", "kuma.io/service", "orders", "kuma.io/protocol", "http"),
				{Address: "172.16.0.1", Port: 10001, Weight: 3, Zone: "zone-2",
					Tags: tags("kuma.io/service", "orders", "kuma.io/protocol", "http", "kuma.io/zone", "zone-2")},
			},
			"payments": {
				{Address: "172.16.0.1", Port: 10001, Weight: 2, Zone: "zone-2",
					Tags: tags("kuma.io/service", "payments", "kuma.io/protocol", "grpc", "kuma.io/zone", "zone-2")},
			},
		},
	}
}

// subsetOutbound: one outbound to a whole service and one to the version=v2 subset of it.
func subsetOutbound() *generate.Proxy {
	return &generate.Proxy{
		Mesh: plainMesh(),
		Dataplane: dataplane("web-1", "192.168.0.1",
			[]core.Inbound{{Port: 8080, Tags: tags("kuma.io/service", "web")}},
			[]core.Outbound{
				{Port: 10001, Tags: tags("kuma.io/service", "backend")},
				{Port: 10002, Tags: tags("kuma.io/service", "backend", "version", "v2")},
			}),
		Endpoints: map[string][]generate.Endpoint{
			"backend": {
				ep("192.168.0.4", 8084, "", "kuma.io/service", "backend", "kuma.io/protocol", "http", "version", "v1"),
				ep("192.168.0.5", 8085, "", "kuma.io/service", "backend", "kuma.io/protocol", "http", "version", "v2"),
				ep("192.168.0.6", 8086, "", "kuma.io/service", "backend", "kuma.io/protocol", "http", "version", "v2"),
			},
		},
	}
}

// mtlsPermissions: mTLS on; an HTTP inbound governed by `from` (allow all, deny frontend,
// shadow-deny canaries), a TCP inbound governed by `rules`, and a TCP inbound no policy
// selects (denied).
func mtlsPermissions() *generate.Proxy {
	return &generate.Proxy{
		Mesh:     mtlsMesh(),
		Identity: testIdentity(),
		Dataplane: dataplane("backend-1", "192.168.0.2",
			[]core.Inbound{
				{Port: 8080, Tags: tags("kuma.io/service", "backend", "kuma.io/protocol", "http")},
				{Port: 6379, Tags: tags("kuma.io/service", "redis", "kuma.io/protocol", "tcp")},
				{Port: 9100, Tags: tags("kuma.io/service", "metrics")},
			}, nil),
		Permissions: []generate.Permission{
			{
				Meta: resources.Meta{Mesh: "default", Name: "backend-access"},
				Spec: &mtp.Spec{
					TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("backend")},
					From: &[]mtp.From{
						{TargetRef: targetref.TargetRef{Kind: targetref.Mesh}, Default: mtp.Conf{Action: targetref.Ptr(mtp.Allow)}},
						{TargetRef: targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("frontend")}, Default: mtp.Conf{Action: targetref.Ptr(mtp.Deny)}},
						{TargetRef: targetref.TargetRef{Kind: targetref.MeshSubset, Tags: &map[string]string{"version": "canary"}}, Default: mtp.Conf{Action: targetref.Ptr(mtp.AllowWithShadowDeny)}},
					},
				},
			},
			{
				Meta: resources.Meta{Mesh: "default", Name: "redis-identity", Labels: tags("kuma.io/zone", "zone-1")},
				Spec: &mtp.Spec{
					TargetRef: &targetref.TargetRef{Kind: targetref.MeshService, Name: targetref.Ptr("redis")},
					Rules: &[]mtp.Rule{{Default: mtp.RuleConf{
						Allow: &[]targetref.Match{{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDPrefix, Value: "spiffe://default/"}}},
						Deny:  &[]targetref.Match{{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDExact, Value: "spiffe://default/legacy"}}},
						AllowWithShadowDeny: &[]targetref.Match{{
							SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDExact, Value: "spiffe://other/batch"},
							SNI:      &targetref.SNIMatch{Type: targetref.SNIExact, Value: "redis.default"},
						}},
					}}},
				},
			},
		},
	}
}

// noOutbounds: a single TCP inbound with a separate service address, admin without a readiness
// port on a loopback dataplane (no admin listener).
func noOutbounds() *generate.Proxy {
	return &generate.Proxy{
		Mesh: plainMesh(),
		Dataplane: dataplane("db-1", "127.0.0.1",
			[]core.Inbound{{Port: 15432, ServicePort: 5432, ServiceAddress: "127.0.0.5", Tags: tags("kuma.io/service", "db")}}, nil),
		Admin: generate.Admin{Port: 9901},
	}
}

// grpcClientProxy: a grpc-go client with a gRPC outbound and a subset outbound.
func grpcClientProxy() *generate.Proxy {
	p := grpcTwoZones()
	p.Dataplane.Spec.Networking.Inbound = nil
	p.Dataplane.Spec.Networking.Outbound = append(p.Dataplane.Spec.Networking.Outbound,
		core.Outbound{Port: 10003, Tags: tags("kuma.io/service", "orders", "kuma.io/zone", "zone-2")})
	return p
}

// zoneIngress serves two meshes: backend in two versions, and web.
func zoneIngress() *generate.IngressProxy {
	return &generate.IngressProxy{
		Name: "zi-1", Zone: "zone-1",
		Spec: &core.ZoneIngress{Zone: "zone-1", Networking: &core.ZoneIngressNetworking{
			Address: "10.0.0.1", Port: 10001, AdvertisedAddress: "203.0.113.1", AdvertisedPort: 10001,
		}},
		Services: []generate.IngressService{
			{Mesh: "mesh1", Service: "backend", Endpoints: []generate.Endpoint{
				{Address: "192.168.0.1", Port: 2521, Tags: map[string]string{"kuma.io/service": "backend", "version": "v1"}},
				{Address: "192.168.0.2", Port: 2521, Tags: map[string]string{"kuma.io/service": "backend", "version": "v2"}},
			}},
			{Mesh: "mesh2", Service: "web", Endpoints: []generate.Endpoint{
				{Address: "192.168.0.3", Port: 8080, Tags: map[string]string{"kuma.io/service": "web"}},
			}},
		},
	}
}

// testIdentity is placeholder mTLS material: generation copies it into SDS secrets without
// parsing it, so golden files stay stable (real certificates are tested in services/ca and
// the handshake tests).
func testIdentity() *generate.Identity {
	return &generate.Identity{CertPEM: []byte("identity-cert"), KeyPEM: []byte("identity-key"), CAPEM: []byte("mesh-ca")}
}

// mtlsSubsetOutbound: subset outbounds (one crossing zones) in an mTLS mesh with an issued
// identity: upstream TLS with Kuma's SNI per subset, SDS secrets.
func mtlsSubsetOutbound() *generate.Proxy {
	p := subsetOutbound()
	p.Mesh = mtlsMesh()
	p.Identity = testIdentity()
	return p
}

// mtlsGRPCClient: a grpc-go client in an mTLS mesh gets certificate provider instances.
func mtlsGRPCClient() *generate.Proxy {
	p := grpcClientProxy()
	p.Mesh = mtlsMesh()
	p.Identity = testIdentity()
	return p
}

// transparentProxy: a dual-stack dataplane with iptables redirection, no outbound section,
// and the mesh's virtual IPs: it reaches backend (local) and payments (another zone, through
// an ingress) on their VIPs, its own explicit outbound keeps its port, and kuma-dp's
// embedded DNS gets both names of the underscore service.
func transparentProxy() *generate.Proxy {
	p := sidecarHTTPInTCPOut()
	p.Dataplane.Spec.Networking.TransparentProxying = &core.TransparentProxying{RedirectPortInbound: 15006, RedirectPortOutbound: 15001}
	p.Admin.WorkDir = "/tmp/kuma-dp-web-1"
	p.Endpoints["backend"] = []generate.Endpoint{ep("192.168.0.20", 8080, "", "kuma.io/service", "backend", "kuma.io/protocol", "http")}
	p.Endpoints["payments_ns_svc_8080"] = []generate.Endpoint{{Address: "172.16.0.1", Port: 10001, Weight: 2, Zone: "zone-2",
		Tags: tags("kuma.io/service", "payments_ns_svc_8080", "kuma.io/protocol", "tcp", "kuma.io/zone", "zone-2")}}
	p.VirtualOutbounds = []generate.VirtualOutbound{
		{Address: "240.0.0.0", Port: 80, Tags: tags("kuma.io/service", "backend")},
		{Address: "240.0.0.1", Port: 80, Tags: tags("kuma.io/service", "db")},
		{Address: "240.0.0.2", Port: 80, Tags: tags("kuma.io/service", "payments_ns_svc_8080")},
		{Address: "240.0.0.3", Port: 80, Tags: tags("kuma.io/service", "web")},
	}
	p.DNS = &generate.DNSOptions{Embedded: true, Names: []generate.DNSName{
		{Name: "backend.mesh", Address: "240.0.0.0"},
		{Name: "db.mesh", Address: "240.0.0.1"},
		{Name: "payments.ns.svc.8080.mesh", Address: "240.0.0.2"},
		{Name: "payments_ns_svc_8080.mesh", Address: "240.0.0.2"},
		{Name: "web.mesh", Address: "240.0.0.3"},
		{Name: "gone.mesh", Address: "240.0.0.9"}, // no outbound: left out of the table
	}}
	return p
}

// transparentProxyIPv4Only: IPv4 only, a mesh without passthrough, reachableServices limited
// to backend, and no embedded DNS.
func transparentProxyIPv4Only() *generate.Proxy {
	p := transparentProxy()
	p.Dataplane.Spec.Networking.TransparentProxying.IPFamilyMode = core.IPFamilyIPv4
	p.Dataplane.Spec.Networking.TransparentProxying.ReachableServices = []string{"backend"}
	off := false
	p.Mesh.Spec.Networking = &core.MeshNetwork{Outbound: &core.MeshOutbound{Passthrough: &off}}
	p.DNS = nil
	return p
}
