package meshaccesslog

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

var (
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshGateway,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds = []targetref.Kind{targetref.Mesh, targetref.MeshService, targetref.MeshExternalService,
		targetref.MeshMultiZoneService, targetref.MeshHTTPRoute}
	gatewayToKinds = []targetref.Kind{targetref.Mesh}
	meshOnly       = []targetref.Kind{targetref.Mesh}

	// The path rules Kuma's file backend check uses (govalidator's IsFilePath: an absolute
	// Unix or Windows path).
	unixPath = regexp.MustCompile(`^(/[^/\x00]*)+/?$`)
	winPath  = regexp.MustCompile(`^[a-zA-Z]:\\(?:[^\\/:*?"<>|\r\n]+\\)*[^\\/:*?"<>|\r\n]*$`)
	// otelAttributeName is Kuma's rule for OpenTelemetry attribute keys.
	otelAttributeName = regexp.MustCompile(`^[a-z](?:[a-z0-9]|[._][a-z0-9])*$`)
)

// Validate implements resources.Spec: Kuma's OpenAPI schema checks first, then, if they
// pass, its Go validator in its order (targetRef, spec, to, from, rules).
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	top := targetref.TargetRef{Kind: targetref.Mesh}
	if s.TargetRef != nil {
		top = *s.TargetRef
	}
	v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(top, targetref.Options{
		SupportedKinds:             topLevelKinds,
		GatewayListenerTagsAllowed: true,
		IsInboundPolicy:            len(s.GetFrom()) > 0 || len(s.GetRules()) > 0,
	}))
	if len(s.GetRules()) > 0 && (len(s.GetTo()) > 0 || len(s.GetFrom()) > 0) {
		v.AddViolation(spec, "fields 'to' and 'from' must be empty when 'rules' is defined")
	}
	if len(s.GetRules()) == 0 && len(s.GetTo()) == 0 && len(s.GetFrom()) == 0 {
		v.AddViolation(spec, "at least one of 'from', 'to' or 'rules' has to be defined")
	}
	kinds := toKinds
	if top.Kind == targetref.MeshGateway {
		kinds = gatewayToKinds
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: kinds}))
		v.AddErrorAt(at.Field("default"), validateConf(t.Default))
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(f.TargetRef, targetref.Options{SupportedKinds: meshOnly}))
		v.AddErrorAt(at.Field("default"), validateConf(f.Default))
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		for j, m := range deref(r.Matches) {
			v.AddErrorAt(at.Field("matches").Index(j), targetref.ValidateMatch(m))
		}
		v.AddErrorAt(at.Field("default"), validateConf(r.Default))
	}
	return v
}

func validateConf(c Conf) resources.ValidationError {
	var v resources.ValidationError
	if c.Backends == nil {
		v.AddViolation(resources.FieldPath("backends"), targetref.MustBeDefined)
		return v
	}
	for i, b := range *c.Backends {
		v.AddErrorAt(resources.FieldPath("backends").Index(i), validateBackend(b))
	}
	return v
}

func validateBackend(b Backend) resources.ValidationError {
	var v resources.ValidationError
	switch b.Type {
	case FileBackendType:
		p := resources.FieldPath("file")
		if b.File == nil {
			v.AddViolation(p, targetref.MustBeDefined)
			break
		}
		if b.File.Format != nil {
			v.AddErrorAt(p.Field("format"), validateFormat(*b.File.Format))
		}
		if !unixPath.MatchString(b.File.Path) && !winPath.MatchString(b.File.Path) {
			v.AddViolation(p.Field("path"), "file backend requires a valid path")
		}
	case TCPBackendType:
		p := resources.FieldPath("tcp")
		if b.Tcp == nil {
			v.AddViolation(p, targetref.MustBeDefined)
			break
		}
		if b.Tcp.Format != nil {
			v.AddErrorAt(p.Field("format"), validateFormat(*b.Tcp.Format))
		}
		if !isAddress(b.Tcp.Address) {
			v.AddViolation(p.Field("address"), "tcp backend requires valid address")
		}
	case OtelBackendType:
		p := resources.FieldPath("openTelemetry")
		if b.OpenTelemetry == nil {
			v.AddViolation(p, targetref.MustBeDefined)
			break
		}
		v.AddErrorAt(p, validateOtel(*b.OpenTelemetry))
	}
	return v
}

// isAddress approximates Kuma's check (govalidator's IsURL): "host:port", a URL with a
// host, or a dotted host name. It accepts what Kuma documents ("127.0.0.1:5000",
// "tcp://logs:5000") and rejects empty values and bare words ("not_valid_url").
func isAddress(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t") {
		return false
	}
	if !strings.Contains(s, "://") {
		if !strings.Contains(s, ":") && !strings.Contains(s, ".") {
			return false
		}
		s = "tcp://" + s
	}
	u, err := url.Parse(s)
	return err == nil && u.Hostname() != "" && !strings.HasPrefix(u.Hostname(), ".")
}

func validateOtel(o OtelBackend) resources.ValidationError {
	var v resources.ValidationError
	switch {
	case o.Endpoint != "" && o.BackendRef != nil:
		v.AddViolation(resources.Root(), "openTelemetry must have only one type defined: endpoint, backendRef")
		return v
	case o.Endpoint == "" && o.BackendRef == nil:
		v.AddViolation(resources.Root(), "openTelemetry must have exactly one defined: endpoint, backendRef")
		return v
	case o.BackendRef != nil:
		p := resources.FieldPath("backendRef")
		if o.BackendRef.Kind != "MeshOpenTelemetryBackend" {
			v.AddViolation(p.Field("kind"), `"kind" must be one of ["MeshOpenTelemetryBackend"]`)
		}
		if len(o.BackendRef.Labels) == 0 {
			v.AddViolation(p, "backendRef must have exactly one defined: labels")
		}
	case strings.ContainsAny(o.Endpoint, "/?#"):
		v.AddViolation(resources.FieldPath("endpoint"), "must be in host:port format, not a URL")
	}
	for i, a := range deref(o.Attributes) {
		p := resources.FieldPath("attributes").Index(i).Field("key")
		switch {
		case a.Key == "":
			v.AddViolation(p, targetref.MustBeDefined)
		case strings.Contains(a.Key, "%"):
			v.AddViolation(p, "must be a static OpenTelemetry attribute name; placeholders are only supported in values")
		case strings.HasPrefix(a.Key, "otel."):
			v.AddViolation(p, "must not use the reserved OpenTelemetry prefix 'otel.'")
		case !otelAttributeName.MatchString(a.Key):
			v.AddViolation(p, "must start with a lowercase letter, use only lowercase letters, digits, '.' or '_', avoid consecutive delimiters, and end with a letter or digit")
		}
	}
	return v
}

func validateFormat(f Format) resources.ValidationError {
	var v resources.ValidationError
	switch f.Type {
	case PlainFormatType:
		p := resources.FieldPath("plain")
		switch {
		case f.Plain == nil:
			v.AddViolation(p, targetref.MustBeDefined)
		case *f.Plain == "":
			v.AddViolation(p, "must not be empty")
		}
	case JSONFormatType:
		p := resources.FieldPath("json")
		if f.JSON == nil {
			v.AddViolation(p, targetref.MustBeDefined)
			break
		}
		if len(*f.JSON) == 0 {
			v.AddViolation(p, "must not be empty")
		}
		for i, kv := range *f.JSON {
			at := p.Index(i)
			if kv.Key == "" {
				v.AddViolation(at.Field("key"), "key cannot be empty")
			}
			if kv.Value == "" {
				v.AddViolation(at.Field("value"), "value cannot be empty")
			}
			// Kuma pastes key and value into a JSON object unescaped and checks it parses.
			if !json.Valid(fmt.Appendf(nil, `{"%s": "%s"}`, kv.Key, kv.Value)) {
				v.AddViolation(at, "is not a valid JSON object")
			}
		}
	}
	return v
}

// validateSchema is what Kuma's OpenAPI schema rejects: targetRef kinds, backend and format
// types outside their enums.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
		v.AddErrorAt(at.Field("default"), confSchema(t.Default))
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(f.TargetRef))
		v.AddErrorAt(at.Field("default"), confSchema(f.Default))
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		for j, m := range deref(r.Matches) {
			v.AddErrorAt(at.Field("matches").Index(j), targetref.ValidateMatchSchema(m))
		}
		v.AddErrorAt(at.Field("default"), confSchema(r.Default))
	}
	return v
}

func confSchema(c Conf) resources.ValidationError {
	var v resources.ValidationError
	for i, b := range deref(c.Backends) {
		p := resources.FieldPath("backends").Index(i)
		switch b.Type {
		case TCPBackendType, FileBackendType, OtelBackendType:
		default:
			v.AddViolation(p.Field("type"), targetref.SchemaEnum(TCPBackendType, FileBackendType, OtelBackendType))
		}
		// Empty paths and addresses are left to the Go checks, whose messages say more.
		if b.File != nil {
			v.Add(formatSchema(p.Field("file").Field("format"), b.File.Format))
		}
		if b.Tcp != nil {
			v.Add(formatSchema(p.Field("tcp").Field("format"), b.Tcp.Format))
		}
	}
	return v
}

func formatSchema(p resources.Path, f *Format) resources.ValidationError {
	var v resources.ValidationError
	if f != nil && f.Type != PlainFormatType && f.Type != JSONFormatType {
		v.AddViolation(p.Field("type"), targetref.SchemaEnum(PlainFormatType, JSONFormatType))
	}
	return v
}
