package ca

import (
	"context"
	"fmt"
	"time"

	"github.com/jetmesh/jetmesh/resources/core"
)

// Secrets reads and writes mesh-scoped Secrets (the event log through the resource manager).
type Secrets interface {
	// Secret returns the data of Secret name in mesh.
	Secret(mesh, name string) ([]byte, bool)
	// PutSecret appends a Secret (as the control plane, not a user).
	PutSecret(ctx context.Context, mesh, name string, data []byte) error
}

// EnabledBackend returns the mesh's enabled CA backend, or false when mTLS is off.
func EnabledBackend(spec *core.Mesh) (core.CABackend, bool) {
	if spec == nil || !spec.MTLSEnabled() {
		return core.CABackend{}, false
	}
	for _, b := range spec.MTLS.Backends {
		if b.Name == spec.MTLS.EnabledBackend {
			return b, true
		}
	}
	return core.CABackend{}, false
}

// IdentityValidity is the backend's dpCert.rotation.expiration (24h when unset).
func IdentityValidity(b core.CABackend) time.Duration {
	if b.DpCert == nil || b.DpCert.Rotation == nil || b.DpCert.Rotation.Expiration == "" {
		return DefaultIdentityValidity
	}
	d, err := core.ParseKumaDuration(b.DpCert.Rotation.Expiration)
	if err != nil || d <= 0 {
		return DefaultIdentityValidity // validation rejects bad values; this is a safe floor
	}
	return time.Duration(d)
}

// Ensure creates the root CA of every builtin backend of the mesh whose Secrets do not exist
// yet, as Kuma's builtin CA manager does when a mesh is created or updated. Existing CAs are
// kept: they are in the log and survive restarts.
func Ensure(ctx context.Context, s Secrets, mesh string, spec *core.Mesh, now time.Time) error {
	if spec == nil || spec.MTLS == nil {
		return nil
	}
	for _, b := range spec.MTLS.Backends {
		if b.Type != core.CABuiltin {
			continue
		}
		certName, keyName := BuiltinCertSecret(mesh, b.Name), BuiltinKeySecret(mesh, b.Name)
		_, haveCert := s.Secret(mesh, certName)
		_, haveKey := s.Secret(mesh, keyName)
		if haveCert && haveKey {
			continue
		}
		var cfg core.BuiltinCAConfig
		if err := b.Conf.Decode(&cfg); err != nil {
			return fmt.Errorf("builtin CA %s of mesh %s: conf: %w", b.Name, mesh, err)
		}
		bits, validity := 0, time.Duration(0)
		if cfg.CACert != nil {
			if cfg.CACert.RSABits != nil {
				bits = int(*cfg.CACert.RSABits)
			}
			if cfg.CACert.Expiration != "" {
				d, err := core.ParseKumaDuration(cfg.CACert.Expiration)
				if err != nil {
					return fmt.Errorf("builtin CA %s of mesh %s: caCert.expiration: %w", b.Name, mesh, err)
				}
				validity = time.Duration(d)
			}
		}
		pair, err := NewRoot(mesh, bits, validity, now)
		if err != nil {
			return err
		}
		// The key first: a cert without its key would be taken as an existing CA.
		if err := s.PutSecret(ctx, mesh, keyName, pair.KeyPEM); err != nil {
			return fmt.Errorf("store builtin CA key of mesh %s: %w", mesh, err)
		}
		if err := s.PutSecret(ctx, mesh, certName, pair.CertPEM); err != nil {
			return fmt.Errorf("store builtin CA cert of mesh %s: %w", mesh, err)
		}
	}
	return nil
}

// Load returns the key pair of the mesh's enabled CA: the builtin CA's Secrets, or the
// provided CA's cert and key data sources (Secret, inline bytes or inline string; files are
// not read by the control plane). ErrNoCA when mTLS is off or the material is missing.
func Load(s Secrets, mesh string, spec *core.Mesh) (KeyPair, error) {
	b, ok := EnabledBackend(spec)
	if !ok {
		return KeyPair{}, fmt.Errorf("mesh %s: %w", mesh, ErrNoCA)
	}
	switch b.Type {
	case core.CABuiltin:
		cert, ok1 := s.Secret(mesh, BuiltinCertSecret(mesh, b.Name))
		key, ok2 := s.Secret(mesh, BuiltinKeySecret(mesh, b.Name))
		if !ok1 || !ok2 {
			return KeyPair{}, fmt.Errorf("mesh %s backend %s: secrets missing: %w", mesh, b.Name, ErrNoCA)
		}
		return KeyPair{CertPEM: cert, KeyPEM: key}, nil
	case core.CAProvided:
		var cfg core.ProvidedCAConfig
		if err := b.Conf.Decode(&cfg); err != nil {
			return KeyPair{}, fmt.Errorf("provided CA %s of mesh %s: conf: %w", b.Name, mesh, err)
		}
		cert, err := dataSource(s, mesh, cfg.Cert)
		if err != nil {
			return KeyPair{}, fmt.Errorf("provided CA %s of mesh %s: cert: %w", b.Name, mesh, err)
		}
		key, err := dataSource(s, mesh, cfg.Key)
		if err != nil {
			return KeyPair{}, fmt.Errorf("provided CA %s of mesh %s: key: %w", b.Name, mesh, err)
		}
		return KeyPair{CertPEM: cert, KeyPEM: key}, nil
	default:
		return KeyPair{}, fmt.Errorf("mesh %s backend %s: type %q: %w", mesh, b.Name, b.Type, ErrNoCA)
	}
}

func dataSource(s Secrets, mesh string, ds *core.DataSource) ([]byte, error) {
	switch {
	case ds == nil:
		return nil, ErrNoCA
	case ds.Secret != nil:
		data, ok := s.Secret(mesh, *ds.Secret)
		if !ok {
			return nil, fmt.Errorf("secret %q not found: %w", *ds.Secret, ErrNoCA)
		}
		return data, nil
	case ds.Inline != nil:
		return *ds.Inline, nil
	case ds.InlineString != nil:
		return []byte(*ds.InlineString), nil
	default:
		return nil, fmt.Errorf("only secret and inline data sources are supported: %w", ErrNoCA)
	}
}
