package tokens

import (
	"crypto/rsa"
	"reflect"
	"testing"
	"time"
)

// fuzzKey is fixed so that the seed tokens below verify in every run.
var fuzzKey = func() *rsa.PrivateKey {
	k, err := NewKey()
	if err != nil {
		panic(err)
	}
	return k
}()

// No input crashes token verification, and whatever verifies carries exactly the claims the
// control plane issued: a mutated token never passes as a different one.
func FuzzVerifyTokens(f *testing.F) {
	s := NewSigner(fuzzKey, 1)
	zone, err := s.IssueZone("zone-1", []string{ScopeCP}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	dp, err := s.IssueDataplane(DataplaneClaims{Mesh: "default", Name: "web"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	wantZone, err := s.VerifyZone(zone, ScopeCP)
	if err != nil {
		f.Fatal(err)
	}
	wantDP, err := s.VerifyDataplane(dp, "default", "web")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{zone, dp, "", ".", "..", "a.b.c", zone + "x", dp[:len(dp)/2],
		"eyJhbGciOiJub25lIn0.eyJab25lIjoiem9uZS0xIn0."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if c, err := s.VerifyZone(token, ScopeCP, ScopeIngress, ScopeEgress); err == nil && !reflect.DeepEqual(c, wantZone) {
			t.Fatalf("a token the CP did not issue verified as zone token: %+v", c)
		}
		if c, err := s.VerifyDataplane(token, "default", "web"); err == nil && !reflect.DeepEqual(c, wantDP) {
			t.Fatalf("a token the CP did not issue verified as dataplane token: %+v", c)
		}
	})
}
