package controlplane_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

func secretData(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	var s struct {
		Data string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Data == "" {
		t.Fatalf("GET %s: no data (%v)", url, err)
	}
	return s.Data
}

// A mesh enabling a builtin CA gets the CA as two Secrets in the log (Kuma's names), and the
// same CA is there after a restart.
func TestBuiltinCACreatedWithMeshAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	mesh := `{"type":"Mesh","name":"secure","mtls":{"enabledBackend":"ca-1","backends":[{"name":"ca-1","type":"builtin",
		"dpCert":{"rotation":{"expiration":"24h"}},"conf":{"caCert":{"RSAbits":2048,"expiration":"10y"}}}]}}`
	if code := status(t, "PUT", cp.URL+"/meshes/secure", mesh); code != 201 {
		t.Fatalf("create mesh: %d", code)
	}
	certURL := "/meshes/secure/secrets/secure.ca-builtin-cert-ca-1"
	keyURL := "/meshes/secure/secrets/secure.ca-builtin-key-ca-1"
	cert, key := secretData(t, cp.URL+certURL), secretData(t, cp.URL+keyURL)
	// Applying the mesh again keeps the CA.
	if code := status(t, "PUT", cp.URL+"/meshes/secure", mesh); code != 200 {
		t.Fatalf("update mesh: %d", code)
	}
	if secretData(t, cp.URL+certURL) != cert {
		t.Fatal("re-applying the mesh replaced its CA")
	}
	cp.Stop(t)

	cp2 := cptest.Start(t, dir)
	if secretData(t, cp2.URL+certURL) != cert || secretData(t, cp2.URL+keyURL) != key {
		t.Fatal("the CA changed across a restart")
	}
}
