package scenario

import (
	"context"
	"fmt"

	"github.com/jetmesh/jetmesh/loadgen/stats"
)

// MultiZone is not implemented.
//
// TODO(multizone-bench): measure a change at the global reaching a proxy in a zone, and a
// dataplane joining zone B reaching a consumer in zone A through the ingress endpoints. It
// needs jetmesh's multi-zone support (global CP, zone sync, zone ingress), which is being
// built in parallel; this scenario will start a global and two zone CPs once it lands.
func MultiZone(context.Context, *Env) (*stats.Report, error) {
	return nil, fmt.Errorf("not implemented yet: multi-zone support is being built; see TODO(multizone-bench) in loadgen/scenario")
}
