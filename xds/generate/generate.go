package generate

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Generate returns the Envoy configuration of a sidecar: inbound listeners and local
// clusters, outbound listeners with their EDS clusters and load assignments, and the admin
// resources. It reads p and never modifies it.
func Generate(p *Proxy) (*Resources, error) {
	if err := checkProxy(p); err != nil {
		return nil, err
	}
	g := &generator{p: p}
	g.matchPolicies()
	g.inbounds()
	g.outbounds()
	g.opsClusters()
	g.admin()
	if g.err != nil {
		return nil, fmt.Errorf("generate %s/%s: %w", p.Mesh.Name, p.Dataplane.Meta.Name, g.err)
	}
	res := g.b.build()
	if err := g.proxyPatch(res); err != nil {
		return nil, fmt.Errorf("generate %s/%s: %w", p.Mesh.Name, p.Dataplane.Meta.Name, err)
	}
	return res, nil
}

func checkProxy(p *Proxy) error {
	dp := p.Dataplane.Spec
	if dp == nil || dp.Networking == nil {
		return fmt.Errorf("generate %s/%s: %w", p.Mesh.Name, p.Dataplane.Meta.Name, ErrNoNetworking)
	}
	if dp.IsBuiltinGateway() {
		return fmt.Errorf("generate %s/%s: %w", p.Mesh.Name, p.Dataplane.Meta.Name, ErrUnsupportedGateway)
	}
	return nil
}

// generator holds the state of one Generate call.
type generator struct {
	packer
	p *Proxy
	b builder
	m matched
	// grpcClient is set for GRPCClient: policies then emit only what grpc-go accepts.
	grpcClient bool
	// ops is what the operational policies mean for the proxy (ops_policies.go).
	ops opsMatched
}

// serverTransportSocket is the seam for inbound mTLS: with mTLS on, Kuma terminates TLS here
// (DownstreamTlsContext with SDS secrets "identity_cert:secret:<mesh>" and
// "mesh_ca:secret:<mesh>", requiring a client certificate whose URI SAN starts with
// "spiffe://<mesh>/"). TODO(security): return it once the CA and SDS secrets exist; until
// then a mesh with mTLS gets RBAC that no plaintext peer can satisfy, i.e. denies all.
func (g *generator) serverTransportSocket() *corev3.TransportSocket { return nil }

// clientTransportSocket is the seam for outbound mTLS: Kuma sets an UpstreamTlsContext with
// SNI "<service>{mesh=<mesh>,<subset tags>}" (tags sorted by key) and verifies the exact SAN
// "spiffe://<mesh>/<service>". TODO(security): return it with the SDS secrets.
func (g *generator) clientTransportSocket(_ map[string]string) *corev3.TransportSocket {
	return nil
}
