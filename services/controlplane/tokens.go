package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/tokens"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// Proxy authentication modes (Kuma's KUMA_DP_SERVER_AUTHN_*_TYPE values).
const (
	AuthnNone      = "none"
	AuthnDPToken   = "dpToken"
	AuthnZoneToken = "zoneToken"
)

// proxyAuth checks proxy credentials on /bootstrap and on every xDS stream: dataplane tokens
// signed with one of the mesh's keys (the mesh Secrets dataplane-token-signing-key-<mesh>-<n>)
// and not on its revocation list (dataplane-token-revocations-<mesh>), zone tokens for zone
// ingresses and egresses signed with one of the global's zone keys.
type proxyAuth struct {
	m        *manager.Manager
	dpMode   string
	zoneMode string
	zone     string
	// create: this CP may create a mesh's signing key (a standalone or global CP; a federated
	// zone uses the keys the global replicates, so that one key signs for every zone).
	create bool

	keys *keyrings
	mu   sync.Mutex // serialises creating a mesh's first key
}

func newProxyAuth(m *manager.Manager, cfg Config, keys *keyrings) *proxyAuth {
	return &proxyAuth{m: m, dpMode: cfg.DPServer.Authn.DPProxy.Type, zoneMode: cfg.DPServer.Authn.ZoneProxy.Type,
		zone: cfg.Multizone.Zone.Name, create: !cfg.Federated(), keys: keys}
}

// Authenticate implements xds/server.Authenticator.
func (a *proxyAuth) Authenticate(ctx context.Context, node *corev3.Node, token string) error {
	mesh, name, err := bootstrap.ParseProxyID(node.GetId())
	if err != nil {
		return err
	}
	pt := node.GetMetadata().GetFields()["dataplane.proxyType"].GetStringValue()
	return a.check(ctx, mesh, name, pt, token)
}

// check verifies a proxy's token for its mesh, name and type.
func (a *proxyAuth) check(ctx context.Context, mesh, name, proxyType, token string) error {
	switch proxyType {
	case "ingress", "egress":
		if a.zoneMode != AuthnZoneToken {
			return nil
		}
		if token == "" {
			return errors.New("zone token is required: kumactl generate zone-token --zone <zone> --scope " + proxyType)
		}
		signer, err := a.keys.zone()
		if none := (*errNoKey)(nil); errors.As(err, &none) {
			return errors.New("no zone token signing key: zone tokens come from the global control plane")
		}
		if err != nil {
			return err
		}
		claims, err := signer.VerifyZone(token, proxyType)
		if err != nil {
			return err
		}
		if claims.Zone != a.zone {
			return fmt.Errorf("zone token is for zone %q, this control plane is zone %q", claims.Zone, a.zone)
		}
		return nil
	}
	if a.dpMode != AuthnDPToken {
		return nil
	}
	if token == "" {
		return bootstrap.ErrTokenRequired
	}
	signer, err := a.meshSigner(ctx, mesh, false)
	if err != nil {
		return err
	}
	_, err = signer.VerifyDataplane(token, mesh, name)
	return err
}

// meshSigner returns the mesh's dataplane token keyring, creating its first key when allowed
// and asked (the first dataplane token of a mesh).
func (a *proxyAuth) meshSigner(ctx context.Context, mesh string, create bool) (*tokens.Signer, error) {
	s, err := a.keys.mesh(mesh)
	var none *errNoKey
	if !errors.As(err, &none) {
		return s, err
	}
	if !create || !a.create {
		return nil, fmt.Errorf("mesh %q has no dataplane token signing key: generate a dataplane token first (on the global control plane in a multi-zone deployment)", mesh)
	}
	a.mu.Lock() // one first key, even when two tokens are asked for at once
	defer a.mu.Unlock()
	if s, err := a.keys.mesh(mesh); !errors.As(err, &none) {
		return s, err
	}
	if err := createKey(ctx, a.m, "Secret", mesh, firstKeyName(meshKeyPrefix(mesh))); err != nil {
		return nil, fmt.Errorf("dataplane token signing key of mesh %s: %w", mesh, err)
	}
	return a.keys.mesh(mesh)
}

// createKey stores a new signing key as a secret of the control plane's own.
func createKey(ctx context.Context, m *manager.Manager, typ, mesh, name string) error {
	key, err := tokens.NewKey()
	if err != nil {
		return err
	}
	desc, _ := m.Registry().ByName(typ)
	r := &resources.Resource{Desc: desc, Meta: resources.Meta{Mesh: mesh, Name: name}, Spec: &core.Secret{Data: tokens.EncodeKey(key)}}
	if _, err := m.Apply(ctx, r, manager.Who{Actor: "control-plane", System: true}); err != nil {
		return fmt.Errorf("store %s %s: %w", typ, name, err)
	}
	return nil
}

// dataplaneTokenRequest is POST /tokens/dataplane's body (kumactl generate dataplane-token).
type dataplaneTokenRequest struct {
	Name     string              `json:"name"`
	Mesh     string              `json:"mesh"`
	Tags     map[string][]string `json:"tags"`
	Type     string              `json:"type"`
	Workload string              `json:"workload"`
	ValidFor string              `json:"validFor"`
}

// dataplaneTokenHandler serves POST /tokens/dataplane (kumactl generate dataplane-token).
func (a *proxyAuth) dataplaneTokenHandler() http.Handler {
	return tokenHandler(func(req *dataplaneTokenRequest) string { return req.ValidFor },
		func(ctx context.Context, req *dataplaneTokenRequest, validFor time.Duration) (string, int, error) {
			if req.Mesh == "" {
				req.Mesh = resources.DefaultMesh
			}
			if !a.m.MeshExists(req.Mesh) {
				return "", http.StatusBadRequest, fmt.Errorf("mesh %q does not exist", req.Mesh)
			}
			signer, err := a.meshSigner(ctx, req.Mesh, true)
			if err != nil {
				return "", http.StatusBadRequest, err
			}
			tok, err := signer.IssueDataplane(tokens.DataplaneClaims{Name: req.Name, Mesh: req.Mesh, Tags: req.Tags,
				Type: req.Type, Workload: req.Workload}, validFor)
			return tok, http.StatusBadRequest, err
		})
}
