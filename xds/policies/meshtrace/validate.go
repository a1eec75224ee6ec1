package meshtrace

import (
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

var (
	// topLevelKinds are those of the system policy role (every policy without a
	// kuma.io/policy-role label); ValidateMeta narrows them for the other roles.
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	roleTopLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshServiceSubset, targetref.Dataplane}
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
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{SupportedKinds: topLevelKinds}))
	}
	v.AddErrorAt(spec.Field("default"), validateDefault(s.Default))
	return v
}

// ValidateMeta implements resources.MetaValidator: producer, consumer and workload-owner
// policies may not target gateways.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	role := meta.Labels[resources.LabelPolicyRole]
	if s.TargetRef == nil || role == "" || role == "system" {
		return v
	}
	v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{SupportedKinds: roleTopLevelKinds}))
	return v
}

func validateDefault(c Conf) resources.ValidationError {
	var v resources.ValidationError
	backends := resources.FieldPath("backends")
	if c.Backends == nil {
		v.AddViolation(backends, targetref.MustBeDefined)
	}
	switch n := len(deref(c.Backends)); {
	case n == 1:
		v.Add(validateBackend((*c.Backends)[0], backends.Index(0)))
	case n > 1:
		v.AddViolation(backends, "must have zero or one backend defined")
	}
	for i, t := range deref(c.Tags) {
		p := resources.FieldPath("tags").Index(i)
		if t.Name == "" {
			v.AddViolation(p.Field("name"), "must not be empty")
		}
		if (t.Header != nil) == (t.Literal != nil) {
			v.AddViolation(p, "tag must have only one type defined: header, literal")
		}
	}
	if sm := c.Sampling; sm != nil {
		p := resources.FieldPath("sampling")
		for _, f := range []struct {
			name string
			val  *IntOrString
		}{{"client", sm.Client}, {"random", sm.Random}, {"overall", sm.Overall}} {
			if f.val == nil {
				continue
			}
			n, err := f.val.Float()
			if err != nil {
				v.AddViolation(p.Field(f.name), "string is not a number")
			}
			if n < 0 || n > 100 {
				v.AddViolation(p.Field(f.name), "must be between 0 and 100")
			}
		}
	}
	return v
}

func validateBackend(b Backend, p resources.Path) resources.ValidationError {
	var v resources.ValidationError
	switch b.Type {
	case DatadogBackendType:
		dp := p.Field("datadog")
		if b.Datadog == nil {
			v.AddViolation(dp, targetref.MustBeDefined)
			break
		}
		v.Add(validateDatadogURL(dp.Field("url"), b.Datadog.URL))
	case ZipkinBackendType:
		zp := p.Field("zipkin")
		switch {
		case b.Zipkin == nil:
			v.AddViolation(zp, targetref.MustBeDefined)
		case b.Zipkin.URL == "":
			v.AddViolation(zp.Field("url"), "must not be empty")
		case !isURL(b.Zipkin.URL):
			v.AddViolation(zp.Field("url"), "must be a valid url")
		}
	case OtelBackendType:
		op := p.Field("openTelemetry")
		o := b.OpenTelemetry
		switch {
		case o == nil:
			v.AddViolation(op, targetref.MustBeDefined)
		case o.Endpoint != "" && o.BackendRef != nil:
			v.AddViolation(op, "openTelemetry must have only one type defined: endpoint, backendRef")
		case o.Endpoint == "" && o.BackendRef == nil:
			v.AddViolation(op, "openTelemetry must have exactly one defined: endpoint, backendRef")
		case o.BackendRef != nil:
			if o.BackendRef.Kind != "MeshOpenTelemetryBackend" {
				v.AddViolation(op.Field("backendRef").Field("kind"), `"kind" must be one of ["MeshOpenTelemetryBackend"]`)
			}
			if len(o.BackendRef.Labels) == 0 {
				v.AddViolation(op.Field("backendRef"), "backendRef must have exactly one defined: labels")
			}
		case strings.ContainsAny(o.Endpoint, "/?#"):
			v.AddViolation(op.Field("endpoint"), "must be in host:port format, not a URL")
		}
	}
	return v
}

// validateDatadogURL is Kuma's check: an http URL with a port and nothing else. (Kuma lists
// the extra parts in map order; here they come in a fixed one.)
func validateDatadogURL(p resources.Path, s string) resources.ValidationError {
	var v resources.ValidationError
	u, err := url.ParseRequestURI(s)
	if err != nil {
		v.AddViolation(p, "must be a valid url")
		return v
	}
	if u.Scheme != "http" {
		v.AddViolation(p, "scheme must be http")
	}
	if u.Port() == "" {
		v.AddViolation(p, "port must be defined")
	} else if port, err := strconv.Atoi(u.Port()); err != nil || port == 0 || port > math.MaxUint16 {
		v.AddViolation(p, "port must be a valid (1-65535)")
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"opaque", u.Opaque != ""}, {"user", u.User != nil}, {"path", u.Path != ""}, {"query", u.RawQuery != ""}, {"fragment", u.Fragment != ""}} {
		if f.set {
			v.AddViolation(p, f.name+" must not be defined")
		}
	}
	return v
}

// isURL approximates Kuma's govalidator.IsURL for collector URLs: a URL (scheme optional)
// with a host.
func isURL(s string) bool {
	if strings.ContainsAny(s, " \t") {
		return false
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	return err == nil && u.Hostname() != "" && (strings.Contains(u.Host, ".") || strings.Contains(u.Host, ":") || u.Hostname() == "localhost")
}

// validateSchema is what Kuma's OpenAPI schema rejects: targetRef kinds outside the enum,
// unknown backend types and Zipkin API versions.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	// More than one backend is left to the Go check, whose message Kuma's tests show.
	backends := spec.Field("default").Field("backends")
	for i, b := range deref(s.Default.Backends) {
		switch b.Type {
		case ZipkinBackendType, DatadogBackendType, OtelBackendType:
		default:
			v.AddViolation(backends.Index(i).Field("type"), targetref.SchemaEnum(ZipkinBackendType, DatadogBackendType, OtelBackendType))
		}
		if z := b.Zipkin; z != nil && z.APIVersion != "httpJson" && z.APIVersion != "httpProto" {
			v.AddViolation(backends.Index(i).Field("zipkin").Field("apiVersion"), targetref.SchemaEnum("httpJson", "httpProto"))
		}
	}
	return v
}
