package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/resources/core"
)

// memSecrets is a hand-written fake of our own Secrets interface.
type memSecrets map[string][]byte

func (m memSecrets) Secret(mesh, name string) ([]byte, bool) { d, ok := m[mesh+"/"+name]; return d, ok }
func (m memSecrets) PutSecret(_ context.Context, mesh, name string, data []byte) error {
	m[mesh+"/"+name] = data
	return nil
}

func meshSpec(t *testing.T, js string) *core.Mesh {
	t.Helper()
	var m core.Mesh
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestBuiltinCAIssuesVerifiableIdentity(t *testing.T) {
	spec := meshSpec(t, `{"mtls":{"enabledBackend":"ca-1","backends":[{"name":"ca-1","type":"builtin",
		"dpCert":{"rotation":{"expiration":"1h"}},"conf":{"caCert":{"RSAbits":2048,"expiration":"1y"}}}]}}`)
	s := memSecrets{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := Ensure(context.Background(), s, "demo", spec, now); err != nil {
		t.Fatal(err)
	}
	if _, ok := s["demo/demo.ca-builtin-cert-ca-1"]; !ok {
		t.Fatalf("no cert secret: %v", s)
	}
	first := string(s["demo/demo.ca-builtin-cert-ca-1"])
	if err := Ensure(context.Background(), s, "demo", spec, now); err != nil {
		t.Fatal(err)
	}
	if string(s["demo/demo.ca-builtin-cert-ca-1"]) != first {
		t.Fatal("Ensure replaced an existing CA")
	}
	pair, err := Load(s, "demo", spec)
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := Parse(pair)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA || root.Subject.CommonName != "demo" || root.NotAfter.Sub(now) != 365*24*time.Hour {
		t.Fatalf("root: CA %v CN %q notAfter %v", root.IsCA, root.Subject.CommonName, root.NotAfter)
	}
	b, _ := EnabledBackend(spec)
	id := Identity{Mesh: "demo", Tags: map[string][]string{"kuma.io/service": {"web", "api", "web"}, "version": {"v1"}}}
	leaf, err := Issue(pair, id, IdentityValidity(b), now)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := Parse(KeyPair{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, u := range cert.URIs {
		uris = append(uris, u.String())
	}
	want := []string{"spiffe://demo/api", "spiffe://demo/web", "kuma://kuma.io/service/api", "kuma://kuma.io/service/web", "kuma://version/v1"}
	if len(uris) != len(want) {
		t.Fatalf("URIs %v, want %v", uris, want)
	}
	for i := range want {
		if uris[i] != want[i] {
			t.Fatalf("URIs %v, want %v", uris, want)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("identity does not verify against the mesh CA: %v", err)
	}
	_, na, _ := Lifetime(leaf.CertPEM)
	if got := RotateAt(now, na); !got.Equal(now.Add(48 * time.Minute)) {
		t.Fatalf("rotation at %v, want 4/5 of 1h", got)
	}
}

func TestProvidedCA(t *testing.T) {
	root, err := NewRoot("ext", 2048, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := memSecrets{"m/my-cert": root.CertPEM, "m/my-key": root.KeyPEM}
	spec := meshSpec(t, `{"mtls":{"enabledBackend":"p","backends":[{"name":"p","type":"provided",
		"conf":{"cert":{"secret":"my-cert"},"key":{"secret":"my-key"}}}]}}`)
	if err := Ensure(context.Background(), s, "m", spec, time.Now()); err != nil || len(s) != 2 {
		t.Fatalf("Ensure on a provided CA: %v, secrets %d", err, len(s))
	}
	pair, err := Load(s, "m", spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Issue(pair, Identity{Mesh: "m", Tags: map[string][]string{"kuma.io/service": {"a"}}}, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	delete(s, "m/my-key")
	if _, err := Load(s, "m", spec); !errors.Is(err, ErrNoCA) {
		t.Fatalf("missing key secret: %v", err)
	}
	if _, err := Load(s, "m", &core.Mesh{}); !errors.Is(err, ErrNoCA) {
		t.Fatalf("mTLS off: %v", err)
	}
}
