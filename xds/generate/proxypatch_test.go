package generate_test

import (
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/xds/generate"
	"github.com/jetmesh/jetmesh/xds/policies/meshproxypatch"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// A MeshProxyPatch can produce anything; what Envoy would reject is refused with an error
// naming the problem, and nothing is returned to send.
func TestProxyPatchRefusesInvalidResult(t *testing.T) {
	tests := []struct {
		name, mods, want string
	}{
		{"invalid cluster after patch", `
      - cluster:
          operation: Patch
          match: {name: backend}
          jsonPatches: [{op: add, path: /connectTimeout, value: "-1s"}]`, "meshproxypatch produced invalid config"},
		{"patch to an unknown field", `
      - listener:
          operation: Patch
          jsonPatches: [{op: add, path: /noSuchField, value: 1}]`, "json patch result"},
		{"port out of range", `
      - listener:
          operation: Patch
          match: {origin: inbound}
          jsonPatches: [{op: replace, path: /address/socketAddress/portValue, value: 70000}]`, "meshproxypatch produced invalid config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policyProxy()
			p.Policies.ProxyPatches = []rules.Policy[meshproxypatch.Conf]{proxyPatchPolicy("bad", `
  targetRef: {kind: Mesh}
  default:
    appendModifications:`+tt.mods)}
			res, err := generate.Generate(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || res != nil {
				t.Fatalf("res %v, err %v; want error containing %q", res != nil, err, tt.want)
			}
		})
	}
}
