package meshfaultinjection

import (
	"math/big"
	"regexp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
)

var (
	systemTopKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	roleTopKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshServiceSubset, targetref.Dataplane}
	fromKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshServiceSubset, targetref.MeshService}
	// bandwidth is Kuma's BandwidthRegex.
	bandwidth = regexp.MustCompile(`^(\d*)\s?([GMk]+bps)$`)
)

// Validate implements resources.Spec with the system policy role (every Universal policy);
// ValidateMeta narrows the top-level kinds for other roles.
func (s *Spec) Validate() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, f := range s.GetFrom() {
		v.AddErrorAt(spec.Field("from").Index(i).Field("targetRef"), targetref.ValidateSchema(f.TargetRef))
	}
	for i, t := range s.GetTo() {
		v.AddErrorAt(spec.Field("to").Index(i).Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
	}
	if v.HasViolations() {
		return v
	}
	v.Add(s.validateTop(systemTopKinds, true))
	top := targetref.TargetRef{Kind: targetref.Mesh}
	if s.TargetRef != nil {
		top = *s.TargetRef
	}
	if len(s.GetFrom()) > 0 && len(s.GetRules()) > 0 {
		v.AddViolation(spec, "field 'from' must be empty when 'rules' is defined")
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		for j, m := range deref(r.Matches) {
			v.AddErrorAt(at.Field("matches").Index(j), targetref.ValidateMatch(m))
		}
		v.Add(validateDefault(at.Field("default"), r.Default))
	}
	gateways := includesGateways(top)
	switch {
	case gateways && len(s.GetFrom()) > 0:
		v.AddViolation(spec.Field("from"), "must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to")
	default:
		for i, f := range s.GetFrom() {
			at := spec.Field("from").Index(i)
			v.AddErrorAt(at.Field("targetRef"), targetref.Validate(f.TargetRef, targetref.Options{SupportedKinds: fromKinds}))
			v.Add(validateDefault(at.Field("default"), f.Default))
		}
	}
	switch {
	case !gateways && len(s.GetTo()) > 0:
		v.AddViolation(spec.Field("to"), "must not be defined")
	default:
		for i, t := range s.GetTo() {
			at := spec.Field("to").Index(i)
			v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: []targetref.Kind{targetref.Mesh}}))
			v.Add(validateDefault(at.Field("default"), t.Default))
		}
	}
	return v
}

// ValidateMeta implements resources.MetaValidator: producer, consumer and workload-owner
// policies may not target gateways.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	role := meta.Labels[resources.LabelPolicyRole]
	if role == "" || role == "system" {
		return resources.ValidationError{}
	}
	return s.validateTop(roleTopKinds, false)
}

func (s *Spec) validateTop(kinds []targetref.Kind, gatewayTags bool) resources.ValidationError {
	var v resources.ValidationError
	if s.TargetRef != nil {
		v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds: kinds, GatewayListenerTagsAllowed: gatewayTags,
			IsInboundPolicy: len(s.GetFrom()) > 0 || len(s.GetRules()) > 0,
		}))
	}
	return v
}

// includesGateways is Kuma's IncludesGateways: the top-level targetRef can select gateways.
func includesGateways(ref targetref.TargetRef) bool {
	sidecarOnly := len(ref.GetProxyTypes()) == 1 && ref.GetProxyTypes()[0] == targetref.Sidecar
	switch ref.Kind {
	case targetref.MeshGateway:
		return true
	case targetref.Mesh, targetref.MeshSubset:
		return !sidecarOnly
	}
	return false
}

// validateDefault reports faults at Kuma's paths, which put the fault's index after its
// kind ("http.abort[0]" for the first fault's abort).
func validateDefault(p resources.Path, c Conf) resources.ValidationError {
	var v resources.ValidationError
	hp := p.Field("http")
	for i, f := range deref(c.Http) {
		if a := f.Abort; a != nil {
			at := hp.Field("abort").Index(i)
			if a.HttpStatus < 100 || a.HttpStatus >= 600 {
				v.AddViolation(at.Field("httpStatus"), "must be in inclusive range [100, 599]")
			}
			percentage(&v, at.Field("percentage"), a.Percentage)
		}
		if d := f.Delay; d != nil {
			at := hp.Field("delay").Index(i)
			if d.Value.Duration < 0 {
				v.AddViolation(at.Field("value"), "must not be negative when defined")
			}
			percentage(&v, at.Field("percentage"), d.Percentage)
		}
		if b := f.ResponseBandwidth; b != nil {
			at := hp.Field("responseBandwidth").Index(i)
			switch {
			case b.Limit == "":
				v.AddViolation(at.Field("limit"), "must be defined")
			case !bandwidth.MatchString(b.Limit):
				v.AddViolation(at.Field("limit"), "must be in kbps/Mbps/Gbps units")
			}
			percentage(&v, at.Field("percentage"), b.Percentage)
		}
	}
	return v
}

func percentage(v *resources.ValidationError, p resources.Path, pct meshhttproute.Percentage) {
	value := pct.Value
	if value == "" {
		value = "0" // left out: Kubernetes' zero IntOrString, as in Kuma
	}
	r, ok := new(big.Rat).SetString(value)
	switch {
	case !ok:
		v.AddViolation(p, "string must be a valid number")
	case r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) > 0:
		v.AddViolation(p, "must be in inclusive range [0.0, 100.0]")
	}
}
