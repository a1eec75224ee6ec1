package resources

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeSpec is a spec whose validation result, labels and warnings a test chooses.
type fakeSpec struct {
	Field      string `json:"field,omitempty"`
	violations ValidationError
	meta       ValidationError
	labels     map[string]string
	warnings   []string
}

func (f *fakeSpec) Validate() ValidationError         { return f.violations }
func (f *fakeSpec) ValidateMeta(Meta) ValidationError { return f.meta }
func (f *fakeSpec) SpecLabels() map[string]string     { return f.labels }
func (f *fakeSpec) Warnings() []string                { return f.warnings }
func (f *fakeSpec) MetaWarnings(m Meta) []string      { return []string{"meta:" + m.Name} }
func newFake() Spec                                   { return &fakeSpec{} }
func violation(field, msg string) ValidationError     { return ValidationError{[]Violation{{field, msg}}} }
func violations(v ...Violation) []Violation           { return v }
func meshScoped(flags int) *Descriptor                { return desc(ScopeMesh, flags) }
func desc(scope Scope, flags int) *Descriptor {
	return &Descriptor{Name: "Fake", WsPath: "fakes", SingularName: "fake", PluralName: "fakes", ShortName: "fk",
		Scope: scope, KDSFlags: flags, NewSpec: newFake}
}

const (
	rfc1123Msg = "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
	meshMsg    = "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols."
)

func TestValidateMeta(t *testing.T) {
	long := strings.Repeat("a", 254)
	tests := []struct {
		name  string
		scope Scope
		meta  Meta
		want  []Violation
	}{
		{"valid mesh-scoped", ScopeMesh, Meta{Mesh: "default", Name: "backend-1.x"}, nil},
		{"valid global", ScopeGlobal, Meta{Name: "zone-1"}, nil},
		{"global type ignores mesh", ScopeGlobal, Meta{Name: "zone-1", Mesh: "Bad$"}, nil},
		{"mesh may keep legacy underscores", ScopeMesh, Meta{Mesh: "old_mesh", Name: "x"}, nil},
		{"name required", ScopeGlobal, Meta{}, violations(Violation{"name", "cannot be empty"})},
		{"mesh required", ScopeMesh, Meta{Name: "x"}, violations(Violation{"mesh", "cannot be empty"})},
		// Kuma's put_dataplanes_06 case.
		{"invalid characters", ScopeMesh, Meta{Mesh: "def$ault", Name: "dp-4$"}, violations(
			Violation{"name", rfc1123Msg}, Violation{"mesh", meshMsg})},
		{"underscore not allowed in names", ScopeGlobal, Meta{Name: "a_b"}, violations(Violation{"name", rfc1123Msg})},
		{"uppercase not allowed", ScopeGlobal, Meta{Name: "Backend"}, violations(Violation{"name", rfc1123Msg})},
		{"too long", ScopeGlobal, Meta{Name: long}, violations(Violation{"name", "value length must less or equal 253"})},
		{"unknown origin", ScopeGlobal, Meta{Name: "x", Labels: map[string]string{LabelOrigin: "mars"}},
			violations(Violation{`labels["kuma.io/origin"]`, `unknown resource origin "mars"`})},
		// Kuma's put_mtp_02 case: the messages of Kubernetes' label validators.
		{"label keys and values", ScopeMesh, Meta{Mesh: "default", Name: "sample", Labels: map[string]string{
			"foo/bar/baz": "bar", "": "bar", "foo": "^*bar",
		}}, violations(
			Violation{`labels[""]`, "name part must be non-empty"},
			Violation{`labels[""]`, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"},
			Violation{`labels["foo"]`, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"},
			Violation{`labels["foo/bar/baz"]`, "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"},
		)},
		{"label prefix must be a subdomain", ScopeGlobal, Meta{Name: "x", Labels: map[string]string{"Kuma.io/x": "y", "/x": "y"}},
			violations(
				Violation{`labels["/x"]`, "prefix part must be non-empty"},
				Violation{`labels["Kuma.io/x"]`, "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
			)},
		{"label value too long", ScopeGlobal, Meta{Name: "x", Labels: map[string]string{"k": strings.Repeat("v", 64)}},
			violations(Violation{`labels["k"]`, "must be no more than 63 bytes"})},
		{"empty label value is fine", ScopeGlobal, Meta{Name: "x", Labels: map[string]string{"k": ""}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateMeta(desc(tt.scope, 0), tt.meta)
			if diff := cmp.Diff(tt.want, got.Violations); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	d := meshScoped(0)
	t.Run("valid", func(t *testing.T) {
		r := &Resource{Desc: d, Meta: Meta{Mesh: "default", Name: "x"}, Spec: &fakeSpec{}}
		if err := Validate(r); err != nil {
			t.Fatalf("Validate = %v, want nil", err)
		}
	})
	t.Run("an invalid spec is reported alone, as Kuma does", func(t *testing.T) {
		r := &Resource{Desc: d, Meta: Meta{Name: "BAD"}, Spec: &fakeSpec{violations: violation("spec.x", "boom")}}
		err := Validate(r)
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("Validate = %T %v, want *ValidationError", err, err)
		}
		if diff := cmp.Diff(violations(Violation{"spec.x", "boom"}), verr.Violations); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("meta, then the spec's meta rules", func(t *testing.T) {
		r := &Resource{Desc: d, Meta: Meta{Name: "BAD"}, Spec: &fakeSpec{meta: violation("name", "too long")}}
		var verr *ValidationError
		if !errors.As(Validate(r), &verr) {
			t.Fatal("want a *ValidationError")
		}
		want := violations(Violation{"name", rfc1123Msg}, Violation{"mesh", "cannot be empty"}, Violation{"name", "too long"})
		if diff := cmp.Diff(want, verr.Violations); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestValidateLabels(t *testing.T) {
	d := meshScoped(ProvidedByZone)
	zone := Env{Mode: ModeZone, Zone: "zone-1"}
	global := Env{Mode: ModeGlobal}
	tests := []struct {
		name   string
		env    Env
		labels map[string]string
		want   []Violation
	}{
		{"zone: own zone", zone, map[string]string{LabelZone: "zone-1", LabelMesh: "default"}, nil},
		{"zone: another zone", zone, map[string]string{LabelZone: "zone-2"},
			violations(Violation{`labels["kuma.io/zone"]`, "kuma.io/zone label should have zone-1 value"})},
		{"zone: another mesh", zone, map[string]string{LabelMesh: "other"},
			violations(Violation{`labels["kuma.io/mesh"]`, "kuma.io/mesh label must not differ from mesh set on resource"})},
		{"zone: resources from the global are not checked", zone, map[string]string{LabelOrigin: OriginGlobal, LabelZone: "z"}, nil},
		{"global: origin must be global", global, map[string]string{LabelOrigin: OriginZone},
			violations(Violation{`labels["kuma.io/origin"]`, "the origin label must be set to 'global'"})},
		{"global: origin global is fine", global, map[string]string{LabelOrigin: OriginGlobal, LabelZone: "anything"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateLabels(d, Meta{Mesh: "default", Name: "x", Labels: tt.labels}, tt.env)
			if diff := cmp.Diff(tt.want, got.Violations); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateLabelUpdate(t *testing.T) {
	current := map[string]string{LabelOrigin: OriginZone, LabelZone: "zone-1", LabelDisplayName: "x", "team": "a"}
	next := map[string]string{LabelOrigin: OriginGlobal, LabelDisplayName: "x", "team": "b"}
	want := violations(
		Violation{`labels["kuma.io/origin"]`, `is immutable, cannot be changed from "zone" to "global"`},
		Violation{`labels["kuma.io/zone"]`, `is immutable, cannot be removed (was "zone-1")`},
	)
	if diff := cmp.Diff(want, ValidateLabelUpdate(current, next).Violations); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if v := ValidateLabelUpdate(map[string]string{}, next); v.HasViolations() {
		t.Errorf("labels added on update: %v", v.Violations)
	}
}

func TestAddErrorAt(t *testing.T) {
	inner := ValidationError{Violations: violations(
		Violation{"", "root"}, Violation{"kind", "field"}, Violation{"[0].port", "index"}, Violation{`["k"]`, "key"})}
	var v ValidationError
	v.AddErrorAt(FieldPath("spec").Field("targetRef"), inner)
	v.AddErrorAt(Root(), violation("name", "at root"))
	want := violations(
		Violation{"spec.targetRef", "root"},
		Violation{"spec.targetRef.kind", "field"},
		Violation{"spec.targetRef[0].port", "index"},
		Violation{`spec.targetRef["k"]`, "key"},
		Violation{"name", "at root"},
	)
	if diff := cmp.Diff(want, v.Violations); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWarnings(t *testing.T) {
	r := &Resource{Desc: meshScoped(0), Meta: Meta{Name: "x"}, Spec: &fakeSpec{warnings: []string{"spec"}}}
	if diff := cmp.Diff([]string{"meta:x", "spec"}, Warnings(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
