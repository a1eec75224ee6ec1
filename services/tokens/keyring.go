package tokens

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Revocation lists, as Kuma names them: a Secret (dataplane tokens, per mesh) or a
// GlobalSecret (zone tokens) whose data is the revoked tokens' ids ("jti"), comma-separated.
const (
	DataplaneRevocationsPrefix = "dataplane-token-revocations" // + "-<mesh>"
	ZoneRevocations            = "zone-token-revocations"
)

// ErrRevoked: the token's id is on its revocation list.
var ErrRevoked = errors.New("token was revoked")

// ParseSerial reads the serial of a signing key's name: the prefix alone is serial 0 and
// "<prefix>-<n>" serial n (Kuma's scheme: "zone-token-signing-key-1", "-2", ...). ok is false
// for names that are not a key of this prefix.
func ParseSerial(name, prefix string) (serial int, ok bool) {
	if name == prefix {
		return 0, true
	}
	rest, found := strings.CutPrefix(name, prefix+"-")
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// ParseRevocations reads a revocation list's data: token ids separated by commas.
func ParseRevocations(data []byte) map[string]bool {
	out := map[string]bool{}
	for id := range strings.SplitSeq(strings.TrimSpace(string(data)), ",") {
		if id = strings.TrimSpace(id); id != "" {
			out[id] = true
		}
	}
	return out
}

// NewKeyring returns a Signer that issues with the key of the highest serial and accepts
// tokens signed by any of keys (rotation: add a key with a higher serial, reissue, then
// delete the old key, which invalidates the tokens it signed), refusing the token ids in
// revoked.
func NewKeyring(keys map[int]*rsa.PrivateKey, revoked map[string]bool) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no signing key")
	}
	latest := slices.Max(slices.Collect(maps.Keys(keys)))
	s := NewSigner(keys[latest], latest)
	for serial, k := range keys {
		s.public[strconv.Itoa(serial)] = &k.PublicKey
	}
	s.revoked = revoked
	return s, nil
}

// sign fills a token's registered claims reg (a new id, issued now, valid from five minutes
// ago for clock skew, expiring after validFor unless it is 0) and signs claims with the
// issuing key, naming it in the "kid" header.
func (s *Signer) sign(claims jwt.Claims, reg *jwt.RegisteredClaims, validFor time.Duration, what string) (string, error) {
	if s.key == nil {
		return "", fmt.Errorf("%s: %w", what, ErrVerifyOnly)
	}
	now := s.now()
	*reg = jwt.RegisteredClaims{ID: uuid.NewString(), IssuedAt: jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute))}
	if validFor > 0 {
		reg.ExpiresAt = jwt.NewNumericDate(now.Add(validFor))
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = strconv.Itoa(s.serial)
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("%s: sign: %w", what, err)
	}
	return signed, nil
}

// parse verifies a token's signature (by its "kid"), time claims and revocation into claims,
// whose registered part is reg.
func (s *Signer) parse(token string, claims jwt.Claims, reg *jwt.RegisteredClaims) error {
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := s.public[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("signed with key %q, which this control plane does not have (rotated out, or from another control plane)", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithLeeway(time.Minute))
	if err != nil {
		return err
	}
	if s.revoked[reg.ID] {
		return fmt.Errorf("%w (id %s)", ErrRevoked, reg.ID)
	}
	return nil
}
