package snapshots

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"sync"
	"testing"
	"time"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/ca"
	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies"
)

// secretRecorder is a Publisher keeping the last identity certificate published per node.
type secretRecorder struct {
	mu    sync.Mutex
	certs map[string][]*x509.Certificate // every distinct identity certificate, in order
}

func (r *secretRecorder) SetSnapshot(_ context.Context, node string, byType map[string][]types.Resource, _ map[string]string) error {
	for _, res := range byType[resourcev3.SecretType] {
		s := res.(*tlsv3.Secret)
		if s.GetName() != generate.IdentitySecretName("default") {
			continue
		}
		b, _ := pem.Decode(s.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return err
		}
		r.mu.Lock()
		list := r.certs[node]
		if len(list) == 0 || !list[len(list)-1].Equal(c) {
			r.certs[node] = append(list, c)
		}
		r.mu.Unlock()
	}
	return nil
}

func (r *secretRecorder) ClearSnapshot(string) {}

func (r *secretRecorder) list(node string) []*x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*x509.Certificate(nil), r.certs[node]...)
}

// TestIdentityIssuedAndRotated: a proxy of an mTLS mesh gets an identity certificate signed by
// the CA from the log, with its SPIFFE id, and a new one before the old one expires.
func TestIdentityIssuedAndRotated(t *testing.T) {
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		t.Fatal(err)
	}
	rec := &secretRecorder{certs: map[string][]*x509.Certificate{}}
	p := New(reg, Generate, rec, scopeZone, slog.New(slog.DiscardHandler))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	h := &harness{t: t, p: p}
	root, err := ca.NewRoot("default", 2048, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	secret := func(name string, data []byte) string {
		b, _ := json.Marshal(map[string]any{"type": "Secret", "mesh": "default", "name": name, "data": data})
		return string(b)
	}
	h.apply("Secret", "default", ca.BuiltinCertSecret("default", "ca-1"), secret(ca.BuiltinCertSecret("default", "ca-1"), root.CertPEM))
	h.apply("Secret", "default", ca.BuiltinKeySecret("default", "ca-1"), secret(ca.BuiltinKeySecret("default", "ca-1"), root.KeyPEM))
	// 3s certificates rotate after 2.4s.
	h.apply("Mesh", "", "default", `{"type":"Mesh","name":"default","mtls":{"enabledBackend":"ca-1",
		"backends":[{"name":"ca-1","type":"builtin","dpCert":{"rotation":{"expiration":"3s"}}}]}}`)
	h.apply("Dataplane", "default", "web-1", dp("web-1", 18001, "web", "backend"))
	p.Connect(Client{NodeID: "default.web-1", Mesh: "default", Name: "web-1"})

	deadline := time.Now().Add(20 * time.Second)
	for len(rec.list("default.web-1")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("certificates published: %d, want a rotation", len(rec.list("default.web-1")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	certs := rec.list("default.web-1")
	first, second := certs[0], certs[1]
	if got := first.URIs[0].String(); got != "spiffe://default/web" {
		t.Fatalf("SPIFFE id %q", got)
	}
	rootCert, _, _ := ca.Parse(root)
	pool := x509.NewCertPool()
	pool.AddCert(rootCert)
	for _, c := range certs[:2] {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: c.NotBefore.Add(time.Second),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("identity does not verify against the mesh CA: %v", err)
		}
	}
	// The replacement was issued while the first was still valid (rotation at 4/5 of life).
	issuedFirst, issuedSecond := first.NotAfter.Add(-3*time.Second), second.NotAfter.Add(-3*time.Second)
	if !issuedSecond.Before(first.NotAfter) || issuedSecond.Sub(issuedFirst) < 2*time.Second {
		t.Fatalf("first issued %v expires %v, second issued %v: want rotation at 4/5 of the lifetime",
			issuedFirst, first.NotAfter, issuedSecond)
	}
}
