// Package ca holds the mesh certificate authorities of mTLS: the builtin CA (a self-signed
// root generated per mesh and backend, kept as two Secrets in the event log so it survives
// restarts and replicates like any resource) and the provided CA (a user-supplied cert and key
// named by Secrets), and the issuance of dataplane identity certificates with SPIFFE ids.
//
// Key generation and signing are pure functions of their inputs and a clock; storing a new CA
// is the one effect, done by Ensure through the small Store interface the caller provides.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// Defaults taken from Kuma's builtin CA and issuer.
const (
	DefaultRSABits          = 2048
	DefaultCAValidity       = 10 * 365 * 24 * time.Hour
	DefaultIdentityValidity = 24 * time.Hour
	// allowedClockSkew back-dates NotBefore so that peers with a slightly late clock accept a
	// fresh certificate.
	allowedClockSkew = 10 * time.Second
)

// ErrNoCA is returned when the mesh has no usable CA (mTLS off, or the CA's secrets missing).
var ErrNoCA = errors.New("no certificate authority")

// KeyPair is a PEM certificate (chain) and its PEM private key.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// BuiltinCertSecret is the name of the Secret holding a builtin CA's certificate (Kuma's
// "<mesh>.ca-builtin-cert-<backend>").
func BuiltinCertSecret(mesh, backend string) string { return mesh + ".ca-builtin-cert-" + backend }

// BuiltinKeySecret is the name of the Secret holding a builtin CA's private key.
func BuiltinKeySecret(mesh, backend string) string { return mesh + ".ca-builtin-key-" + backend }

// NewRoot generates a self-signed root CA for mesh: an RSA key of rsaBits (0: 2048), subject
// O=Kuma, OU=Mesh, CN=<mesh>, URI SAN spiffe://<mesh>, valid for validity (0: ten years) from
// now, as Kuma's builtin CA.
func NewRoot(mesh string, rsaBits int, validity time.Duration, now time.Time) (KeyPair, error) {
	if rsaBits == 0 {
		rsaBits = DefaultRSABits
	}
	if validity == 0 {
		validity = DefaultCAValidity
	}
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return KeyPair{}, fmt.Errorf("root CA of mesh %s: generate key: %w", mesh, err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Kuma"}, OrganizationalUnit: []string{"Mesh"}, CommonName: mesh},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: mesh}},
		NotBefore:             now.Add(-allowedClockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("root CA of mesh %s: %w", mesh, err)
	}
	return encode(der, key)
}

// Identity is what a dataplane certificate asserts: the mesh (trust domain) and the
// dataplane's inbound tags, each tag with all its values.
type Identity struct {
	Mesh string
	Tags map[string][]string
}

// URIs are the identity's URI SANs in Kuma's order: spiffe://<mesh>/<service> for every
// kuma.io/service value, then kuma://<tag>/<value> for every tag and value, keys sorted.
func (id Identity) URIs() []*url.URL {
	var out []*url.URL
	for _, s := range sortedUnique(id.Tags[resources.TagService]) {
		out = append(out, &url.URL{Scheme: "spiffe", Host: id.Mesh, Path: "/" + s})
	}
	keys := make([]string, 0, len(id.Tags))
	for k := range id.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range sortedUnique(id.Tags[k]) {
			// Parsed as Kuma does: "kuma://kuma.io/service/web" has host "kuma.io".
			if u, err := url.Parse("kuma://" + k + "/" + v); err == nil {
				out = append(out, u)
			}
		}
	}
	return out
}

// DataplaneIdentity is the identity of a dataplane: the tags of all its inbounds.
func DataplaneIdentity(mesh string, dp *core.Dataplane) Identity {
	id := Identity{Mesh: mesh, Tags: map[string][]string{}}
	if dp == nil || dp.Networking == nil {
		return id
	}
	for _, in := range dp.Networking.Inbound {
		for k, v := range in.Tags {
			id.Tags[k] = append(id.Tags[k], v)
		}
	}
	return id
}

// Issue signs a new identity certificate for id with the CA, valid for validity (0: 24h)
// from now. The result's CertPEM holds only the leaf; the CA certificate is the validation
// context.
func Issue(caPair KeyPair, id Identity, validity time.Duration, now time.Time) (KeyPair, error) {
	if validity == 0 {
		validity = DefaultIdentityValidity
	}
	caCert, caKey, err := Parse(caPair)
	if err != nil {
		return KeyPair{}, err
	}
	// ECDSA P-256, where Kuma uses RSA 2048: generating an RSA key costs tens of
	// milliseconds, which at 10k proxies made issuing identities nearly all of the control
	// plane's CPU (docs/performance.md); Envoy and grpc-go accept either.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("identity of mesh %s: generate key: %w", id.Mesh, err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		URIs:                  id.URIs(),
		NotBefore:             now.Add(-allowedClockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageKeyAgreement | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("identity of mesh %s: sign: %w", id.Mesh, err)
	}
	return encode(der, key)
}

// Parse decodes a key pair's first certificate and its private key (PKCS#1, PKCS#8 or EC).
func Parse(p KeyPair) (*x509.Certificate, crypto.Signer, error) {
	cb, _ := pem.Decode(p.CertPEM)
	if cb == nil {
		return nil, nil, errors.New("CA certificate: not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	kb, _ := pem.Decode(p.KeyPEM)
	if kb == nil {
		return nil, nil, errors.New("CA key: not PEM")
	}
	key, err := parseKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	return cert, key, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return s, nil
}

// Lifetime returns the NotBefore and NotAfter of the pair's first certificate.
func Lifetime(certPEM []byte) (time.Time, time.Time, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return time.Time{}, time.Time{}, errors.New("certificate: not PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("certificate: %w", err)
	}
	return c.NotBefore, c.NotAfter, nil
}

// RotateAt is when a certificate issued at issued and valid until notAfter should be replaced:
// once 4/5 of its lifetime has passed, as Kuma does. The lifetime counts from issuance, not
// from the back-dated NotBefore, so short test lifetimes rotate at 4/5 too.
func RotateAt(issued, notAfter time.Time) time.Time {
	return issued.Add(notAfter.Sub(issued) * 4 / 5)
}

// encode writes a certificate and its key: RSA keys as PKCS#1 (as Kuma's CA secrets), others
// as PKCS#8.
func encode(der []byte, key crypto.Signer) (KeyPair, error) {
	kb := &pem.Block{Type: "PRIVATE KEY"}
	if k, ok := key.(*rsa.PrivateKey); ok {
		kb = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	} else {
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return KeyPair{}, fmt.Errorf("encode %T: %w", key, err)
		}
		kb.Bytes = pkcs8
	}
	return KeyPair{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: pem.EncodeToMemory(kb)}, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n, nil
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
