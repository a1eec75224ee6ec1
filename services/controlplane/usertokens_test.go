package controlplane_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// apiCall sends one request as a caller elsewhere (a Host that is not this machine, so the
// localhost exemption does not apply) unless local, with a Bearer token when token is set.
func apiCall(t *testing.T, cp *cptest.CP, local bool, token, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, cp.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if !local {
		req.Host = "jetmesh.example:5681"
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// API authentication as Kuma does it: this machine is the admin, user tokens (issued by an
// admin) say who others are, anonymous callers and non-admins only read, secrets and tokens
// are for admins, a bad or revoked token is refused, and a browser page elsewhere cannot
// borrow localhost's access.
func TestAPIAuthentication(t *testing.T) {
	cp := cptest.Start(t, "")
	issue := func(body string) string {
		t.Helper()
		code, tok := apiCall(t, cp, true, "", "POST", "/tokens/user", body)
		if code != http.StatusOK || strings.Count(tok, ".") != 2 {
			t.Fatalf("POST /tokens/user %s = %d %s", body, code, tok)
		}
		return tok
	}
	admin := issue(`{"name":"alice","groups":["mesh-system:admin"],"validFor":"1h"}`)
	user := issue(`{"name":"bob","groups":["team-a"],"validFor":"1h"}`)
	mesh := `{"type":"Mesh","name":"m-%s"}`
	for _, tc := range []struct {
		who, token, method, path, body string
		want                           int
	}{
		{"anonymous", "", "GET", "/", "", 200},
		{"anonymous", "", "GET", "/meshes", "", 401},
		{"anonymous", "", "PUT", "/meshes/m-anon", strings.ReplaceAll(mesh, "%s", "anon"), 401},
		{"anonymous", "", "GET", "/meshes/default/secrets", "", 401},
		{"anonymous", "", "POST", "/tokens/user", `{"name":"eve","groups":["mesh-system:admin"]}`, 401},
		{"user", user, "GET", "/meshes", "", 200},
		{"user", user, "PUT", "/meshes/m-bob", strings.ReplaceAll(mesh, "%s", "bob"), 403},
		{"user", user, "GET", "/globalsecrets", "", 403},
		{"user", user, "POST", "/tokens/dataplane", `{"mesh":"default","name":"x"}`, 403},
		{"admin", admin, "PUT", "/meshes/m-alice", strings.ReplaceAll(mesh, "%s", "alice"), 201},
		{"admin", admin, "GET", "/meshes/default/secrets", "", 200},
		{"bad token", admin + "x", "GET", "/meshes", "", 401},
	} {
		if code, body := apiCall(t, cp, false, tc.token, tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s %s %s = %d, want %d: %s", tc.who, tc.method, tc.path, code, tc.want, body)
		}
	}
	// The audit trail names the user.
	_, events := apiCall(t, cp, true, "", "GET", "/events?type=Mesh&name=m-alice", "")
	if !strings.Contains(events, `"actor": "user:alice"`) {
		t.Errorf("the write is not attributed to alice: %s", events)
	}
	// A page on another site in a browser on this machine is not the admin.
	if code, _ := apiCall(t, cp, true, "", "PUT", "/meshes/m-csrf", strings.ReplaceAll(mesh, "%s", "csrf"),
		"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); code != 401 {
		t.Errorf("a cross-site browser request got admin access: %d", code)
	}
	// Revoked (the GlobalSecret user-token-revocations, as in Kuma).
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(admin, &c); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"type": "GlobalSecret", "name": "user-token-revocations",
		"data": base64.StdEncoding.EncodeToString([]byte(c.ID))})
	if code, b := apiCall(t, cp, true, "", "PUT", "/globalsecrets/user-token-revocations", string(body)); code != 201 {
		t.Fatalf("PUT revocations = %d %s", code, b)
	}
	if code, b := apiCall(t, cp, false, admin, "GET", "/meshes", ""); code != 401 || !strings.Contains(b, "Invalid authentication data") {
		t.Errorf("a revoked user token = %d %s, want 401", code, b)
	}
}

// The API is served over TLS too (Kuma's :5682), with the control plane's certificate, and the
// same access rules apply there.
func TestAPIOverHTTPS(t *testing.T) {
	cp := cptest.Start(t, "")
	if cp.HTTPSURL == "" {
		t.Fatal("no HTTPS listener")
	}
	pem, err := os.ReadFile(cp.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CP certificate is not PEM")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(host, path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, cp.HTTPSURL+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s over TLS: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("", "/meshes/default/secrets"); code != http.StatusOK {
		t.Errorf("admin from this machine over TLS: %d", code)
	}
	if code := get("jetmesh.example", "/meshes/default/secrets"); code != http.StatusUnauthorized {
		t.Errorf("anonymous secrets over TLS: %d, want 401", code)
	}
	if _, err := (&http.Client{}).Get(cp.HTTPSURL + "/"); err == nil {
		t.Error("a client that does not trust the CP certificate connected")
	}
}
