// Package tokens issues and verifies the JWTs Kuma 2.x uses for zone credentials: zone tokens
// (kumactl generate zone-token) signed with an RSA key the global control plane keeps as a
// GlobalSecret in its event log, so the key survives restarts and its history is audited.
package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scopes of a zone token (Kuma's): a zone control plane, zone ingress and zone egress proxies.
const (
	ScopeCP      = "cp"
	ScopeIngress = "ingress"
	ScopeEgress  = "egress"
)

// ZoneSigningKeyPrefix names the GlobalSecrets holding zone token signing keys
// ("zone-token-signing-key-1", ...), as Kuma names them.
const ZoneSigningKeyPrefix = "zone-token-signing-key"

// ZoneClaims are a zone token's claims, in Kuma's JSON names.
type ZoneClaims struct {
	Zone  string   `json:"Zone"`
	Scope []string `json:"Scope"`
	jwt.RegisteredClaims
}

// ErrInvalidToken wraps every reason a token is refused.
var ErrInvalidToken = errors.New("invalid zone token")

// Signer issues tokens with one RSA key and verifies them against a set of keys (see
// NewKeyring) and a revocation list.
type Signer struct {
	key     *rsa.PrivateKey
	serial  int
	public  map[string]*rsa.PublicKey // by "kid"
	revoked map[string]bool           // token ids
	now     func() time.Time
}

// NewSigner returns a signer for key alone, whose serial becomes the tokens' "kid".
func NewSigner(key *rsa.PrivateKey, serial int) *Signer {
	return &Signer{key: key, serial: serial, public: map[string]*rsa.PublicKey{strconv.Itoa(serial): &key.PublicKey},
		now: time.Now}
}

// NewKey generates a signing key (RSA 2048, as Kuma).
func NewKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return k, nil
}

// EncodeKey returns the PEM form stored in the GlobalSecret.
func EncodeKey(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// DecodeKey parses a stored signing key.
func DecodeKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("signing key: not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("signing key: not an RSA key")
	}
	return rk, nil
}

// IssueZone returns a token for zone with the given scopes, valid for validFor (0: no expiry,
// which Kuma allows but warns about).
func (s *Signer) IssueZone(zone string, scope []string, validFor time.Duration) (string, error) {
	if zone == "" {
		return "", errors.New("zone token: zone is required")
	}
	if len(scope) == 0 {
		scope = []string{ScopeIngress, ScopeEgress}
	}
	for _, sc := range scope {
		if sc != ScopeCP && sc != ScopeIngress && sc != ScopeEgress {
			return "", fmt.Errorf("zone token: scope %q: must be cp, ingress or egress", sc)
		}
	}
	claims := ZoneClaims{Zone: zone, Scope: scope}
	return s.sign(&claims, &claims.RegisteredClaims, validFor, "zone token")
}

// VerifyZone checks a token's signature, expiry and that it grants one of scopes, and returns
// its claims. The error says why a token is refused.
func (s *Signer) VerifyZone(token string, scopes ...string) (ZoneClaims, error) {
	var claims ZoneClaims
	if err := s.parse(token, &claims, &claims.RegisteredClaims); err != nil {
		return ZoneClaims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Zone == "" {
		return ZoneClaims{}, fmt.Errorf("%w: no zone", ErrInvalidToken)
	}
	if !slices.ContainsFunc(scopes, func(sc string) bool { return slices.Contains(claims.Scope, sc) }) {
		return ZoneClaims{}, fmt.Errorf("%w: scope %v includes none of %v", ErrInvalidToken, claims.Scope, scopes)
	}
	return claims, nil
}
