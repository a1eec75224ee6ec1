package controlplane

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/services/tokens"
)

// vaultBucket holds a global control plane's private signing keys for zone and user tokens.
// It is a JetStream key-value bucket of the global's own domain, not part of JETMESH_GLOBAL:
// zones mirror that stream, and a zone's link may create consumers only on it and on
// JETMESH_ZONE_PROXIES, so no zone can read this bucket. Zones get public keys instead
// (tokens.ZonePublicKeyPrefix, tokens.UserPublicKeyPrefix), as Kuma replicates them.
const vaultBucket = "JETMESH_SIGNING_KEYS"

// vault is the global's store of private signing keys, by Kuma's secret names
// ("zone-token-signing-key-1").
type vault struct {
	kv jetstream.KeyValue
}

func openVault(ctx context.Context, js jetstream.JetStream) (*vault, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: vaultBucket, History: 1,
		Storage: jetstream.FileStorage, Description: "jetmesh: private token signing keys (never replicated)"})
	if err != nil {
		return nil, fmt.Errorf("signing key vault: %w", err)
	}
	return &vault{kv: kv}, nil
}

// keys returns the keys whose names have prefix, by serial, and a fingerprint that changes
// when any of them does.
func (v *vault) keys(ctx context.Context, prefix string) (map[int]*rsa.PrivateKey, string, error) {
	lister, err := v.kv.ListKeys(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("signing key vault: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	out := map[int]*rsa.PrivateKey{}
	var fp strings.Builder
	for name := range lister.Keys() {
		serial, ok := tokens.ParseSerial(name, prefix)
		if !ok {
			continue
		}
		e, err := v.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("signing key %s: %w", name, err)
		}
		key, err := tokens.DecodeKey(e.Value())
		if err != nil {
			return nil, "", fmt.Errorf("signing key %s: %w", name, err)
		}
		out[serial] = key
		fmt.Fprintf(&fp, "%s@%d,", name, e.Revision())
	}
	return out, fp.String(), nil
}

func (v *vault) put(ctx context.Context, name string, pem []byte) error {
	if _, err := v.kv.Put(ctx, name, pem); err != nil {
		return fmt.Errorf("store signing key %s: %w", name, err)
	}
	return nil
}

func (v *vault) delete(ctx context.Context, name string) error {
	if err := v.kv.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete signing key %s: %w", name, err)
	}
	return nil
}
