package generate

import (
	"fmt"
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
	g.transparentProxy()
	g.secrets()
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
