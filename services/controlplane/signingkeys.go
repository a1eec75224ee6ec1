package controlplane

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// globalKinds are the token kinds whose keys a global keeps out of its replicated log, with
// the names of their public copies.
var globalKinds = []struct{ prefix, public string }{
	{tokens.ZoneSigningKeyPrefix, tokens.ZonePublicKeyPrefix},
	{tokens.UserSigningKeyPrefix, tokens.UserPublicKeyPrefix},
}

// publicPrefixOf returns the public-copy prefix of a private key name's kind.
func publicPrefixOf(name string) (prefix, public string, serial int, ok bool) {
	for _, k := range globalKinds {
		if s, ok := tokens.ParseSerial(name, k.prefix); ok {
			return k.prefix, k.public, s, true
		}
	}
	return "", "", 0, false
}

// ensureGlobalKey creates the first key of a kind where this control plane keeps it: a
// GlobalSecret on a standalone CP, the vault plus a public copy on a global.
func (k *keyrings) ensureGlobalKey(ctx context.Context, m *manager.Manager, prefix, public string) error {
	_, err := k.global(prefix, public, "")
	var none *errNoKey
	if !errors.As(err, &none) {
		return err
	}
	switch k.mode {
	case keysInLog:
		return createKey(ctx, m, "GlobalSecret", "", firstKeyName(prefix))
	case keysInVault:
		key, err := tokens.NewKey()
		if err != nil {
			return err
		}
		return k.storePrivate(ctx, m, firstKeyName(prefix), key)
	}
	return tokens.ErrVerifyOnly
}

// storePrivate puts a private key in the vault and its public copy in the log.
func (k *keyrings) storePrivate(ctx context.Context, m *manager.Manager, name string, key *rsa.PrivateKey) error {
	v := k.vault.Load()
	if v == nil {
		return errors.New("the global control plane is starting")
	}
	_, public, serial, ok := publicPrefixOf(name)
	if !ok {
		return fmt.Errorf("%s is not a zone or user token signing key", name)
	}
	if err := v.put(ctx, name, tokens.EncodeKey(key)); err != nil {
		return err
	}
	pem, err := tokens.EncodePublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	desc, _ := m.Registry().ByName("GlobalSecret")
	r := &resources.Resource{Desc: desc, Meta: resources.Meta{Name: fmt.Sprintf("%s-%d", public, serial)},
		Spec: &core.Secret{Data: pem}}
	if _, err := m.Apply(ctx, r, manager.Who{Actor: "control-plane", System: true}); err != nil {
		return fmt.Errorf("publish the public key of %s: %w", name, err)
	}
	return nil
}

// divert keeps API writes of zone and user token signing keys out of a global's replicated
// log: kumactl apply of a GlobalSecret "zone-token-signing-key-2" (Kuma's rotation) stores the
// key in the vault and its public copy in the log; deleting it removes both.
func (k *keyrings) divert(m *manager.Manager) func(context.Context, *resources.Resource, bool) (bool, error) {
	return func(ctx context.Context, r *resources.Resource, deleted bool) (bool, error) {
		if r.Desc.Name != "GlobalSecret" {
			return false, nil
		}
		_, public, serial, ok := publicPrefixOf(r.Meta.Name)
		if !ok {
			return false, nil
		}
		if deleted {
			v := k.vault.Load()
			if v == nil {
				return true, errors.New("the global control plane is starting")
			}
			if err := v.delete(ctx, r.Meta.Name); err != nil {
				return true, err
			}
			err := m.Delete(ctx, r.Desc, "", fmt.Sprintf("%s-%d", public, serial), manager.Who{Actor: "control-plane", System: true})
			if errors.Is(err, events.ErrNotFound) {
				err = nil
			}
			return true, err
		}
		sec, _ := r.Spec.(*core.Secret)
		if sec == nil {
			return true, fmt.Errorf("%s: not a secret", r.Meta.Name)
		}
		key, err := tokens.DecodeKey(sec.Data)
		if err != nil {
			var v resources.ValidationError
			v.AddViolationf(resources.FieldPath("data"), "a signing key must be an RSA private key in PEM: %v", err)
			return true, v.OrNil()
		}
		return true, k.storePrivate(ctx, m, r.Meta.Name, key)
	}
}

// openGlobalVault opens the global's vault and moves keys an earlier version kept as
// GlobalSecrets in the replicated log into it. Zones that mirrored those keys still hold them:
// rotate the keys after the upgrade (docs/security.md).
func (k *keyrings) openGlobalVault(ctx context.Context, js jetstream.JetStream, m *manager.Manager) error {
	v, err := openVault(ctx, js)
	if err != nil {
		return err
	}
	k.vault.Store(v)
	desc, _ := m.Registry().ByName("GlobalSecret")
	for _, kind := range globalKinds {
		for _, e := range m.View().List("GlobalSecret", state.Filter{NameLike: kind.prefix}) {
			if _, _, _, ok := publicPrefixOf(e.Name); !ok || e.Feed() != "" {
				continue
			}
			key, err := tokens.DecodeKey(secretData(e))
			if err != nil {
				return fmt.Errorf("move GlobalSecret %s to the vault: %w", e.Name, err)
			}
			if err := k.storePrivate(ctx, m, e.Name, key); err != nil {
				return err
			}
			if err := m.Delete(ctx, desc, "", e.Name, manager.Who{Actor: "control-plane", System: true,
				Reason: "signing key moved out of the replicated log"}); err != nil && !errors.Is(err, events.ErrNotFound) {
				return err
			}
		}
		if err := k.ensureGlobalKey(ctx, m, kind.prefix, kind.public); err != nil {
			return err
		}
	}
	return nil
}
