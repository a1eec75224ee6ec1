package controlplane_test

import (
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// Secret values, signing keys and tokens appear neither in the control plane's logs nor in
// the error answers it gives for refused or invalid requests.
func TestSecretsStayOutOfLogsAndErrors(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) { c.DPServer.Authn.DPProxy.Type = controlplane.AuthnDPToken })
	const value = "c3VwZXJzZWNyZXQ=" // "supersecret"
	badToken := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJOYW1lIjoic3VwZXJzZWNyZXQifQ.c2lnbmF0dXJl"
	var answers []string
	// From elsewhere, with a bad token: refused, the token neither echoed nor logged.
	_, out := apiCall(t, cp, false, badToken, "PUT", "/meshes/default/secrets/s1",
		`{"type":"Secret","mesh":"default","name":"s1","data":"`+value+`"}`)
	answers = append(answers, out)
	// Invalid writes as the admin.
	for _, body := range []string{
		`{"type":"Secret","mesh":"default","name":"s2","data":"!!supersecret"}`,
		`{"type":"Secret","mesh":"default","name":"s3","data":"` + value + `","extra":"supersecret"}`,
		`{"type":"Secret","mesh":"nope","name":"s4","data":"` + value + `"}`,
	} {
		_, out := apiCall(t, cp, true, "", "PUT", "/meshes/default/secrets/s1", body)
		answers = append(answers, out)
	}
	code, tok := post(t, cp.URL+"/tokens/dataplane", `{"name":"backend-1","mesh":"default","validFor":"1h"}`)
	if code != 200 {
		t.Fatalf("POST /tokens/dataplane = %d %s", code, tok)
	}
	for _, bad := range []string{tok + "x", badToken} {
		_, out := bootstrapWith(t, cp, "frontend-1", bad)
		answers = append(answers, out)
		if err := adsWith(t, cp, "default.frontend-1", bad); err != nil {
			answers = append(answers, err.Error())
		}
	}
	logs := cp.Logs()
	if !strings.Contains(logs, "API authentication rejected") || !strings.Contains(logs, "proxy refused") {
		t.Fatalf("the refusals were not logged, so the check below proves nothing:\n%s", logs)
	}
	for _, leak := range []string{value, "supersecret", "c3VwZXJzZWNyZXQ", "PRIVATE KEY", "LS0tLS1CRUdJTi", tok, badToken} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q", leak)
		}
		for _, a := range answers {
			if strings.Contains(a, leak) {
				t.Errorf("an error answer contains %q: %s", leak, a)
			}
		}
	}
}
