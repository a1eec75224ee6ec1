package tokens

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Public-key copies of signing keys, as Kuma names the one it replicates to zones: a zone
// verifies tokens with them and cannot sign any.
const (
	ZonePublicKeyPrefix = "zone-token-signing-public-key"
	UserPublicKeyPrefix = "user-token-signing-public-key"
)

// ErrVerifyOnly: this control plane holds public keys only; tokens are issued elsewhere.
var ErrVerifyOnly = errors.New("this control plane verifies these tokens but does not issue them: ask the global control plane")

// EncodePublicKey returns the PEM form of a public key (PKIX).
func EncodePublicKey(k *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// DecodePublicKey parses a stored public key.
func DecodePublicKey(b []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("public key: not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("public key: not an RSA key")
	}
	return rk, nil
}

// NewVerifier returns a Signer that verifies tokens signed by the private halves of keys and
// not on revoked, and refuses to issue any (ErrVerifyOnly).
func NewVerifier(keys map[int]*rsa.PublicKey, revoked map[string]bool) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no signing key")
	}
	s := &Signer{public: map[string]*rsa.PublicKey{}, revoked: revoked, now: time.Now}
	for serial, k := range keys {
		s.public[strconv.Itoa(serial)] = k
	}
	return s, nil
}
