package tokens

import (
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseSerialAndRevocations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serial int
		ok     bool
	}{
		{"zone-token-signing-key", 0, true},
		{"zone-token-signing-key-1", 1, true},
		{"zone-token-signing-key-12", 12, true},
		{"zone-token-signing-key-01", 0, false},
		{"zone-token-signing-key-x", 0, false},
		{"zone-token-signing-public-key-1", 0, false},
		{"zone-token-signing-key-", 0, false},
	} {
		if s, ok := ParseSerial(tc.name, ZoneSigningKeyPrefix); s != tc.serial || ok != tc.ok {
			t.Errorf("ParseSerial(%q) = %d, %v; want %d, %v", tc.name, s, ok, tc.serial, tc.ok)
		}
	}
	got := ParseRevocations([]byte(" a, b ,,c\n"))
	if len(got) != 3 || !got["a"] || !got["b"] || !got["c"] {
		t.Errorf("ParseRevocations = %v", got)
	}
}

func tokenID(t *testing.T, tok string) string {
	t.Helper()
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// Rotation: the newest key issues, every present key verifies, a removed key's tokens are
// refused; a revoked token id is refused with ErrRevoked while its siblings still pass.
func TestKeyringRotationAndRevocation(t *testing.T) {
	k1, _ := NewKey()
	k2, _ := NewKey()
	one, err := NewKeyring(map[int]*rsa.PrivateKey{1: k1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := one.IssueDataplane(DataplaneClaims{Mesh: "default", Name: "web"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	both, _ := NewKeyring(map[int]*rsa.PrivateKey{1: k1, 2: k2}, nil)
	fresh, err := both.IssueDataplane(DataplaneClaims{Mesh: "default", Name: "web"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if h := strings.Split(fresh, ".")[0]; both.serial != 2 || h == strings.Split(old, ".")[0] {
		t.Errorf("the newest key (2) must issue; serial %d", both.serial)
	}
	for name, tok := range map[string]string{"old": old, "fresh": fresh} {
		if _, err := both.VerifyDataplane(tok, "default", "web"); err != nil {
			t.Errorf("%s token refused while both keys exist: %v", name, err)
		}
	}
	onlyNew, _ := NewKeyring(map[int]*rsa.PrivateKey{2: k2}, nil)
	if _, err := onlyNew.VerifyDataplane(old, "default", "web"); err == nil || !strings.Contains(err.Error(), `key "1"`) {
		t.Errorf("token of a removed key: %v", err)
	}
	if _, err := onlyNew.VerifyDataplane(fresh, "default", "web"); err != nil {
		t.Errorf("fresh token after the old key went: %v", err)
	}

	revoking, _ := NewKeyring(map[int]*rsa.PrivateKey{1: k1, 2: k2}, ParseRevocations([]byte(tokenID(t, old))))
	if _, err := revoking.VerifyDataplane(old, "default", "web"); !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrInvalidDataplaneToken) {
		t.Errorf("revoked dataplane token: %v", err)
	}
	if _, err := revoking.VerifyDataplane(fresh, "default", "web"); err != nil {
		t.Errorf("a sibling of a revoked token: %v", err)
	}
	zt, _ := revoking.IssueZone("zone-1", nil, time.Hour)
	zr, _ := NewKeyring(map[int]*rsa.PrivateKey{2: k2}, ParseRevocations([]byte("x,"+tokenID(t, zt))))
	if _, err := zr.VerifyZone(zt, ScopeIngress); !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrInvalidToken) {
		t.Errorf("revoked zone token: %v", err)
	}
	if _, err := NewKeyring(nil, nil); err == nil {
		t.Error("a keyring without keys")
	}
}

// A verifier built from public keys accepts what the private keys signed, honours
// revocation, and issues nothing.
func TestVerifierFromPublicKeys(t *testing.T) {
	k, _ := NewKey()
	signer, _ := NewKeyring(map[int]*rsa.PrivateKey{3: k}, nil)
	tok, err := signer.IssueZone("zone-1", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := EncodePublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := DecodePublicKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(map[int]*rsa.PublicKey{3: pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyZone(tok, ScopeIngress); err != nil {
		t.Errorf("verifier refused a token of its key: %v", err)
	}
	if _, err := v.IssueZone("zone-2", nil, time.Hour); !errors.Is(err, ErrVerifyOnly) {
		t.Errorf("a verifier issued a token: %v", err)
	}
	revoking, _ := NewVerifier(map[int]*rsa.PublicKey{3: pub}, ParseRevocations([]byte(tokenID(t, tok))))
	if _, err := revoking.VerifyZone(tok, ScopeIngress); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := DecodePublicKey(EncodeKey(k)); err == nil {
		t.Error("a private key decoded as a public one")
	}
}
