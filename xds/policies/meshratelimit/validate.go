package meshratelimit

import (
	"fmt"
	"slices"
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Kuma's messages.
const (
	msgMustNotBeDefined = "must not be defined"
	msgGatewayFrom      = "must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to"
	msgRouteFrom        = "must not be defined when spec.kind is MeshHTTPRoute"
	msgSourceCondition  = "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity"
	// minInterval is Kuma's lower bound (exclusive) of a rate's interval.
	minInterval = 50 * time.Millisecond
)

var (
	// topLevelKinds are the kinds a system-role MeshRateLimit (every policy without a
	// kuma.io/policy-role label) may target; ValidateMeta narrows them for the other roles.
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.MeshHTTPRoute, targetref.Dataplane}
	roleTopLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshServiceSubset, targetref.Dataplane}
	meshOnly = []targetref.Kind{targetref.Mesh}
)

// includesGateways is Kuma's IncludesGateways: the top-level targetRef may select gateways.
// A Mesh or MeshSubset ref without proxyTypes does, so a sidecar policy with from or rules
// must say proxyTypes: [Sidecar] or target services or dataplanes.
func includesGateways(ref targetref.TargetRef) bool {
	meshKind := ref.Kind == targetref.Mesh || ref.Kind == targetref.MeshSubset
	types := ref.GetProxyTypes()
	return ref.Kind == targetref.MeshGateway || ref.Kind == targetref.MeshHTTPRoute ||
		(meshKind && (len(types) == 0 || slices.Contains(types, targetref.Gateway)))
}

// Validate implements resources.Spec: Kuma's OpenAPI schema checks first, then, if they
// pass, its Go validator, in its order (spec, targetRef, rules, from, to).
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if len(s.GetRules()) > 0 && (len(s.GetTo()) > 0 || len(s.GetFrom()) > 0) {
		v.AddViolation(spec, "fields 'to' and 'from' must be empty when 'rules' is defined")
	}
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds:             topLevelKinds,
			GatewayListenerTagsAllowed: true,
			IsInboundPolicy:            s.affectsInbounds(),
		}))
	}
	top := targetref.TargetRef{Kind: targetref.Mesh}
	if s.TargetRef != nil {
		top = *s.TargetRef
	}
	v.Add(s.validateRules(spec, top))
	v.Add(s.validateFrom(spec, top))
	v.Add(s.validateTo(spec, top))
	return v
}

// affectsInbounds is Kuma's inbound.AffectsInbounds: the policy has from or rules items.
func (s *Spec) affectsInbounds() bool { return len(s.GetFrom()) > 0 || len(s.GetRules()) > 0 }

// ValidateMeta implements resources.MetaValidator: producer, consumer and workload-owner
// policies may not target gateways or routes.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	role := meta.Labels[resources.LabelPolicyRole]
	if s.TargetRef == nil || role == "" || role == "system" {
		return v
	}
	v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
		SupportedKinds: roleTopLevelKinds, IsInboundPolicy: s.affectsInbounds(),
	}))
	return v
}

func (s *Spec) validateRules(spec resources.Path, top targetref.TargetRef) resources.ValidationError {
	var v resources.ValidationError
	if len(s.GetRules()) == 0 {
		return v
	}
	if includesGateways(top) {
		v.AddViolation(spec.Field("rules"), msgMustNotBeDefined)
		return v
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		v.Add(validateMatches(at, deref(r.Matches), r.Default))
		v.Add(validateDefault(at.Field("default"), r.Default))
	}
	return v
}

func validateMatches(at resources.Path, matches []targetref.Match, conf Conf) resources.ValidationError {
	var v resources.ValidationError
	hasSpiffeID := false
	for i, m := range matches {
		mp := at.Field("matches").Index(i)
		v.AddErrorAt(mp, targetref.ValidateMatch(m))
		if m.SpiffeID == nil && m.SNI == nil {
			v.AddViolation(mp, "must specify at least one of 'spiffeID' or 'sni'")
			continue
		}
		if m.SpiffeID == nil {
			continue
		}
		hasSpiffeID = true
		switch m.SpiffeID.Type {
		case targetref.SpiffeIDExact, targetref.SpiffeIDPrefix:
		case "":
			v.AddViolation(mp.Field("spiffeID").Field("type"), targetref.MustBeSet)
		default:
			v.AddViolation(mp.Field("spiffeID").Field("type"),
				fmt.Sprintf("unrecognized type %q, supported values are: Exact, Prefix", m.SpiffeID.Type))
		}
	}
	// A connection limit applies before the client's identity is known.
	if hasSpiffeID && conf.Local != nil && conf.Local.TCP != nil {
		v.AddViolation(at.Field("default").Field("local").Field("tcp"), msgSourceCondition)
	}
	return v
}

func (s *Spec) validateFrom(spec resources.Path, top targetref.TargetRef) resources.ValidationError {
	var v resources.ValidationError
	if len(s.GetFrom()) == 0 {
		return v
	}
	// Kuma checks gateways first; a MeshHTTPRoute top-level ref counts as one.
	if includesGateways(top) {
		v.AddViolation(spec.Field("from"), msgGatewayFrom)
		return v
	}
	if top.Kind == targetref.MeshHTTPRoute {
		v.AddViolation(spec.Field("from"), msgRouteFrom)
		return v
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(f.TargetRef, targetref.Options{SupportedKinds: meshOnly}))
		v.Add(validateDefault(at.Field("default"), f.Default))
	}
	return v
}

func (s *Spec) validateTo(spec resources.Path, top targetref.TargetRef) resources.ValidationError {
	var v resources.ValidationError
	if len(s.GetTo()) == 0 {
		return v
	}
	if !includesGateways(top) {
		v.AddViolation(spec.Field("to"), msgMustNotBeDefined)
		return v
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: meshOnly}))
		v.Add(validateDefault(at.Field("default"), t.Default))
	}
	return v
}

func validateDefault(p resources.Path, c Conf) resources.ValidationError {
	var v resources.ValidationError
	p = p.Field("local")
	if c.Local == nil {
		v.AddViolation(p, targetref.MustBeDefined)
		return v
	}
	if c.Local.HTTP == nil && c.Local.TCP == nil {
		v.AddViolation(p, "must have at least one defined: tcp, http")
	}
	if h := c.Local.HTTP; h != nil {
		hp := p.Field("http")
		switch {
		case h.Disabled == nil && h.RequestRate == nil && h.OnRateLimit == nil:
			v.AddViolation(hp, "must have at least one defined: disabled, requestRate, onRateLimit")
		default:
			if h.RequestRate != nil {
				v.Add(validateRate(hp.Field("requestRate"), *h.RequestRate))
			}
			if o := h.OnRateLimit; o != nil && o.Status != nil && *o.Status == 0 {
				v.AddViolation(hp.Field("onRateLimit").Field("status"), "must be greater than 0")
			}
		}
	}
	if t := c.Local.TCP; t != nil {
		tp := p.Field("tcp")
		switch {
		case t.Disabled == nil && t.ConnectionRate == nil:
			v.AddViolation(tp, "must have at least one defined: disabled, connectionRate")
		case t.ConnectionRate != nil:
			v.Add(validateRate(tp.Field("connectionRate"), *t.ConnectionRate))
		}
	}
	return v
}

func validateRate(p resources.Path, r Rate) resources.ValidationError {
	var v resources.ValidationError
	if r.Num == 0 {
		v.AddViolation(p.Field("num"), "must be greater than 0")
	}
	if r.Interval.Duration <= minInterval {
		v.AddViolation(p.Field("interval"), fmt.Sprintf("must be greater than: %s", minInterval))
	}
	return v
}

// validateSchema is what Kuma's OpenAPI schema for the type rejects: targetRef kinds and
// proxy types outside their enums, match types outside theirs, more than 16 headers.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
		v.Add(headersSchema(at.Field("default"), t.Default))
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(f.TargetRef))
		v.Add(headersSchema(at.Field("default"), f.Default))
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		for j, m := range deref(r.Matches) {
			v.AddErrorAt(at.Field("matches").Index(j), targetref.ValidateMatchSchema(m))
		}
		v.Add(headersSchema(at.Field("default"), r.Default))
	}
	return v
}

// maxHeaders is the schema's maxItems of onRateLimit.headers.set and .add.
const maxHeaders = 16

func headersSchema(p resources.Path, c Conf) resources.ValidationError {
	var v resources.ValidationError
	if c.Local == nil || c.Local.HTTP == nil || c.Local.HTTP.OnRateLimit == nil || c.Local.HTTP.OnRateLimit.Headers == nil {
		return v
	}
	h := c.Local.HTTP.OnRateLimit.Headers
	hp := p.Field("local").Field("http").Field("onRateLimit").Field("headers")
	if len(deref(h.Set)) > maxHeaders {
		v.AddViolation(hp.Field("set"), fmt.Sprintf("in body should have at most %d items", maxHeaders))
	}
	if len(deref(h.Add)) > maxHeaders {
		v.AddViolation(hp.Field("add"), fmt.Sprintf("in body should have at most %d items", maxHeaders))
	}
	return v
}
