package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for jetmesh-bench when it starts its own control
// plane (it runs os.Executable() internal-cp ...).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == internalCP {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// With no --api the tool starts a control plane as a child process, measures it and stops it.
func TestFirstConfigAgainstStartedControlPlane(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"first-config", "-n", "6", "-spread", "2", "-joins", "1", "-ramp", "6", "-c", "2",
		"-log-level", "warn", "-timeout", "2m"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	if got["scenario"] != "first-config" || got["first_config_count"] != 6.0 || got["join_count"] != 1.0 || got["streams_failed"] != 0.0 {
		t.Errorf("unexpected result: %v", got)
	}
}

// multizone without --global-api starts a global and two zones as child processes, wired
// with zone tokens and the global's CA, measures both parts and stops them.
func TestMultiZoneAgainstStartedControlPlanes(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"multizone", "-n", "6", "-spread", "2", "-k", "2", "-ramp", "6", "-c", "2",
		"-log-level", "warn", "-timeout", "3m"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	if got["scenario"] != "multizone" || got["change_last_count"] != 2.0 || got["affected"] != 2.0 ||
		got["cross_zone_count"] != 2.0 || got["streams_failed"] != 0.0 || got["nacks"] != 0.0 {
		t.Errorf("unexpected result: %v", got)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"first-config", "--api", "http://127.0.0.1:1"}, // no --xds
		{"propagation", "--kind", "bogus"},              // validated before anything starts
		{"sweep", "--sizes", "1000,x"},
		{"multizone", "--global-api", "http://127.0.0.1:1"}, // no --zone-api
		{"multizone", "--ingress-address", "nope"},
	} {
		var out, errb strings.Builder
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("%v: exit 0, want an error", args)
		}
	}
	var out, errb strings.Builder
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Scenarios:") {
		t.Errorf("no arguments: exit %d, %q", code, errb.String())
	}
}
