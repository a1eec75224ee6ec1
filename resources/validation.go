package resources

import (
	"fmt"
	"strings"
)

// Violation is one invalid field, with Kuma's field path syntax
// (`networking.inbound[0].tags["kuma.io/service"]`).
type Violation struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError collects violations; its zero value means "valid".
type ValidationError struct {
	Violations []Violation
}

// Error implements error.
func (v *ValidationError) Error() string {
	parts := make([]string, 0, len(v.Violations))
	for _, x := range v.Violations {
		if x.Field == "" {
			parts = append(parts, x.Message)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s", x.Field, x.Message))
	}
	return strings.Join(parts, "; ")
}

// HasViolations reports whether anything was invalid.
func (v *ValidationError) HasViolations() bool { return len(v.Violations) > 0 }

// OrNil returns nil for an empty ValidationError, so it can be returned as an error.
func (v ValidationError) OrNil() error {
	if len(v.Violations) == 0 {
		return nil
	}
	return &v
}

// AddViolation records one violation at a path.
func (v *ValidationError) AddViolation(p Path, msg string) {
	v.Violations = append(v.Violations, Violation{Field: p.String(), Message: msg})
}

// AddViolationf records one formatted violation at a path.
func (v *ValidationError) AddViolationf(p Path, format string, args ...any) {
	v.AddViolation(p, fmt.Sprintf(format, args...))
}

// Add merges another error's violations.
func (v *ValidationError) Add(o ValidationError) {
	v.Violations = append(v.Violations, o.Violations...)
}

// AddErrorAt merges another error's violations below a path, the way Kuma nests the result of
// a sub-validator: a violation at "" lands on p itself, "[0].x" is appended to p, and "x"
// becomes "p.x".
func (v *ValidationError) AddErrorAt(p Path, o ValidationError) {
	for _, x := range o.Violations {
		v.Violations = append(v.Violations, Violation{Field: joinPath(p.s, x.Field), Message: x.Message})
	}
}

func joinPath(prefix, field string) string {
	switch {
	case field == "":
		return prefix
	case prefix == "":
		return field
	case strings.HasPrefix(field, "["):
		return prefix + field
	default:
		return prefix + "." + field
	}
}

// Path is a field path; build it with Root, Field, Index and Key.
type Path struct{ s string }

// Root returns the empty path (the resource itself).
func Root() Path { return Path{} }

// FieldPath returns a path starting at a top-level field.
func FieldPath(name string) Path { return Path{s: name} }

// Field descends into a named field.
func (p Path) Field(name string) Path {
	if p.s == "" {
		return Path{s: name}
	}
	return Path{s: p.s + "." + name}
}

// Index descends into a list element.
func (p Path) Index(i int) Path { return Path{s: fmt.Sprintf("%s[%d]", p.s, i)} }

// Key descends into a map entry.
func (p Path) Key(k string) Path { return Path{s: fmt.Sprintf("%s[%q]", p.s, k)} }

// String is the Kuma rendering of the path.
func (p Path) String() string { return p.s }
