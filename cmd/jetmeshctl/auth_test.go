package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

// jetmeshctl reaches an https:// API it verifies with --ca-cert-file, and sends --api-token:
// with localhost not trusted as admin, a call without a token and one with a token the
// control plane did not issue are refused, each with the API's one-line reason.
func TestHTTPSAndToken(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) { c.APIServer.Authn.LocalhostIsAdmin = false })
	run1 := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append(args, "--api-address", cp.HTTPSURL, "--ca-cert-file", cp.CACertFile), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, _, errOut := run1("events"); code != 1 || !strings.Contains(errOut, "user token is required") {
		t.Fatalf("events over https without a token: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut := run1("events", "--api-token", "not-a-token")
	if code != 1 || !strings.Contains(errOut, "Invalid authentication data") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("a bad token: exit %d, stderr %q; want 1 and one line saying why", code, errOut)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"events", "--api-address", cp.HTTPSURL}, &stdout, &stderr); code != 1 {
		t.Errorf("https without the CP certificate: exit %d (%s)", code, stderr.String())
	}
}
