package tokens

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestZoneTokens(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(key, 1)
	tok, err := s.IssueZone("zone-1", []string{ScopeCP}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.VerifyZone(tok, ScopeCP)
	if err != nil || c.Zone != "zone-1" {
		t.Fatalf("valid token: %v %+v", err, c)
	}
	if _, err := s.VerifyZone(tok, ScopeIngress); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("cp token accepted for ingress: %v", err)
	}

	// Default scopes are Kuma's: ingress and egress.
	def, err := s.IssueZone("zone-1", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.VerifyZone(def, ScopeEgress); err != nil || strings.Join(c.Scope, ",") != "ingress,egress" {
		t.Errorf("default scopes: %v %v", err, c.Scope)
	}

	// Expired, wrongly signed, tampered.
	s.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	old, err := s.IssueZone("zone-1", []string{ScopeCP}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.now = time.Now
	if _, err := s.VerifyZone(old, ScopeCP); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
	other, _ := NewKey()
	if _, err := NewSigner(other, 1).VerifyZone(tok, ScopeCP); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token verified with another key: %v", err)
	}
	if _, err := s.VerifyZone(tok[:len(tok)-4]+"AAAA", ScopeCP); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("tampered token: %v", err)
	}
	if _, err := s.IssueZone("zone-1", []string{"admin"}, 0); err == nil {
		t.Error("unknown scope accepted")
	}

	// The key survives a PEM round trip (it is stored as a GlobalSecret).
	back, err := DecodeKey(EncodeKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(back, 1).VerifyZone(tok, ScopeCP); err != nil {
		t.Errorf("decoded key: %v", err)
	}
}
