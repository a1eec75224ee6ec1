package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateTags(t *testing.T) {
	p := FieldPath("tags")
	tests := []struct {
		name     string
		tags     map[string]string
		opts     TagsOptions
		selector bool
		want     []Violation
	}{
		{"valid", map[string]string{TagService: "backend", "version": "v1:2"}, TagsOptions{RequireService: true}, false, nil},
		{"require at least one", nil, TagsOptions{RequireAtLeastOne: true}, false,
			violations(Violation{"tags", "must have at least one tag"})},
		{"require service", map[string]string{"version": "v1"}, TagsOptions{RequireService: true}, false,
			violations(Violation{"tags", `mandatory tag "kuma.io/service" is missing`})},
		{"forbid service", map[string]string{TagService: "x"}, TagsOptions{ForbidService: true}, false,
			violations(Violation{"tags", `"kuma.io/service" must not be defined`})},
		{"empty name and value", map[string]string{"": "x", "k": ""}, TagsOptions{}, false, violations(
			Violation{"tags", "tag name must be non-empty"},
			Violation{`tags["k"]`, "tag value must be non-empty"})},
		{"bad characters", map[string]string{"a b": "c/d"}, TagsOptions{}, false, violations(
			Violation{`tags["a b"]`, "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"},
			Violation{`tags["a b"]`, "tag value must consist of alphanumeric characters, dots, dashes and underscores"})},
		{"selector allows / and *", map[string]string{"a": "c/d", "b": "*"}, TagsOptions{}, true, nil},
		{"selector rejects spaces", map[string]string{"a": "c d"}, TagsOptions{}, true, violations(
			Violation{`tags["a"]`, `tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"`})},
		{"extra validators run first", map[string]string{"b": ""}, TagsOptions{Extra: []func(Path, map[string]string) ValidationError{
			func(p Path, _ map[string]string) ValidationError { return violation(p.String(), "extra") },
		}}, false, violations(Violation{"tags", "extra"}, Violation{`tags["b"]`, "tag value must be non-empty"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			validate := ValidateTags
			if tt.selector {
				validate = ValidateSelector
			}
			got := validate(p, tt.tags, tt.opts)
			if diff := cmp.Diff(tt.want, got.Violations); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatePort(t *testing.T) {
	for port, ok := range map[uint32]bool{0: false, 1: true, 65535: true, 65536: false} {
		v := ValidatePort(FieldPath("port"), port)
		if v.HasViolations() == ok {
			t.Errorf("port %d: violations %v", port, v.Violations)
		}
		if !ok && v.Violations[0].Message != "port must be in the range [1, 65535]" {
			t.Errorf("port %d: message %q", port, v.Violations[0].Message)
		}
	}
}

func TestNameRules(t *testing.T) {
	if got := IsDNS1035Label("aa.a"); len(got) != 1 || got[0] != "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')" {
		t.Errorf("IsDNS1035Label(aa.a) = %q", got)
	}
	if got := IsDNS1035Label("my-mesh"); got != nil {
		t.Errorf("IsDNS1035Label(my-mesh) = %q", got)
	}
	if got := IsDNS1123Subdomain("not_valid"); len(got) != 1 || got[0] != "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" {
		t.Errorf("IsDNS1123Subdomain(not_valid) = %q", got)
	}
	if got := IsLabelKey("kuma.io/service"); got != nil {
		t.Errorf("IsLabelKey(kuma.io/service) = %q", got)
	}
}
