package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DataplaneSigningKeyPrefix names the mesh Secret holding a mesh's dataplane token signing
// key ("dataplane-token-signing-key-<mesh>"), as Kuma names it.
const DataplaneSigningKeyPrefix = "dataplane-token-signing-key"

// DataplaneClaims are a dataplane token's claims, in Kuma's JSON names. Name empty means any
// dataplane of the mesh (Kuma allows tokens bound to tags or a proxy type only).
type DataplaneClaims struct {
	Name     string              `json:"Name"`
	Mesh     string              `json:"Mesh"`
	Tags     map[string][]string `json:"Tags"`
	Type     string              `json:"Type"`
	Workload string              `json:"Workload"`
	jwt.RegisteredClaims
}

// IssueDataplane returns a token for the claims' mesh and name, valid for validFor (0: no
// expiry).
func (s *Signer) IssueDataplane(c DataplaneClaims, validFor time.Duration) (string, error) {
	if c.Mesh == "" {
		return "", errors.New("dataplane token: mesh is required")
	}
	switch c.Type {
	case "", "dataplane", "ingress", "egress":
	default:
		return "", fmt.Errorf("dataplane token: type %q: must be dataplane, ingress or egress", c.Type)
	}
	if c.Tags == nil {
		c.Tags = map[string][]string{}
	}
	return s.sign(&c, &c.RegisteredClaims, validFor, "dataplane token")
}

// ErrInvalidDataplaneToken wraps every reason a dataplane token is refused.
var ErrInvalidDataplaneToken = errors.New("invalid dataplane token")

// VerifyDataplane checks a token's signature and expiry and that it is for the proxy
// mesh/name, and returns its claims.
func (s *Signer) VerifyDataplane(token, mesh, name string) (DataplaneClaims, error) {
	var c DataplaneClaims
	if err := s.parse(token, &c, &c.RegisteredClaims); err != nil {
		return DataplaneClaims{}, fmt.Errorf("%w: %w", ErrInvalidDataplaneToken, err)
	}
	if c.Mesh != mesh {
		return DataplaneClaims{}, fmt.Errorf("%w: proxy mesh from requestor: %s is different than in token: %s", ErrInvalidDataplaneToken, mesh, c.Mesh)
	}
	if c.Name != "" && c.Name != name {
		return DataplaneClaims{}, fmt.Errorf("%w: proxy name from requestor: %s is different than in token: %s", ErrInvalidDataplaneToken, name, c.Name)
	}
	return c, nil
}
