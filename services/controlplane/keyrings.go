package controlplane

import (
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// keyrings reads token keyrings from the read model: every signing key of a kind (Kuma's
// names, "<prefix>" and "<prefix>-<serial>") and its revocation list. Operators rotate keys and
// revoke tokens by writing those secrets (kumactl apply), so a keyring is looked up at every
// verification and rebuilt only when one of its secrets changed.
type keyrings struct {
	view *state.State

	mu    sync.Mutex
	cache map[string]cachedKeyring
}

type cachedKeyring struct {
	fingerprint string
	signer      *tokens.Signer
}

func newKeyrings(view *state.State) *keyrings {
	return &keyrings{view: view, cache: map[string]cachedKeyring{}}
}

// zone is the keyring of zone tokens (GlobalSecrets, written on the global and replicated).
func (k *keyrings) zone() (*tokens.Signer, error) {
	return k.load("GlobalSecret", "", tokens.ZoneSigningKeyPrefix, tokens.ZoneRevocations, 0)
}

// user is the keyring of user tokens (GlobalSecrets, written on the global and replicated).
func (k *keyrings) user() (*tokens.Signer, error) {
	return k.load("GlobalSecret", "", tokens.UserSigningKeyPrefix, tokens.UserRevocations, 0)
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
	var revoked *state.Entry
	for _, e := range k.view.List(typ, state.Filter{Mesh: mesh, NameLike: prefix}) {
		if _, ok := tokens.ParseSerial(e.Name, prefix); ok {
			keys = append(keys, e)
			fmt.Fprintf(&fp, "%s@%d,", e.Name, e.Revision)
		}
	}
	if e, ok := k.view.Get(typ, mesh, revocations); ok {
		revoked = e
		fmt.Fprintf(&fp, "revocations@%d", e.Revision)
	}
	if len(keys) == 0 {
		return nil, &errNoKey{prefix: prefix}
	}
	id := typ + "/" + mesh + "/" + prefix
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.cache[id]; ok && c.fingerprint == fp.String() {
		return c.signer, nil
	}
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
	var ids map[string]bool
	if revoked != nil {
		ids = tokens.ParseRevocations(secretData(revoked))
	}
	s, err := tokens.NewKeyring(byserial, ids)
	if err != nil {
		return nil, err
	}
	k.cache[id] = cachedKeyring{fingerprint: fp.String(), signer: s}
	return s, nil
}

func secretData(e *state.Entry) []byte {
	if s, ok := e.Resource.Spec.(*core.Secret); ok {
		return s.Data
	}
	return nil
}

// firstKeyName is the name a kind's first signing key is created with (Kuma's serial 1).
func firstKeyName(prefix string) string { return prefix + "-1" }
