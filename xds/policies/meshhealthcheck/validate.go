package meshhealthcheck

import (
	"fmt"
	"math/big"
	"regexp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Kuma's messages (pkg/core/validators).
const (
	msgPositive       = "must be greater than zero when defined"
	msgIntPercentage  = "must be in inclusive range [0, 100]"
	msgPercentage     = "must be in inclusive range [0.0, 100.0]"
	msgValidNumber    = "string must be a valid number"
	msgValidPath      = "must be a valid path when defined"
	msgMustBeDefined  = "must be defined"
	msgStatusRange    = "must be in inclusive range [100, 599]"
	msgAtLeastChecker = "must have at least one defined: http, tcp, grpc"
)

var (
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshExternalService,
		targetref.MeshMultiZoneService}
	// unixPath and windowsPath are what Kuma's path check (govalidator.IsFilePath) accepts.
	unixPath    = regexp.MustCompile(`^(/[^/\x00]*)+/?$`)
	windowsPath = regexp.MustCompile(`^[a-zA-Z]:\\(?:[^\\/:*?"<>|\r\n]+\\)*[^\\/:*?"<>|\r\n]*$`)
)

// Validate implements resources.Spec: Kuma's OpenAPI schema checks first, then, if they
// pass, its Go validator. Paths start at "spec".
func (s *Spec) Validate() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		v.AddErrorAt(spec.Field("to").Index(i).Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
	}
	if v.HasViolations() {
		return v
	}
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds: topLevelKinds, GatewayListenerTagsAllowed: true}))
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
	positiveDuration(&v, p.Field("interval"), c.Interval)
	positiveDuration(&v, p.Field("timeout"), c.Timeout)
	positive(&v, p.Field("unhealthyThreshold"), c.UnhealthyThreshold)
	positive(&v, p.Field("healthyThreshold"), c.HealthyThreshold)
	positiveDuration(&v, p.Field("initialJitter"), c.InitialJitter)
	positiveDuration(&v, p.Field("intervalJitter"), c.IntervalJitter)
	if n := c.IntervalJitterPercent; n != nil && (*n < 0 || *n > 100) {
		v.AddViolation(p.Field("intervalJitterPercent"), msgIntPercentage)
	}
	if t := c.HealthyPanicThreshold; t != nil {
		switch r, ok := new(big.Rat).SetString(t.Value); {
		case !ok:
			v.AddViolation(p.Field("healthyPanicThreshold"), msgValidNumber)
		case r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) > 0:
			v.AddViolation(p.Field("healthyPanicThreshold"), msgPercentage)
		}
	}
	positiveDuration(&v, p.Field("noTrafficInterval"), c.NoTrafficInterval)
	if l := c.EventLogPath; l != nil && !unixPath.MatchString(*l) && !windowsPath.MatchString(*l) {
		v.AddViolation(p.Field("eventLogPath"), msgValidPath)
	}
	if h := c.Http; h != nil {
		hp := p.Field("http")
		if h.Path != nil && *h.Path == "" {
			v.AddViolation(hp.Field("path"), msgMustBeDefined)
		}
		if h.ExpectedStatuses != nil {
			for i, code := range *h.ExpectedStatuses {
				if code < 100 || code >= 600 {
					v.AddViolation(hp.Field("expectedStatuses").Index(i), msgStatusRange)
				}
			}
		}
	}
	if c.Http == nil && c.Tcp == nil && c.Grpc == nil {
		v.AddViolation(p, msgAtLeastChecker)
	}
	return v
}

func positive(v *resources.ValidationError, p resources.Path, n *int32) {
	if n != nil && *n <= 0 {
		v.AddViolation(p, msgPositive)
	}
}

func positiveDuration(v *resources.ValidationError, p resources.Path, d *targetref.Duration) {
	if d != nil && d.Duration <= 0 {
		v.AddViolation(p, msgPositive)
	}
}

// percent is a validated percentage as a number.
func percent(value string) (float64, error) {
	r, ok := new(big.Rat).SetString(value)
	if !ok {
		return 0, fmt.Errorf("invalid number %q", value)
	}
	f, _ := r.Float64()
	return f, nil
}
