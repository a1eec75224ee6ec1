package meshretry

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

var (
	// topLevelKinds are those of the system policy role, which every policy without a
	// kuma.io/policy-role label has; ValidateMeta narrows them for the other roles.
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.MeshHTTPRoute, targetref.Dataplane}
	roleTopLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshExternalService,
		targetref.MeshMultiZoneService, targetref.MeshHTTPRoute}
	routeToKinds = []targetref.Kind{targetref.Mesh, targetref.MeshExternalService}
)

const (
	msgMustNotBeEmpty  = "must not be empty"
	msgGreaterThanZero = "must be greater than 0"
)

// Validate implements resources.Spec: Kuma's schema checks, then its Go validator. Kuma
// reports a to item's conf under "default.conf".
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds: topLevelKinds, GatewayListenerTagsAllowed: true,
		}))
	}
	kinds := toKinds
	if s.TargetRef != nil && (s.TargetRef.Kind == targetref.MeshGateway || s.TargetRef.Kind == targetref.MeshHTTPRoute) {
		kinds = routeToKinds
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: kinds}))
		v.Add(validateConf(at.Field("default").Field("conf"), t.Default))
	}
	return v
}

// ValidateMeta implements resources.MetaValidator: producer, consumer and workload-owner
// policies may not target gateways or routes.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	role := meta.Labels[resources.LabelPolicyRole]
	if s.TargetRef == nil || role == "" || role == "system" {
		return v
	}
	v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"),
		targetref.Validate(*s.TargetRef, targetref.Options{SupportedKinds: roleTopLevelKinds}))
	return v
}

func validateConf(p resources.Path, c Conf) resources.ValidationError {
	var v resources.ValidationError
	if c.TCP == nil && c.HTTP == nil && c.GRPC == nil {
		v.AddViolation(p, "at least one of the 'tcp', 'http', 'grpc' must be specified")
	}
	if t := c.TCP; t != nil {
		switch {
		case t.MaxConnectAttempt == nil:
			v.AddViolation(p.Field("tcp"), msgMustNotBeEmpty)
		case *t.MaxConnectAttempt == 0:
			v.AddViolation(p.Field("tcp").Field("maxConnectAttempt"), msgGreaterThanZero)
		}
	}
	if h := c.HTTP; h != nil {
		hp := p.Field("http")
		if h.NumRetries == nil && h.PerTryTimeout == nil && h.BackOff == nil && h.RetryOn == nil &&
			h.RetriableRequestHeaders == nil && h.RetriableResponseHeaders == nil && h.RateLimitedBackOff == nil &&
			h.HostSelection == nil {
			v.AddViolation(hp, msgMustNotBeEmpty)
		}
		v.Add(validateBackOff(hp, h.BackOff))
		v.Add(validateRateLimited(hp, h.RateLimitedBackOff))
		for i, r := range deref(h.RetryOn) {
			if !knownHTTPRetryOn(r) {
				v.AddViolation(hp.Field("retryOn").Index(i), fmt.Sprintf("unknown item '%v'", r))
			}
		}
		v.Add(validateHostSelection(hp.Field("hostSelection"), deref(h.HostSelection)))
	}
	if g := c.GRPC; g != nil {
		gp := p.Field("grpc")
		if g.NumRetries == nil && g.PerTryTimeout == nil && g.BackOff == nil && g.RetryOn == nil && g.RateLimitedBackOff == nil {
			v.AddViolation(gp, msgMustNotBeEmpty)
		}
		v.Add(validateBackOff(gp, g.BackOff))
		v.Add(validateRateLimited(gp, g.RateLimitedBackOff))
		for i, r := range deref(g.RetryOn) {
			if _, ok := grpcRetryOn[r]; !ok {
				v.AddViolation(gp.Field("retryOn").Index(i), fmt.Sprintf("unknown item '%v'", r))
			}
		}
	}
	return v
}

// knownHTTPRetryOn: a named condition, a method, or a status code net/http knows.
func knownHTTPRetryOn(r HTTPRetryOn) bool {
	if _, ok := httpRetryOn[r]; ok {
		return true
	}
	if _, ok := httpMethods[r]; ok {
		return true
	}
	code, err := strconv.Atoi(string(r))
	return err == nil && http.StatusText(code) != ""
}

func validateBackOff(p resources.Path, b *BackOff) resources.ValidationError {
	var v resources.ValidationError
	if b != nil && b.BaseInterval == nil && b.MaxInterval == nil {
		v.AddViolation(p.Field("backOff"), msgMustNotBeEmpty)
	}
	return v
}

func validateRateLimited(p resources.Path, r *RateLimitedBackOff) resources.ValidationError {
	var v resources.ValidationError
	if r == nil {
		return v
	}
	rp := p.Field("rateLimitedBackOff")
	if r.MaxInterval != nil && r.MaxInterval.Duration <= 0 {
		v.AddViolation(rp.Field("maxInterval"), "must be defined and greater than zero")
	}
	if r.ResetHeaders == nil {
		v.AddViolation(rp.Field("resetHeaders"), targetref.MustBeDefined)
	}
	for i, h := range deref(r.ResetHeaders) {
		if h.Name == "" {
			v.AddViolation(rp.Field("resetHeaders").Index(i).Field("name"), targetref.MustBeDefined)
		}
	}
	return v
}

func validateHostSelection(p resources.Path, preds []Predicate) resources.ValidationError {
	var v resources.ValidationError
	prioritySet := false
	for i, pr := range preds {
		at := p.Index(i)
		switch pr.PredicateType {
		case OmitHostsWithTags:
			if pr.Tags == nil {
				v.AddViolation(at.Field("tags"), targetref.MustBeDefined)
			}
		case OmitPreviousPriorities:
			if prioritySet {
				v.AddViolation(at.Field("predicate"), fmt.Sprintf("%v must only be specified once", pr.PredicateType))
			}
			if pr.UpdateFrequency <= 0 {
				v.AddViolation(at.Field("updateFrequency"), "must be defined and greater than zero")
			}
			prioritySet = true
		case OmitPreviousHosts:
		default:
			v.AddViolation(at.Field("predicate"), fmt.Sprintf("unknown predicate type '%v'", pr.PredicateType))
		}
	}
	return v
}

// validateSchema is what Kuma's OpenAPI schema rejects: targetRef enums, gRPC retry
// conditions, predicates, reset header formats and header match types outside theirs, and
// empty header names.
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
		if g := t.Default.GRPC; g != nil {
			for j, r := range deref(g.RetryOn) {
				if _, ok := grpcRetryOn[r]; !ok {
					v.AddViolation(d.Field("grpc").Field("retryOn").Index(j), targetref.SchemaEnum(grpcRetryOnOrder...))
				}
			}
			v.Add(resetHeadersSchema(d.Field("grpc"), g.RateLimitedBackOff))
		}
		if h := t.Default.HTTP; h != nil {
			v.Add(resetHeadersSchema(d.Field("http"), h.RateLimitedBackOff))
			for j, pr := range deref(h.HostSelection) {
				if !slices.Contains([]PredicateType{OmitPreviousHosts, OmitHostsWithTags, OmitPreviousPriorities}, pr.PredicateType) {
					v.AddViolation(d.Field("http").Field("hostSelection").Index(j).Field("predicate"),
						targetref.SchemaEnum(OmitPreviousHosts, OmitHostsWithTags, OmitPreviousPriorities))
				}
			}
			v.Add(headerMatchesSchema(d.Field("http").Field("retriableRequestHeaders"), deref(h.RetriableRequestHeaders)))
			v.Add(headerMatchesSchema(d.Field("http").Field("retriableResponseHeaders"), deref(h.RetriableResponseHeaders)))
		}
	}
	return v
}

func resetHeadersSchema(p resources.Path, r *RateLimitedBackOff) resources.ValidationError {
	var v resources.ValidationError
	if r == nil {
		return v
	}
	for i, h := range deref(r.ResetHeaders) {
		at := p.Field("rateLimitedBackOff").Field("resetHeaders").Index(i)
		if h.Format != Seconds && h.Format != UnixTimestamp {
			v.AddViolation(at.Field("format"), targetref.SchemaEnum(Seconds, UnixTimestamp))
		}
	}
	return v
}

func headerMatchesSchema(p resources.Path, hs []targetref.HeaderMatch) resources.ValidationError {
	var v resources.ValidationError
	for i, h := range hs {
		if h.Type != nil && !slices.Contains(targetref.HeaderMatchTypes, *h.Type) {
			v.AddViolation(p.Index(i).Field("type"), targetref.SchemaEnum(targetref.HeaderMatchTypes...))
		}
		if h.Name == "" {
			v.AddViolation(p.Index(i).Field("name"), "in body should be at least 1 chars long")
		}
	}
	return v
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
