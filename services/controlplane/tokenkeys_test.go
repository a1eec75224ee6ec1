package controlplane_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/tokens"
)

// putSecret writes a mesh Secret through the API, as kumactl apply does.
func putSecret(t *testing.T, cp *cptest.CP, name string, data []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "Secret", "mesh": "default", "name": name,
		"data": base64.StdEncoding.EncodeToString(data)})
	req, _ := http.NewRequest(http.MethodPut, cp.URL+"/meshes/default/secrets/"+name, strings.NewReader(string(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT secret %s: %d", name, resp.StatusCode)
	}
}

func issueToken(t *testing.T, cp *cptest.CP, name string) (token, id, kid string) {
	t.Helper()
	code, token := post(t, cp.URL+"/tokens/dataplane", `{"name":"`+name+`","mesh":"default","validFor":"1h0m0s"}`)
	if code != http.StatusOK {
		t.Fatalf("POST /tokens/dataplane = %d %s", code, token)
	}
	var c jwt.RegisteredClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &c)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ = parsed.Header["kid"].(string)
	return token, c.ID, kid
}

// A revoked token is refused on /bootstrap and on ADS while its siblings still work; a new
// signing key with a higher serial signs new tokens, old ones keep working until their key is
// deleted. Both are done the way Kuma documents: by writing and deleting mesh Secrets.
func TestDataplaneTokenRevocationAndRotation(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) { c.DPServer.Authn.DPProxy.Type = controlplane.AuthnDPToken })
	revoked, revokedID, kid := issueToken(t, cp, "backend-1")
	kept, _, _ := issueToken(t, cp, "backend-1")
	if kid != "1" {
		t.Errorf("first key's tokens have kid %q, want 1", kid)
	}
	putSecret(t, cp, "dataplane-token-revocations-default", []byte("unrelated,"+revokedID))
	if code, body := bootstrapWith(t, cp, "backend-1", revoked); code != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("bootstrap with a revoked token = %d %s, want 401 saying revoked", code, body)
	}
	if err := adsWith(t, cp, "default.backend-1", revoked); grpcstatus.Code(err) != codes.Unauthenticated {
		t.Errorf("ADS with a revoked token: %v, want Unauthenticated", err)
	}
	if code, body := bootstrapWith(t, cp, "backend-1", kept); code != http.StatusOK {
		t.Fatalf("bootstrap with a token that was not revoked = %d %s", code, body)
	}

	key, err := tokens.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	putSecret(t, cp, "dataplane-token-signing-key-default-2", tokens.EncodeKey(key))
	fresh, _, kid := issueToken(t, cp, "backend-1")
	if kid != "2" {
		t.Errorf("after rotation tokens have kid %q, want 2", kid)
	}
	for name, tok := range map[string]string{"old": kept, "new": fresh} {
		if code, body := bootstrapWith(t, cp, "backend-1", tok); code != http.StatusOK {
			t.Errorf("%s token while both keys exist = %d %s", name, code, body)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, cp.URL+"/meshes/default/secrets/dataplane-token-signing-key-default-1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE old key: %v %v", err, resp)
	}
	resp.Body.Close()
	if code, body := bootstrapWith(t, cp, "backend-1", kept); code != http.StatusUnauthorized || !strings.Contains(body, `key "1"`) {
		t.Errorf("token of a deleted key = %d %s, want 401 naming the key", code, body)
	}
	if code, body := bootstrapWith(t, cp, "backend-1", fresh); code != http.StatusOK {
		t.Errorf("token of the new key after the old one went = %d %s", code, body)
	}
}

// A mesh key stored under the bare name by earlier jetmesh versions keeps verifying the
// tokens those versions issued (kid 1).
func TestLegacyBareMeshKeyStillVerifies(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) { c.DPServer.Authn.DPProxy.Type = controlplane.AuthnDPToken })
	key, err := tokens.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	putSecret(t, cp, "dataplane-token-signing-key-default", tokens.EncodeKey(key))
	old, err := tokens.NewSigner(key, 1).IssueDataplane(tokens.DataplaneClaims{Mesh: "default", Name: "backend-1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := bootstrapWith(t, cp, "backend-1", old); code != http.StatusOK {
		t.Errorf("a token of the bare-named key = %d %s", code, body)
	}
}
