// Package policies lists the targetRef policies jetmesh serves. Each policy lives in its own
// folder below this one (API type, validation, descriptor, xDS configurer, testdata); adding a
// policy is one folder plus one line in Descriptors.
package policies

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
	"github.com/jetmesh/jetmesh/xds/policies/meshcircuitbreaker"
	"github.com/jetmesh/jetmesh/xds/policies/meshfaultinjection"
	"github.com/jetmesh/jetmesh/xds/policies/meshhealthcheck"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
	"github.com/jetmesh/jetmesh/xds/policies/meshproxypatch"
	"github.com/jetmesh/jetmesh/xds/policies/meshratelimit"
	"github.com/jetmesh/jetmesh/xds/policies/meshretry"
	"github.com/jetmesh/jetmesh/xds/policies/meshtcproute"
	"github.com/jetmesh/jetmesh/xds/policies/meshtimeout"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrace"
	"github.com/jetmesh/jetmesh/xds/policies/meshtrafficpermission"
)

// Descriptors returns the descriptors of every policy, for resources.NewRegistry.
func Descriptors() []*resources.Descriptor {
	return []*resources.Descriptor{
		meshtrafficpermission.Descriptor,
		meshtimeout.Descriptor,
		meshretry.Descriptor,
		meshhttproute.Descriptor,
		meshtcproute.Descriptor,
		meshcircuitbreaker.Descriptor,
		meshhealthcheck.Descriptor,
		meshloadbalancingstrategy.Descriptor,
		meshfaultinjection.Descriptor,
		meshratelimit.Descriptor,
		meshaccesslog.Descriptor,
		meshtrace.Descriptor,
		meshproxypatch.Descriptor,
	}
}
