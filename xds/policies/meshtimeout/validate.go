package meshtimeout

import (
	"fmt"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Kuma's messages.
const (
	msgGreaterThanZero = "must be greater than zero when defined"
	msgNotNegative     = "must not be negative when defined"
	msgRouteTopLevel   = "can't be specified when top-level TargetRef is referencing MeshHTTPRoute"
	msgSourceCondition = "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity"
)

var (
	// topLevelKinds are the kinds a MeshTimeout with the system policy role may target. A
	// policy without a kuma.io/policy-role label has that role (every Universal policy);
	// ValidateMeta narrows the list for the other roles.
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.Dataplane,
		targetref.MeshGateway, targetref.MeshService, targetref.MeshServiceSubset, targetref.MeshHTTPRoute}
	// roleTopLevelKinds are the kinds for producer, consumer and workload-owner policies.
	roleTopLevelKinds = []targetref.Kind{targetref.Mesh, targetref.Dataplane, targetref.MeshSubset,
		targetref.MeshService, targetref.MeshServiceSubset}
	toKinds = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshExternalService,
		targetref.MeshMultiZoneService, targetref.MeshHTTPRoute}
	routeToKinds = []targetref.Kind{targetref.Mesh, targetref.MeshExternalService}
)

// Validate implements resources.Spec: Kuma's OpenAPI schema checks first, then, if they
// pass, its Go validator. Paths start at "spec".
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds:             topLevelKinds,
			GatewayListenerTagsAllowed: true,
			IsInboundPolicy:            len(s.GetFrom()) > 0 || len(s.GetRules()) > 0,
		}))
	}
	if len(s.GetRules()) > 0 && (len(s.GetTo()) > 0 || len(s.GetFrom()) > 0) {
		v.AddViolation(spec, "fields 'to' and 'from' must be empty when 'rules' is defined")
	}
	if len(s.GetRules()) == 0 && len(s.GetTo()) == 0 && len(s.GetFrom()) == 0 {
		v.AddViolation(spec, "at least one of 'from', 'to' or 'rules' has to be defined")
	}
	top := targetref.Mesh
	if s.TargetRef != nil {
		top = s.TargetRef.Kind
	}
	routeLike := top == targetref.MeshHTTPRoute || top == targetref.MeshGateway
	if routeLike && len(s.GetFrom()) > 0 {
		v.AddViolation(spec.Field("from"), "must not be defined")
	}
	for i, f := range s.GetFrom() {
		if routeLike {
			break
		}
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(f.TargetRef, targetref.Options{SupportedKinds: []targetref.Kind{targetref.Mesh}}))
		v.Add(validateDefault(at.Field("default"), f.Default, top))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		kinds := toKinds
		if routeLike {
			kinds = routeToKinds
		}
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: kinds}))
		v.Add(validateDefault(at.Field("default"), t.Default, top))
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		v.Add(validateMatches(at.Field("matches"), at.Field("default"), deref(r.Matches), r.Default))
		v.Add(validateDefault(at.Field("default"), r.Default, top))
	}
	return v
}

// ValidateMeta implements resources.MetaValidator: a policy with a role other than system
// (kuma.io/policy-role producer, consumer or workload-owner) may not target gateways or routes.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	role := meta.Labels[resources.LabelPolicyRole]
	if s.TargetRef == nil || role == "" || role == "system" {
		return v
	}
	v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
		SupportedKinds:  roleTopLevelKinds,
		IsInboundPolicy: len(s.GetFrom()) > 0 || len(s.GetRules()) > 0,
	}))
	return v
}

func validateMatches(matchesPath, defaultPath resources.Path, matches []targetref.Match, conf Conf) resources.ValidationError {
	var v resources.ValidationError
	hasSpiffeID := false
	for i, m := range matches {
		at := matchesPath.Index(i)
		v.AddErrorAt(at, targetref.ValidateMatch(m))
		if m.SpiffeID == nil && m.SNI == nil {
			v.AddViolation(at, "must specify at least one of 'spiffeID' or 'sni'")
			continue
		}
		if m.SpiffeID != nil {
			hasSpiffeID = true
			switch m.SpiffeID.Type {
			case targetref.SpiffeIDExact, targetref.SpiffeIDPrefix:
			case "":
				v.AddViolation(at.Field("spiffeID").Field("type"), targetref.MustBeSet)
			default:
				v.AddViolation(at.Field("spiffeID").Field("type"),
					fmt.Sprintf("unrecognized type %q, supported values are: Exact, Prefix", m.SpiffeID.Type))
			}
		}
	}
	if hasSpiffeID {
		// Connection-level timeouts are set before the client's identity is known.
		forbidSet(&v, defaultPath.Field("connectionTimeout"), conf.ConnectionTimeout, msgSourceCondition)
		forbidSet(&v, defaultPath.Field("idleTimeout"), conf.IdleTimeout, msgSourceCondition)
		if h := conf.Http; h != nil {
			hp := defaultPath.Field("http")
			forbidSet(&v, hp.Field("requestHeadersTimeout"), h.RequestHeadersTimeout, msgSourceCondition)
			forbidSet(&v, hp.Field("maxStreamDuration"), h.MaxStreamDuration, msgSourceCondition)
			forbidSet(&v, hp.Field("maxConnectionDuration"), h.MaxConnectionDuration, msgSourceCondition)
		}
	}
	return v
}

func validateDefault(p resources.Path, c Conf, top targetref.Kind) resources.ValidationError {
	var v resources.ValidationError
	if c.ConnectionTimeout == nil && c.IdleTimeout == nil && c.Http == nil {
		v.AddViolation(p, "at least one timeout should be configured")
		return v
	}
	if top == targetref.MeshHTTPRoute {
		forbidSet(&v, p.Field("connectionTimeout"), c.ConnectionTimeout, msgRouteTopLevel)
		forbidSet(&v, p.Field("idleTimeout"), c.IdleTimeout, msgRouteTopLevel)
		if h := c.Http; h != nil {
			forbidSet(&v, p.Field("http").Field("maxStreamDuration"), h.MaxStreamDuration, msgRouteTopLevel)
			forbidSet(&v, p.Field("http").Field("maxConnectionDuration"), h.MaxConnectionDuration, msgRouteTopLevel)
		}
	}
	if d := c.ConnectionTimeout; d != nil && d.Duration <= 0 {
		v.AddViolation(p.Field("connectionTimeout"), msgGreaterThanZero)
	}
	notNegative(&v, p.Field("idleTimeout"), c.IdleTimeout)
	if h := c.Http; h != nil {
		hp := p.Field("http")
		if h.RequestTimeout == nil && h.StreamIdleTimeout == nil && h.MaxStreamDuration == nil && h.MaxConnectionDuration == nil {
			// Kuma's check leaves out requestHeadersTimeout, so a section with only that
			// field is reported too; we keep its behaviour for identical answers.
			v.AddViolation(hp, "at least one timeout in this section should be configured")
		}
		notNegative(&v, hp.Field("requestTimeout"), h.RequestTimeout)
		notNegative(&v, hp.Field("streamIdleTimeout"), h.StreamIdleTimeout)
		notNegative(&v, hp.Field("maxStreamDuration"), h.MaxStreamDuration)
		notNegative(&v, hp.Field("maxConnectionDuration"), h.MaxConnectionDuration)
		notNegative(&v, hp.Field("requestHeadersTimeout"), h.RequestHeadersTimeout)
	}
	return v
}

func notNegative(v *resources.ValidationError, p resources.Path, d *targetref.Duration) {
	if d != nil && d.Duration < 0 {
		v.AddViolation(p, msgNotNegative)
	}
}

func forbidSet(v *resources.ValidationError, p resources.Path, d *targetref.Duration, msg string) {
	if d != nil {
		v.AddViolation(p, msg)
	}
}

// validateSchema is what Kuma's OpenAPI schema for the type rejects: targetRef kinds and
// proxy types outside their enums, match types outside theirs.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		v.AddErrorAt(spec.Field("to").Index(i).Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
	}
	for i, f := range s.GetFrom() {
		v.AddErrorAt(spec.Field("from").Index(i).Field("targetRef"), targetref.ValidateSchema(f.TargetRef))
	}
	for i, r := range s.GetRules() {
		for j, m := range deref(r.Matches) {
			v.AddErrorAt(spec.Field("rules").Index(i).Field("matches").Index(j), targetref.ValidateMatchSchema(m))
		}
	}
	return v
}
