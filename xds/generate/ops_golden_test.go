package generate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/xds/generate"
)

// TestOpsGolden is TestGolden for the operational policies (fixtures in
// policies_ops_fixtures_test.go): each case's output must pass Validate and equal
// testdata/<name>.golden.yaml (rewritten with UPDATE_GOLDEN=1).
func TestOpsGolden(t *testing.T) {
	cases := map[string]func() *generate.Proxy{
		"meshratelimit":    meshRateLimits,
		"meshaccesslog":    meshAccessLogs,
		"meshtrace":        meshTraces,
		"meshtrace-zipkin": meshTracesZipkin,
		"meshproxypatch":   meshProxyPatches,
	}
	for name, proxy := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := generate.Generate(proxy())
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if err := generate.Validate(res); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := renderYAML(t, res)
			path := filepath.Join("testdata", name+".golden.yaml")
			if updating() {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with UPDATE_GOLDEN=1 to create it): %v", err)
			}
			if diff := cmp.Diff(parseYAML(t, want), parseYAML(t, got)); diff != "" {
				t.Errorf("%s differs (-golden +got), rerun with UPDATE_GOLDEN=1 if intended:\n%s", path, diff)
			}
		})
	}
}
