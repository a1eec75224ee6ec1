package zonesync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// The private keys of zone and user tokens never reach a zone: the global keeps them out of
// its replicated log, zones receive public copies and verify with them. A Kuma-style rotation
// (apply a GlobalSecret with the next serial on the global) stores the new key the same way.
func TestPrivateSigningKeysStayOnTheGlobal(t *testing.T) {
	port := cptest.FreePort(t)
	g := cptest.Start(t, "", cptest.Global(port))
	z := cptest.Start(t, "", cptest.Zone("zone-1", port, g.KDSCACertFile(), zoneToken(t, g, "zone-1")))
	userToken := mustCall(t, http.MethodPost, g.URL+"/tokens/user", `{"name":"alice","groups":["mesh-system:admin"],"validFor":"1h"}`, http.StatusOK)

	publics := []string{"user-token-signing-public-key-1", "zone-token-signing-public-key-1"}
	for _, cp := range []*cptest.CP{g, z} {
		eventually(t, "public keys at "+cp.URL, func() (bool, string) {
			names := listNames(t, cp.URL+"/globalsecrets")
			for _, n := range names {
				if strings.HasPrefix(n, tokens.ZoneSigningKeyPrefix+"-") || strings.HasPrefix(n, tokens.UserSigningKeyPrefix+"-") {
					t.Fatalf("%s holds the private key %s", cp.URL, n)
				}
			}
			return slices.Contains(names, publics[0]) && slices.Contains(names, publics[1]), fmt.Sprint(names)
		})
	}
	// A user token issued on the global works on the zone, which cannot issue one itself.
	req, _ := http.NewRequest(http.MethodGet, z.URL+"/meshes", nil)
	req.Host = "zone-cp.example"
	req.Header.Set("Authorization", "Bearer "+userToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the global's user token on the zone: %d %s", resp.StatusCode, body)
	}
	if code, out := call(t, http.MethodPost, z.URL+"/tokens/user", `{"name":"eve","validFor":"1h"}`); code != http.StatusBadRequest {
		t.Errorf("the zone issued a user token: %d %s", code, out)
	}

	// Rotation as Kuma documents it: apply the next key as a GlobalSecret on the global.
	key, err := tokens.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(map[string]any{"type": "GlobalSecret", "name": "zone-token-signing-key-2", "data": tokens.EncodeKey(key)})
	mustCall(t, http.MethodPut, g.URL+"/globalsecrets/zone-token-signing-key-2", string(secret), http.StatusCreated)
	mustCall(t, http.MethodGet, g.URL+"/globalsecrets/zone-token-signing-key-2", "", http.StatusNotFound)
	eventually(t, "the second public key on the zone", status(t, z.URL+"/globalsecrets/zone-token-signing-public-key-2", http.StatusOK))
	fresh := zoneToken(t, g, "zone-1")
	parsed, _, err := jwt.NewParser().ParseUnverified(fresh, &jwt.RegisteredClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := parsed.Header["kid"].(string); kid != "2" {
		t.Errorf("after rotation zone tokens have kid %q, want 2", kid)
	}
	if names := listNames(t, z.URL+"/globalsecrets"); slices.Contains(names, "zone-token-signing-key-2") {
		t.Errorf("the rotated private key reached the zone: %v", names)
	}
}

// A global started by an earlier version kept its zone token key as a GlobalSecret in the
// replicated log; at start the key moves into the vault, leaves the log, and keeps signing.
func TestLegacySigningKeyMovesToTheVault(t *testing.T) {
	dir := t.TempDir()
	port := cptest.FreePort(t)
	g := cptest.Start(t, dir, cptest.Global(port))
	key, err := tokens.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"type": "GlobalSecret", "name": "zone-token-signing-key-5", "data": tokens.EncodeKey(key)})
	if _, err := g.Store.Append(context.Background(), events.Change{
		Key: events.Key{Scope: events.GlobalScope, Type: "GlobalSecret", Name: "zone-token-signing-key-5"},
		Op:  events.OpUpsert, Revision: 1, Data: data, Actor: "control-plane",
	}); err != nil {
		t.Fatal(err)
	}
	g.Stop(t)

	g = cptest.Start(t, dir, cptest.Global(port))
	mustCall(t, http.MethodGet, g.URL+"/globalsecrets/zone-token-signing-key-5", "", http.StatusNotFound)
	mustCall(t, http.MethodGet, g.URL+"/globalsecrets/zone-token-signing-public-key-5", "", http.StatusOK)
	parsed, _, err := jwt.NewParser().ParseUnverified(zoneToken(t, g, "zone-1"), &jwt.RegisteredClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := parsed.Header["kid"].(string); kid != "5" {
		t.Errorf("zone tokens after the move have kid %q, want 5 (the moved key)", kid)
	}
}
