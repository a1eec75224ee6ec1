package meshtrafficpermission

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

var (
	topLevelKinds = []targetref.Kind{
		targetref.Mesh, targetref.MeshSubset, targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane,
	}
	fromKinds = []targetref.Kind{
		targetref.Mesh, targetref.MeshSubset, targetref.MeshService, targetref.MeshServiceSubset,
	}
)

// Validate implements resources.Spec. Like Kuma's API server it first applies the policy's
// OpenAPI schema (enums, required kinds) and, if that passes, the Go validator. Paths start at
// "spec", as plugin types' paths do in Kuma.
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		affectsInbounds := len(s.GetFrom()) > 0 || len(s.GetRules()) > 0
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{
			SupportedKinds:  topLevelKinds,
			IsInboundPolicy: affectsInbounds,
		}))
	}
	if len(s.GetFrom()) > 0 && len(s.GetRules()) > 0 {
		v.AddViolation(spec, "field 'from' must be empty when 'rules' is defined")
	}
	if len(s.GetFrom()) == 0 && len(s.GetRules()) == 0 {
		v.AddViolation(spec, "at least one of 'from' or 'rules' has to be defined")
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i)
		d := r.Default
		if len(deref(d.Deny)) == 0 && len(deref(d.Allow)) == 0 && len(deref(d.AllowWithShadowDeny)) == 0 {
			v.AddViolation(at, "at least one of 'allow', 'allowWithShadowDeny', 'deny' has to be defined")
		}
		v.Add(validateMatches(at.Field("allow"), deref(d.Allow)))
		v.Add(validateMatches(at.Field("allowWithShadowDeny"), deref(d.AllowWithShadowDeny)))
		v.Add(validateMatches(at.Field("deny"), deref(d.Deny)))
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(f.TargetRef, targetref.Options{SupportedKinds: fromKinds}))
		if f.Default.Action == nil || *f.Default.Action == "" {
			v.AddViolation(at.Field("default").Field("action"), targetref.MustBeDefined)
		}
	}
	return v
}

func validateMatches(p resources.Path, matches []targetref.Match) resources.ValidationError {
	var v resources.ValidationError
	for i, m := range matches {
		v.AddErrorAt(p.Index(i), targetref.ValidateMatch(m))
	}
	return v
}

// validateSchema is what Kuma's OpenAPI schema for the type rejects.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, f := range s.GetFrom() {
		at := spec.Field("from").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(f.TargetRef))
		if a := f.Default.Action; a != nil && *a != Allow && *a != Deny && *a != AllowWithShadowDeny {
			v.AddViolation(at.Field("default").Field("action"), targetref.SchemaEnum(Allow, Deny, AllowWithShadowDeny))
		}
	}
	for i, r := range s.GetRules() {
		at := spec.Field("rules").Index(i).Field("default")
		for _, l := range []struct {
			name    string
			matches *[]targetref.Match
		}{{"allow", r.Default.Allow}, {"allowWithShadowDeny", r.Default.AllowWithShadowDeny}, {"deny", r.Default.Deny}} {
			for j, m := range deref(l.matches) {
				v.AddErrorAt(at.Field(l.name).Index(j), targetref.ValidateMatchSchema(m))
			}
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
