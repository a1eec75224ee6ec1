package meshloadbalancingstrategy

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
)

// Kuma's messages.
const (
	msgMustBeDefined   = "must be defined"
	msgMustNotBeEmpty  = "must not be empty"
	msgRouteOnlyHash   = "field is not allowed when targetRef.kind is MeshHTTPRoute, only hashPolicies is supported"
	msgRootHash        = "hashPolicies already specified in the root level"
	msgMESOnlyWithMesh = "kind MeshExternalService is only allowed with targetRef.kind: Mesh as it is configured on the Zone Egress and shared by all clients in the mesh"
)

var (
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds        = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshMultiZoneService, targetref.MeshHTTPRoute}
	gatewayToKinds = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshMultiZoneService}
	lbTypes        = []LoadBalancerType{RoundRobinType, LeastRequestType, RingHashType, RandomType, MaglevType}
	hashTypes      = []HashPolicyType{HeaderType, CookieType, ConnectionType, SourceIPType, QueryParameterType, FilterStateType}
	hashFunctions  = []HashFunctionType{XXHashType, MurmurHash2Type}
	toZoneTypes    = []ToZoneType{None, Only, Any, AnyExcept}
)

// Validate implements resources.Spec: Kuma's OpenAPI schema checks first, then, if they
// pass, its Go validator. Paths start at "spec".
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	top := targetref.TargetRef{Kind: targetref.Mesh}
	if s.TargetRef != nil {
		top = *s.TargetRef
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(top, targetref.Options{
			SupportedKinds: topLevelKinds, GatewayListenerTagsAllowed: true}))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		opts := targetref.Options{SupportedKinds: toKinds}
		if top.Kind == targetref.MeshGateway {
			opts.SupportedKinds = gatewayToKinds
			if t.Default.LoadBalancer != nil {
				opts.SupportedKinds = []targetref.Kind{targetref.Mesh}
				opts.SupportedKindsError = fmt.Sprintf("value '%s' is not supported, only Mesh is allowed if loadBalancer is set", top.Kind)
			}
		}
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, opts))
		if t.TargetRef.Kind == targetref.MeshExternalService && top.Kind != targetref.Mesh {
			v.AddViolation(at.Field("targetRef").Field("kind"), msgMESOnlyWithMesh)
		}
		v.Add(validateConf(at.Field("default"), t))
	}
	return v
}

func validateConf(p resources.Path, t To) resources.ValidationError {
	var v resources.ValidationError
	c := t.Default
	if t.TargetRef.Kind == targetref.MeshHTTPRoute {
		v.Add(validateHashPolicies(p.Field("hashPolicies"), c.HashPolicies))
		if c.LoadBalancer != nil {
			v.AddViolation(p.Field("loadBalancer"), msgRouteOnlyHash)
		}
		if c.LocalityAwareness != nil {
			v.AddViolation(p.Field("localityAwareness"), msgRouteOnlyHash)
		}
		return v
	}
	if lb := c.LoadBalancer; lb != nil {
		lp := p.Field("loadBalancer")
		switch {
		case lb.Type == RingHashType && lb.RingHash != nil:
			v.Add(validateHashPolicies(lp.Field("ringHash").Field("hashPolicies"), lb.RingHash.HashPolicies))
		case lb.Type == MaglevType && lb.Maglev != nil:
			v.Add(validateHashPolicies(lp.Field("maglev").Field("hashPolicies"), lb.Maglev.HashPolicies))
		case lb.Type == LeastRequestType && lb.LeastRequest != nil && lb.LeastRequest.ActiveRequestBias != nil:
			if r, ok := decimal(*lb.LeastRequest.ActiveRequestBias); !ok {
				v.AddViolation(lp.Field("leastRequest").Field("activeRequestBias"), "string must be a valid number")
			} else if r.Sign() < 0 {
				v.AddViolation(lp.Field("leastRequest").Field("activeRequestBias"), "must be greater or equal then: 0")
			}
		}
	}
	if la := c.LocalityAwareness; la != nil {
		v.Add(validateLocality(p.Field("localityAwareness"), la, t))
	}
	v.Add(validateHashPolicies(p.Field("hashPolicies"), c.HashPolicies))
	if c.HashPolicies != nil && c.LoadBalancer != nil {
		if c.LoadBalancer.RingHash != nil && c.LoadBalancer.RingHash.HashPolicies != nil {
			v.AddViolation(p.Field("loadBalancer").Field("ringHash").Field("hashPolicies"), msgRootHash)
		}
		if c.LoadBalancer.Maglev != nil && c.LoadBalancer.Maglev.HashPolicies != nil {
			v.AddViolation(p.Field("loadBalancer").Field("maglev").Field("hashPolicies"), msgRootHash)
		}
	}
	return v
}

func validateLocality(p resources.Path, la *LocalityAwareness, t To) resources.ValidationError {
	var v resources.ValidationError
	if lz := la.LocalZone; lz != nil && lz.AffinityTags != nil {
		tp := p.Field("localZone").Field("affinityTags")
		weighted := 0
		for i, tag := range *lz.AffinityTags {
			if tag.Key == "" {
				v.AddViolation(tp.Index(i).Field("key"), msgMustNotBeEmpty)
			}
			if tag.Weight != nil {
				if *tag.Weight == 0 {
					v.AddViolation(tp.Index(i).Field("weight"), "must be greater than 0")
				}
				weighted++
			}
		}
		if weighted > 0 && weighted != len(*lz.AffinityTags) {
			v.AddViolation(tp, "all or none affinity tags should have weight")
		}
	}
	cz := la.CrossZone
	if cz == nil {
		return v
	}
	cp := p.Field("crossZone")
	if t.TargetRef.Kind == targetref.MeshService && (t.TargetRef.GetSectionName() != "" || len(t.TargetRef.GetLabels()) > 0) {
		v.AddViolation(cp, "must not be set: MeshService traffic is local")
	}
	if cz.Failover != nil {
		for i, f := range *cz.Failover {
			fp := cp.Field("failover").Index(i)
			if f.From != nil {
				if len(f.From.Zones) == 0 {
					v.AddViolation(fp.Field("from").Field("zones"), msgMustNotBeEmpty)
				}
				for j, z := range f.From.Zones {
					if z == "" {
						v.AddViolation(fp.Field("from").Field("zones").Index(j), msgMustNotBeEmpty)
					}
				}
			}
			zones := 0
			if f.To.Zones != nil {
				zones = len(*f.To.Zones)
			}
			switch f.To.Type {
			case Any, None:
				if zones > 0 {
					v.AddViolation(fp.Field("to").Field("zones"), fmt.Sprintf("must be empty when type is %s", f.To.Type))
				}
			case AnyExcept, Only:
				if zones == 0 {
					v.AddViolation(fp.Field("to").Field("zones"), fmt.Sprintf("must not be empty when type is %s", f.To.Type))
				}
			default:
				v.AddViolation(fp.Field("to").Field("type"), "unrecognized type")
			}
		}
	}
	if ft := cz.FailoverThreshold; ft != nil {
		pp := cp.Field("failoverThreshold").Field("percentage")
		switch r, ok := decimal(ft.Percentage); {
		case !ok:
			v.AddViolation(pp, "string must be a valid number")
		case r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) > 0:
			v.AddViolation(pp, "must be in inclusive range [0.0, 100.0]")
		case r.Sign() == 0:
			v.AddViolation(pp, "must be greater than 0")
		}
	}
	return v
}

func validateHashPolicies(p resources.Path, hp *[]HashPolicy) resources.ValidationError {
	var v resources.ValidationError
	if hp == nil {
		return v
	}
	for i, h := range *hp {
		at := p.Index(i)
		switch h.Type {
		case HeaderType:
			if h.Header == nil {
				v.AddViolation(at.Field("header"), msgMustBeDefined)
			}
		case CookieType:
			if h.Cookie == nil {
				v.AddViolation(at.Field("cookie"), msgMustBeDefined)
			} else if h.Cookie.Path != nil && !strings.HasPrefix(*h.Cookie.Path, "/") {
				v.AddViolation(at.Field("cookie").Field("path"), "must be an absolute path")
			}
		case QueryParameterType:
			if h.QueryParameter == nil {
				v.AddViolation(at.Field("queryParameter"), msgMustBeDefined)
			}
		case FilterStateType:
			if h.FilterState == nil {
				v.AddViolation(at.Field("filterState"), msgMustBeDefined)
			}
		case ConnectionType, SourceIPType:
			if h.Connection == nil {
				v.AddViolation(at.Field("connection"), msgMustBeDefined)
			}
		}
	}
	return v
}

func decimal(p meshhttproute.Percentage) (*big.Rat, bool) {
	return new(big.Rat).SetString(p.Value)
}

// validateSchema is what Kuma's OpenAPI schema for the type rejects: targetRef kinds and
// the enums of load balancer, hash policy, hash function and failover types.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
		d := at.Field("default")
		c := t.Default
		schemaHashes(&v, d.Field("hashPolicies"), c.HashPolicies)
		if lb := c.LoadBalancer; lb != nil {
			lp := d.Field("loadBalancer")
			enum(&v, lp.Field("type"), lb.Type, lbTypes)
			if rh := lb.RingHash; rh != nil {
				if rh.HashFunction != nil {
					enum(&v, lp.Field("ringHash").Field("hashFunction"), *rh.HashFunction, hashFunctions)
				}
				schemaHashes(&v, lp.Field("ringHash").Field("hashPolicies"), rh.HashPolicies)
			}
			if m := lb.Maglev; m != nil {
				schemaHashes(&v, lp.Field("maglev").Field("hashPolicies"), m.HashPolicies)
			}
		}
		if la := c.LocalityAwareness; la != nil && la.CrossZone != nil && la.CrossZone.Failover != nil {
			for j, f := range *la.CrossZone.Failover {
				enum(&v, d.Field("localityAwareness").Field("crossZone").Field("failover").Index(j).Field("to").Field("type"), f.To.Type, toZoneTypes)
			}
		}
	}
	return v
}

func schemaHashes(v *resources.ValidationError, p resources.Path, hp *[]HashPolicy) {
	if hp == nil {
		return
	}
	for i, h := range *hp {
		enum(v, p.Index(i).Field("type"), h.Type, hashTypes)
	}
}

func enum[T ~string](v *resources.ValidationError, p resources.Path, got T, allowed []T) {
	switch {
	case got == "":
		v.AddViolation(p, targetref.SchemaRequired)
	case !contains(allowed, got):
		v.AddViolation(p, targetref.SchemaEnum(allowed...))
	}
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
