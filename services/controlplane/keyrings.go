package controlplane

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// keyrings reads token keyrings from the read model: every signing key of a kind (Kuma's
// names, "<prefix>" and "<prefix>-<serial>") and its revocation list. Operators rotate keys and
// revoke tokens by writing those secrets (kumactl apply), so a keyring is looked up at every
// verification and rebuilt only when one of its secrets changed.
type keyrings struct {
	view *state.State
	// where the private zone and user keys are (see keyMode); mesh keys are always in the log.
	mode  keyMode
	vault atomic.Pointer[vault] // keysInVault: set once the global has opened it

	mu    sync.Mutex
	cache map[string]cachedKeyring
}

// keyMode says where a control plane finds the keys of zone and user tokens.
type keyMode int

const (
	// keysInLog: GlobalSecrets in this CP's own log (a standalone CP; nothing replicates it).
	keysInLog keyMode = iota
	// keysInVault: private keys in the global's vault, public copies in its replicated log.
	keysInVault
	// keysPublic: public copies replicated from the global (a federated zone verifies only).
	keysPublic
)

// modeFor is where a control plane of cfg's mode keeps zone and user keys.
func modeFor(cfg Config) keyMode {
	switch {
	case cfg.Mode == resources.ModeGlobal:
		return keysInVault
	case cfg.Federated():
		return keysPublic
	}
	return keysInLog
}

type cachedKeyring struct {
	fingerprint string
	signer      *tokens.Signer
}

func newKeyrings(cfg Config, view *state.State) *keyrings {
	return &keyrings{view: view, mode: modeFor(cfg), cache: map[string]cachedKeyring{}}
}

// zone is the keyring of zone tokens.
func (k *keyrings) zone() (*tokens.Signer, error) {
	return k.global(tokens.ZoneSigningKeyPrefix, tokens.ZonePublicKeyPrefix, tokens.ZoneRevocations)
}

// user is the keyring of user tokens.
func (k *keyrings) user() (*tokens.Signer, error) {
	return k.global(tokens.UserSigningKeyPrefix, tokens.UserPublicKeyPrefix, tokens.UserRevocations)
}

// global loads a keyring of a global kind from where this CP's mode keeps its keys.
func (k *keyrings) global(prefix, publicPrefix, revocations string) (*tokens.Signer, error) {
	switch k.mode {
	case keysPublic:
		return k.loadPublic(publicPrefix, revocations)
	case keysInVault:
		return k.loadVault(prefix, revocations)
	}
	return k.load("GlobalSecret", "", prefix, revocations, 0)
}

// loadVault builds a keyring from the global's vault (private keys) and its log (revocations).
func (k *keyrings) loadVault(prefix, revocations string) (*tokens.Signer, error) {
	v := k.vault.Load()
	if v == nil {
		return nil, errors.New("the global control plane is starting")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, fp, err := v.keys(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, &errNoKey{prefix: prefix}
	}
	revoked, rfp := k.revocations("GlobalSecret", "", revocations)
	return k.cached("vault/"+prefix, fp+rfp, func() (*tokens.Signer, error) { return tokens.NewKeyring(keys, revoked) })
}

// loadPublic builds a verify-only keyring from the public keys replicated to a zone.
func (k *keyrings) loadPublic(publicPrefix, revocations string) (*tokens.Signer, error) {
	var fp strings.Builder
	keys := map[int]*rsa.PublicKey{}
	var entries []*state.Entry
	for _, e := range k.view.List("GlobalSecret", state.Filter{NameLike: publicPrefix}) {
		if _, ok := tokens.ParseSerial(e.Name, publicPrefix); ok {
			entries = append(entries, e)
			fmt.Fprintf(&fp, "%s@%d,", e.Name, e.Revision)
		}
	}
	if len(entries) == 0 {
		return nil, &errNoKey{prefix: publicPrefix}
	}
	revoked, rfp := k.revocations("GlobalSecret", "", revocations)
	return k.cached("public/"+publicPrefix, fp.String()+rfp, func() (*tokens.Signer, error) {
		for _, e := range entries {
			serial, _ := tokens.ParseSerial(e.Name, publicPrefix)
			pub, err := tokens.DecodePublicKey(secretData(e))
			if err != nil {
				return nil, fmt.Errorf("GlobalSecret %s: %w", e.Name, err)
			}
			keys[serial] = pub
		}
		return tokens.NewVerifier(keys, revoked)
	})
}

// revocations reads a revocation list and a fingerprint of it.
func (k *keyrings) revocations(typ, mesh, name string) (map[string]bool, string) {
	e, ok := k.view.Get(typ, mesh, name)
	if !ok {
		return nil, ""
	}
	return tokens.ParseRevocations(secretData(e)), fmt.Sprintf("revocations@%d", e.Revision)
}

// cached returns the keyring built for id and fingerprint fp, building it if it changed.
func (k *keyrings) cached(id, fp string, build func() (*tokens.Signer, error)) (*tokens.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.cache[id]; ok && c.fingerprint == fp {
		return c.signer, nil
	}
	s, err := build()
	if err != nil {
		return nil, err
	}
	k.cache[id] = cachedKeyring{fingerprint: fp, signer: s}
	return s, nil
}

// mesh is the keyring of a mesh's dataplane tokens (Secrets of the mesh).
func (k *keyrings) mesh(mesh string) (*tokens.Signer, error) {
	// Earlier jetmesh versions stored a mesh's key under the bare name and signed with kid 1.
	return k.load("Secret", mesh, meshKeyPrefix(mesh), tokens.DataplaneRevocationsPrefix+"-"+mesh, 1)
}

func meshKeyPrefix(mesh string) string { return tokens.DataplaneSigningKeyPrefix + "-" + mesh }

// errNoKey: no signing key of the kind exists yet.
type errNoKey struct{ prefix string }

func (e *errNoKey) Error() string { return fmt.Sprintf("no signing key %s", e.prefix) }

// load builds the keyring of prefix; a key under the bare prefix has serial bareSerial (Kuma:
// 0) unless a key already has that serial.
func (k *keyrings) load(typ, mesh, prefix, revocations string, bareSerial int) (*tokens.Signer, error) {
	var fp strings.Builder
	var keys []*state.Entry
	for _, e := range k.view.List(typ, state.Filter{Mesh: mesh, NameLike: prefix}) {
		if _, ok := tokens.ParseSerial(e.Name, prefix); ok {
			keys = append(keys, e)
			fmt.Fprintf(&fp, "%s@%d,", e.Name, e.Revision)
		}
	}
	if len(keys) == 0 {
		return nil, &errNoKey{prefix: prefix}
	}
	revoked, rfp := k.revocations(typ, mesh, revocations)
	return k.cached(typ+"/"+mesh+"/"+prefix, fp.String()+rfp, func() (*tokens.Signer, error) {
		byserial := make(map[int]*rsa.PrivateKey, len(keys))
		var bare *rsa.PrivateKey
		for _, e := range keys {
			serial, _ := tokens.ParseSerial(e.Name, prefix)
			key, err := tokens.DecodeKey(secretData(e))
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", typ, e.Name, err)
			}
			if e.Name == prefix {
				bare = key
				continue
			}
			byserial[serial] = key
		}
		if _, taken := byserial[bareSerial]; bare != nil && !taken {
			byserial[bareSerial] = bare
		}
		return tokens.NewKeyring(byserial, revoked)
	})
}

func secretData(e *state.Entry) []byte {
	if s, ok := e.Resource.Spec.(*core.Secret); ok {
		return s.Data
	}
	return nil
}

// firstKeyName is the name a kind's first signing key is created with (Kuma's serial 1).
func firstKeyName(prefix string) string { return prefix + "-1" }
