package meshcircuitbreaker

import (
	"fmt"
	"math/big"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
)

// Kuma's messages (pkg/core/validators).
const (
	msgGreaterThanZero   = "must be greater than 0"
	msgDurationPositive  = "must be greater than zero when defined"
	msgUintPercentage    = "must be in inclusive range [0, 100]"
	msgPercentage        = "must be in inclusive range [0.0, 100.0]"
	msgValidNumber       = "string must be a valid number"
	msgInvalidNumber     = "invalid number"
	msgMustBeDefined     = "must be defined"
	msgAtLeastOneDefault = "at least one of: 'connectionLimits' or 'outlierDetection' should be configured"
	msgAtLeastOneDetect  = "must have at least one defined: totalFailures, gatewayFailures, localOriginFailures, successRate, failurePercentage"
)

var (
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshGateway, targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshExternalService,
		targetref.MeshMultiZoneService}
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
	if len(s.GetRules()) == 0 && len(s.GetTo()) == 0 && len(s.GetFrom()) == 0 {
		v.AddViolation(spec, "at least one of 'from', 'to' or 'rules' has to be defined")
	}
	if len(s.GetRules()) > 0 && (len(s.GetTo()) > 0 || len(s.GetFrom()) > 0) {
		v.AddViolation(spec, "fields 'to' and 'from' must be empty when 'rules' is defined")
	}
	for i, r := range s.GetRules() {
		// Kuma reports rules under "from" (its validateRules roots them there); we keep its
		// paths so clients see identical answers.
		v.Add(validateDefault(spec.Field("from").Index(i).Field("default"), r.Default))
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(f.TargetRef, targetref.Options{SupportedKinds: []targetref.Kind{targetref.Mesh}}))
		v.Add(validateDefault(at.Field("default"), f.Default))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: toKinds}))
		v.Add(validateDefault(at.Field("default"), t.Default))
	}
	return v
}

func validateDefault(p resources.Path, c Conf) resources.ValidationError {
	var v resources.ValidationError
	if c.ConnectionLimits == nil && c.OutlierDetection == nil {
		v.AddViolation(p, msgAtLeastOneDefault)
		return v
	}
	if l := c.ConnectionLimits; l != nil {
		lp := p.Field("connectionLimits")
		positive(&v, lp.Field("maxConnections"), l.MaxConnections)
		positive(&v, lp.Field("maxConnectionPools"), l.MaxConnectionPools)
		positive(&v, lp.Field("maxPendingRequests"), l.MaxPendingRequests)
		positive(&v, lp.Field("maxRetries"), l.MaxRetries)
		positive(&v, lp.Field("maxRequests"), l.MaxRequests)
	}
	if o := c.OutlierDetection; o != nil {
		v.Add(validateOutlierDetection(p.Field("outlierDetection"), o))
	}
	return v
}

func validateOutlierDetection(p resources.Path, o *OutlierDetection) resources.ValidationError {
	var v resources.ValidationError
	durationPositive(&v, p.Field("interval"), o.Interval)
	durationPositive(&v, p.Field("baseEjectionTime"), o.BaseEjectionTime)
	uintPercentage(&v, p.Field("maxEjectionPercent"), o.MaxEjectionPercent)
	if pct := o.HealthyPanicThreshold; pct != nil {
		switch f, ok := decimal(*pct); {
		case !ok:
			v.AddViolation(p.Field("healthyPanicThreshold"), msgValidNumber)
		case f.Sign() < 0 || f.Cmp(big.NewRat(100, 1)) > 0:
			v.AddViolation(p.Field("healthyPanicThreshold"), msgPercentage)
		}
	}
	dp := p.Field("detectors")
	d := o.Detectors
	switch {
	case d == nil:
		// Kuma requires detectors even when the section only says disabled: true.
		v.AddViolation(dp, msgMustBeDefined)
		return v
	case d.TotalFailures == nil && d.GatewayFailures == nil && d.LocalOriginFailures == nil &&
		d.SuccessRate == nil && d.FailurePercentage == nil:
		v.AddViolation(dp, msgAtLeastOneDetect)
		return v
	}
	validateConsecutive(&v, dp.Field("totalFailures"), d.TotalFailures)
	validateConsecutive(&v, dp.Field("gatewayFailures"), d.GatewayFailures)
	validateConsecutive(&v, dp.Field("localOriginFailures"), d.LocalOriginFailures)
	if sr := d.SuccessRate; sr != nil {
		sp := dp.Field("successRate")
		positive(&v, sp.Field("minimumHosts"), sr.MinimumHosts)
		positive(&v, sp.Field("requestVolume"), sr.RequestVolume)
		if f := sr.StandardDeviationFactor; f != nil {
			switch r, ok := decimal(*f); {
			case !ok:
				v.AddViolation(sp.Field("standardDeviationFactor"), msgInvalidNumber)
			case r.Sign() <= 0:
				v.AddViolation(sp.Field("standardDeviationFactor"), msgGreaterThanZero)
			}
		}
	}
	if fp := d.FailurePercentage; fp != nil {
		fpp := dp.Field("failurePercentage")
		positive(&v, fpp.Field("minimumHosts"), fp.MinimumHosts)
		positive(&v, fpp.Field("requestVolume"), fp.RequestVolume)
		uintPercentage(&v, fpp.Field("threshold"), fp.Threshold)
	}
	return v
}

func validateConsecutive(v *resources.ValidationError, p resources.Path, c *Consecutive) {
	if c != nil {
		positive(v, p.Field("consecutive"), c.Consecutive)
	}
}

func positive(v *resources.ValidationError, p resources.Path, n *uint32) {
	if n != nil && *n == 0 {
		v.AddViolation(p, msgGreaterThanZero)
	}
}

func durationPositive(v *resources.ValidationError, p resources.Path, d *targetref.Duration) {
	if d != nil && d.Duration <= 0 {
		v.AddViolation(p, msgDurationPositive)
	}
}

func uintPercentage(v *resources.ValidationError, p resources.Path, n *uint32) {
	if n != nil && *n > 100 {
		v.AddViolation(p, msgUintPercentage)
	}
}

// decimal parses a percentage or factor exactly, as Kuma's decimal package does.
func decimal(p meshhttproute.Percentage) (*big.Rat, bool) {
	return new(big.Rat).SetString(p.Value)
}

// Decimal is the value of a percentage or factor; Validate has rejected malformed ones.
func Decimal(p meshhttproute.Percentage) (*big.Rat, error) {
	r, ok := decimal(p)
	if !ok {
		return nil, fmt.Errorf("invalid number %q", p.Value)
	}
	return r, nil
}

// validateSchema is what Kuma's OpenAPI schema for the type rejects: targetRef kinds and
// proxy types outside their enums.
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
	return v
}
