package snapshots

import (
	"crypto/sha256"
	"fmt"
	"weak"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
)

// endpointInterner lets proxies with equal ClusterLoadAssignments share one message. Every
// consumer of a service gets an assignment with the same content (the service's endpoints
// with their tag metadata); held once per consumer in the snapshot cache, they were the
// largest part of the control plane's memory per proxy (docs/performance.md). Published
// resources are never modified, so sharing them is safe. Entries are weak: an assignment
// lives as long as some snapshot holds it. Only the regeneration loop uses it.
type endpointInterner struct {
	byHash    map[[sha256.Size]byte]weak.Pointer[endpointv3.ClusterLoadAssignment]
	buf       []byte
	nextSweep int
}

// internAll replaces, in place, every ClusterLoadAssignment in rs that equals one still held
// elsewhere with that one.
func (in *endpointInterner) internAll(rs []types.Resource) error {
	for i, r := range rs {
		cla, ok := r.(*endpointv3.ClusterLoadAssignment)
		if !ok {
			continue
		}
		shared, err := in.intern(cla)
		if err != nil {
			return err
		}
		rs[i] = shared
	}
	return nil
}

func (in *endpointInterner) intern(cla *endpointv3.ClusterLoadAssignment) (*endpointv3.ClusterLoadAssignment, error) {
	var err error
	// Deterministic encoding is stable within one binary, which is all equality here needs.
	in.buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(in.buf[:0], cla)
	if err != nil {
		return nil, fmt.Errorf("intern endpoints of %s: %w", cla.GetClusterName(), err)
	}
	key := sha256.Sum256(in.buf)
	if in.byHash == nil {
		in.byHash = map[[sha256.Size]byte]weak.Pointer[endpointv3.ClusterLoadAssignment]{}
	}
	if shared := in.byHash[key].Value(); shared != nil {
		return shared, nil
	}
	in.byHash[key] = weak.Make(cla)
	if len(in.byHash) >= in.nextSweep {
		in.sweep()
	}
	return cla, nil
}

// sweep drops the entries whose assignment no snapshot holds any more; it runs when the map
// has doubled since the last sweep, so its cost is amortised over the insertions.
func (in *endpointInterner) sweep() {
	for k, p := range in.byHash {
		if p.Value() == nil {
			delete(in.byHash, k)
		}
	}
	in.nextSweep = max(2*len(in.byHash), 1024)
}
