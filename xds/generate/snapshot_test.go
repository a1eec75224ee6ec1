package generate_test

import (
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// TestSnapshotsAreConsistent feeds every golden case to go-control-plane's snapshot, whose
// Consistent check demands a load assignment for every EDS cluster and a route
// configuration for every RDS reference.
func TestSnapshotsAreConsistent(t *testing.T) {
	for name, build := range goldenCases() {
		r, err := build()
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Versions()
		if err != nil {
			t.Fatal(err)
		}
		snap, err := cache.NewSnapshot(v["type.googleapis.com/envoy.config.cluster.v3.Cluster"], r.ByType())
		if err != nil {
			t.Fatalf("%s: NewSnapshot: %v", name, err)
		}
		if err := snap.Consistent(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
