package targetref

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
)

// Messages Kuma's validators share (pkg/core/validators).
const (
	MustBeDefined = "must be defined"
	MustBeSet     = "must be set"
	MustNotBeSet  = "must not be set"
)

// Options say where a targetRef appears: which kinds are allowed there, and a few exceptions.
type Options struct {
	// SupportedKinds are the kinds allowed at this place; others get
	// "value 'X' is not supported" (or SupportedKindsError).
	SupportedKinds      []Kind
	SupportedKindsError string
	// GatewayListenerTagsAllowed lets a MeshGateway ref select listeners by tags.
	GatewayListenerTagsAllowed bool
	// AllowedInvalidNames are names accepted despite the character rule
	// ("kuma.io/unresolved-backend" in converted Gateway API routes).
	AllowedInvalidNames []string
	// IsInboundPolicy allows sectionName on a Dataplane ref (policies with from or rules).
	IsInboundPolicy bool
}

var nameCharset = regexp.MustCompile(`^[0-9a-z.\-_]*$`)

// Validate checks a targetRef with Kuma 2.14's rules (ValidateTargetRef): the kind must be
// supported here, and each kind allows or requires its own fields.
func Validate(ref TargetRef, opts Options) resources.ValidationError {
	var v resources.ValidationError
	kind := resources.FieldPath("kind")
	if ref.Kind == "" {
		v.AddViolation(kind, MustBeDefined)
		return v
	}
	if !slices.Contains(opts.SupportedKinds, ref.Kind) {
		msg := fmt.Sprintf("value '%s' is not supported", ref.Kind)
		if opts.SupportedKindsError != "" {
			msg = opts.SupportedKindsError
		}
		v.AddViolation(kind, msg)
		return v
	}
	switch ref.Kind {
	case Mesh, MeshSubset, Dataplane:
		v.Add(validateSelectorKind(ref, opts))
	default:
		v.Add(validateNamedKind(ref, opts))
	}
	return v
}

// validateSelectorKind checks the kinds that select proxies: Mesh, MeshSubset, Dataplane.
func validateSelectorKind(ref TargetRef, opts Options) resources.ValidationError {
	var v resources.ValidationError
	switch ref.Kind {
	case Mesh:
		if ref.GetName() != "" {
			v.AddViolation(resources.FieldPath("name"), fmt.Sprintf("using name with kind %v is not yet supported", ref.Kind))
		}
		v.Add(forbid(ref, "mesh", "tags", "labels", "namespace", "sectionName"))
		v.Add(validateProxyTypes(ref.ProxyTypes))
	case MeshSubset:
		v.Add(forbid(ref, "name", "mesh"))
		v.Add(resources.ValidateTags(resources.FieldPath("tags"), ref.GetTags(), resources.TagsOptions{}))
		v.Add(forbid(ref, "labels", "namespace", "sectionName"))
		v.Add(validateProxyTypes(ref.ProxyTypes))
	case Dataplane:
		v.Add(forbid(ref, "tags", "mesh", "proxyTypes"))
		if labelsWithName(ref) {
			v.AddViolation(resources.FieldPath("labels"), "either labels or name and namespace must be specified")
		}
		if !opts.IsInboundPolicy && ref.GetSectionName() != "" {
			v.AddViolation(resources.FieldPath("sectionName"), "can only be used with inbound policies")
		}
	}
	return v
}

// validateNamedKind checks the kinds that name a resource: services, gateways and routes.
func validateNamedKind(ref TargetRef, opts Options) resources.ValidationError {
	var v resources.ValidationError
	name, labels := ref.GetName(), ref.GetLabels()
	switch ref.Kind {
	case MeshService, MeshHTTPRoute, MeshExternalService:
		v.Add(validateName(name, opts.AllowedInvalidNames))
		v.Add(forbid(ref, "mesh", "tags", "proxyTypes"))
		if ref.Kind == MeshHTTPRoute {
			v.Add(forbid(ref, "sectionName"))
		}
		if len(labels) == 0 && name == "" {
			v.AddViolation(resources.Root(), fmt.Sprintf("name or labels must be set when kind is %v", ref.Kind))
		}
		if labelsWithName(ref) {
			msg := "either labels or name and namespace must be specified"
			if ref.Kind == MeshExternalService {
				msg = "either labels or name must be specified"
			}
			v.AddViolation(resources.FieldPath("labels"), msg)
		}
		if ref.Kind == MeshExternalService {
			v.Add(forbid(ref, "sectionName"))
		}
	case MeshServiceSubset, MeshGateway:
		if name == "" {
			v.AddViolation(resources.FieldPath("name"), fmt.Sprintf("%s when kind is %v", MustBeSet, ref.Kind))
		}
		v.Add(validateName(name, opts.AllowedInvalidNames))
		v.Add(forbid(ref, "mesh", "proxyTypes"))
		v.Add(resources.ValidateSelector(resources.FieldPath("tags"), ref.GetTags(), resources.TagsOptions{}))
		if ref.Kind == MeshGateway && len(ref.GetTags()) > 0 && !opts.GatewayListenerTagsAllowed {
			v.Add(forbid(ref, "tags"))
		}
		v.Add(forbid(ref, "labels", "namespace", "sectionName"))
	}
	return v
}

func labelsWithName(ref TargetRef) bool {
	return len(ref.GetLabels()) > 0 && (ref.GetName() != "" || ref.GetNamespace() != "")
}

// forbid reports each named field that is set ("must not be set with kind X").
func forbid(ref TargetRef, fields ...string) resources.ValidationError {
	var v resources.ValidationError
	for _, f := range fields {
		if isSet(ref, f) {
			v.AddViolation(resources.FieldPath(f), fmt.Sprintf("%s with kind %v", MustNotBeSet, ref.Kind))
		}
	}
	return v
}

func isSet(ref TargetRef, field string) bool {
	switch field {
	case "name":
		return ref.GetName() != ""
	case "tags":
		return len(ref.GetTags()) > 0
	case "mesh":
		return ref.GetMesh() != ""
	case "proxyTypes":
		return len(ref.GetProxyTypes()) > 0
	case "namespace":
		return ref.GetNamespace() != ""
	case "labels":
		return len(ref.GetLabels()) > 0
	case "sectionName":
		return ref.GetSectionName() != ""
	}
	panic("targetref: unknown field " + field)
}

func validateProxyTypes(p *[]ProxyType) resources.ValidationError {
	var v resources.ValidationError
	if p != nil && len(*p) == 0 {
		v.AddViolation(resources.FieldPath("proxyTypes"), "must be undefined or have at least one element")
	}
	return v
}

func validateName(name string, allowed []string) resources.ValidationError {
	var v resources.ValidationError
	if !slices.Contains(allowed, name) && !nameCharset.MatchString(name) {
		v.AddViolation(resources.FieldPath("name"),
			"invalid characters: must consist of lower case alphanumeric characters, '-', '.' and '_'.")
	}
	return v
}

// ValidateSchema reports what Kuma's OpenAPI schema rejects in a targetRef before any Go
// validator runs: a missing kind, a kind or proxy type outside the enums. The messages are the
// schema validator's ("in body is required", "in body should be one of [...]").
func ValidateSchema(ref TargetRef) resources.ValidationError {
	var v resources.ValidationError
	switch {
	case ref.Kind == "":
		v.AddViolation(resources.FieldPath("kind"), SchemaRequired)
	case !slices.Contains(AllKinds, ref.Kind):
		v.AddViolation(resources.FieldPath("kind"), SchemaEnum(AllKinds...))
	}
	for i, t := range ref.GetProxyTypes() {
		if t != Sidecar && t != Gateway {
			v.AddViolation(resources.FieldPath("proxyTypes").Index(i), SchemaEnum(Sidecar, Gateway))
		}
	}
	return v
}

// SchemaRequired is the schema validator's message for a missing required field.
const SchemaRequired = "in body is required"

// SchemaEnum is the schema validator's message for a value outside an enum.
func SchemaEnum[T ~string](values ...T) string {
	s := make([]string, len(values))
	for i, x := range values {
		s[i] = string(x)
	}
	return "in body should be one of [" + strings.Join(s, " ") + "]"
}

// TopLevelDeprecations are Kuma's warnings about a policy's top-level targetRef: kinds that
// Dataplane (with labels) replaces, and MeshHTTPRoute, which moved into to[].targetRef.
func TopLevelDeprecations(ref *TargetRef) []string {
	if ref == nil {
		return nil
	}
	switch ref.Kind {
	case MeshService, MeshServiceSubset, MeshSubset:
		return []string{fmt.Sprintf("%s value for 'targetRef.kind' is deprecated, use %s with labels instead", ref.Kind, Dataplane)}
	case MeshHTTPRoute:
		return []string{fmt.Sprintf("%s value for 'targetRef.kind' is deprecated, use %s in spec.to[].targetRef", MeshHTTPRoute, MeshHTTPRoute)}
	}
	return nil
}
