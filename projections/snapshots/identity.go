package snapshots

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/ca"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// meshSecrets is a mesh's Secrets as the projection folded them, read by ca.Load.
type meshSecrets map[string][]byte

func (s meshSecrets) Secret(_, name string) ([]byte, bool) { d, ok := s[name]; return d, ok }

// PutSecret is never called: the projection only reads (ca.Ensure runs in the control plane).
func (s meshSecrets) PutSecret(_ context.Context, _, name string, _ []byte) error {
	return fmt.Errorf("secret %s: the xDS projection is read-only", name)
}

// mtlsInputLocked adds the mesh CA and the certificate lifetime to in when the mesh has mTLS.
// A CA that is not (yet) in the log leaves in.CA nil: the proxy then gets transport sockets
// naming SDS secrets that are not there, and Envoy waits for them, as with Kuma.
func (p *Projector) mtlsInputLocked(m *meshState, in *Input) {
	spec, _ := m.mesh.Spec.(*core.Mesh)
	backend, ok := ca.EnabledBackend(spec)
	if !ok {
		return
	}
	pair, err := ca.Load(m.secrets, m.mesh.Meta.Name, spec)
	if err != nil {
		// Debug, not Warn: this runs for every proxy of the mesh on every rebuild until the
		// CA's secrets arrive (on a zone, by replication right after the mesh).
		p.log.Debug("mesh CA not available", "mesh", m.mesh.Meta.Name, "err", err)
		return
	}
	in.CA = &pair
	in.CertValidity = ca.IdentityValidity(backend)
}

// identities issues and caches the proxies' identity certificates: a proxy keeps its
// certificate until the CA or its tags change or 4/5 of its lifetime has passed (Kuma's
// rotation point), and a timer marks it for regeneration at that point so the new
// certificate is in the snapshot well before the old one expires. Issuance is the effect at
// the edge of the pure generator: keys are random and validity depends on the clock.
type identities struct {
	now func() time.Time
	// rotate is called (from a timer goroutine) when a node's certificate is due.
	rotate func(nodeID string)

	mu     sync.Mutex
	byNode map[string]issued
	timers map[string]*time.Timer
}

type issued struct {
	caPEM    []byte
	tags     string
	identity *generate.Identity
	rotateAt time.Time
}

func newIdentities(now func() time.Time, rotate func(string)) *identities {
	return &identities{now: now, rotate: rotate, byNode: map[string]issued{}, timers: map[string]*time.Timer{}}
}

// get returns the node's current identity, issuing a new one when needed.
func (ids *identities) get(nodeID string, mesh string, dp *core.Dataplane, caPair ca.KeyPair, validity time.Duration) (*generate.Identity, error) {
	id := ca.DataplaneIdentity(mesh, dp)
	tags := tagsKey(id.Tags)
	now := ids.now()
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if cur, ok := ids.byNode[nodeID]; ok && bytes.Equal(cur.caPEM, caPair.CertPEM) && cur.tags == tags && now.Before(cur.rotateAt) {
		return cur.identity, nil
	}
	leaf, err := ca.Issue(caPair, id, validity, now)
	if err != nil {
		return nil, fmt.Errorf("identity of %s: %w", nodeID, err)
	}
	_, notAfter, err := ca.Lifetime(leaf.CertPEM)
	if err != nil {
		return nil, err
	}
	rotateAt := ca.RotateAt(now, notAfter)
	gi := &generate.Identity{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: caPair.CertPEM}
	ids.byNode[nodeID] = issued{caPEM: caPair.CertPEM, tags: tags, identity: gi, rotateAt: rotateAt}
	if t := ids.timers[nodeID]; t != nil {
		t.Stop()
	}
	ids.timers[nodeID] = time.AfterFunc(rotateAt.Sub(now), func() { ids.rotate(nodeID) })
	return gi, nil
}

// forget drops a disconnected node's certificate and timer.
func (ids *identities) forget(nodeID string) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if t := ids.timers[nodeID]; t != nil {
		t.Stop()
	}
	delete(ids.timers, nodeID)
	delete(ids.byNode, nodeID)
}

// stop stops every rotation timer.
func (ids *identities) stop() {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	for _, t := range ids.timers {
		t.Stop()
	}
	ids.timers = map[string]*time.Timer{}
}

func tagsKey(tags map[string][]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		vs := slices.Clone(tags[k])
		slices.Sort(vs)
		b.WriteString(k + "=" + strings.Join(vs, ",") + ";")
	}
	return b.String()
}
