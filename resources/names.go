package resources

import (
	"fmt"
	"regexp"
	"strings"
)

// Name rules. Kuma checks resource names, meshes and label keys with the Kubernetes
// apimachinery validators; the messages below are the ones those validators produce, because
// they reach users verbatim in REST error bodies.

var (
	// identifierRegexp is a lowercase RFC 1123 subdomain: what Kuma requires of resource names.
	identifierRegexp = regexp.MustCompile(`^` + dns1123SubdomainFmt + `$`)
	// meshRefRegexp is the older, looser rule Kuma still applies to a resource's mesh, because
	// meshes created by old versions may contain '_'.
	meshRefRegexp     = regexp.MustCompile(`^[0-9a-z-_.]*$`)
	dns1123Subdomain  = regexp.MustCompile(`^` + dns1123SubdomainFmt + `$`)
	dns1035Label      = regexp.MustCompile(`^` + dns1035LabelFmt + `$`)
	labelKeyNameRegex = regexp.MustCompile(`^` + labelKeyFmt + `$`)
	labelValueRegexp  = regexp.MustCompile(`^(` + labelKeyFmt + `)?$`)
)

const (
	dns1123LabelFmt     = `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
	dns1123SubdomainFmt = dns1123LabelFmt + `(\.` + dns1123LabelFmt + `)*`
	dns1035LabelFmt     = `[a-z]([-a-z0-9]*[a-z0-9])?`
	labelKeyFmt         = `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`

	identifierMessage = "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case " +
		"alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
	meshRefMessage = "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols."

	dns1123SubdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric " +
		"characters, '-' or '.', and must start and end with an alphanumeric character"
	dns1035LabelMessage = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', " +
		"start with an alphabetic character, and end with an alphanumeric character"
	labelKeyMessage   = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
	labelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' " +
		"or '.', and must start and end with an alphanumeric character"
)

// ValidateIdentifier checks a resource name as Kuma does: required, at most 253 characters, a
// lowercase RFC 1123 subdomain. Violations are at the root; place them with AddErrorAt.
func ValidateIdentifier(name string) ValidationError {
	return validateIdentifier(name, identifierRegexp, identifierMessage)
}

// ValidateMeshRef checks the mesh a resource belongs to (Kuma's backward-compatible rule).
func ValidateMeshRef(mesh string) ValidationError {
	return validateIdentifier(mesh, meshRefRegexp, meshRefMessage)
}

func validateIdentifier(s string, re *regexp.Regexp, msg string) ValidationError {
	var v ValidationError
	switch {
	case s == "":
		v.AddViolation(Root(), "cannot be empty")
	case len(s) > 253:
		v.AddViolation(Root(), "value length must less or equal 253")
	case !re.MatchString(s):
		v.AddViolation(Root(), msg)
	}
	return v
}

// IsDNS1123Subdomain returns what is wrong with a lowercase RFC 1123 subdomain, in the words of
// Kubernetes' k8s.io/apimachinery/pkg/util/validation.
func IsDNS1123Subdomain(s string) []string {
	return dnsSubdomainErrors(s, "characters")
}

func dnsSubdomainErrors(s, unit string) []string {
	var errs []string
	if len(s) > 253 {
		errs = append(errs, fmt.Sprintf("must be no more than 253 %s", unit))
	}
	if !dns1123Subdomain.MatchString(s) {
		errs = append(errs, regexError(dns1123SubdomainMessage, dns1123SubdomainFmt, "example.com"))
	}
	return errs
}

// IsDNS1035Label returns what is wrong with an RFC 1035 label (Kubernetes' wording). Kuma warns
// when a Mesh or Zone name is not one.
func IsDNS1035Label(s string) []string {
	var errs []string
	if len(s) > 63 {
		errs = append(errs, "must be no more than 63 characters")
	}
	if !dns1035Label.MatchString(s) {
		errs = append(errs, regexError(dns1035LabelMessage, dns1035LabelFmt, "my-name", "abc-123"))
	}
	return errs
}

// IsLabelKey returns what is wrong with a label key: an optional DNS subdomain prefix and '/',
// then a name (Kubernetes' wording).
func IsLabelKey(key string) []string {
	var errs []string
	parts := strings.Split(key, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else {
			for _, m := range dnsSubdomainErrors(prefix, "bytes") {
				errs = append(errs, "prefix part "+m)
			}
		}
	default:
		return []string{"a valid label key " + regexError(labelKeyMessage, labelKeyFmt, "MyName", "my.name", "123-abc") +
			" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"}
	}
	if name == "" {
		errs = append(errs, "name part must be non-empty")
	} else if len(name) > 63 {
		errs = append(errs, "name part must be no more than 63 bytes")
	}
	if !labelKeyNameRegex.MatchString(name) {
		errs = append(errs, "name part "+regexError(labelKeyMessage, labelKeyFmt, "MyName", "my.name", "123-abc"))
	}
	return errs
}

// IsLabelValue returns what is wrong with a label value (Kubernetes' wording).
func IsLabelValue(value string) []string {
	var errs []string
	if len(value) > 63 {
		errs = append(errs, "must be no more than 63 bytes")
	}
	if !labelValueRegexp.MatchString(value) {
		errs = append(errs, regexError(labelValueMessage, "("+labelKeyFmt+")?", "MyValue", "my_value", "12345"))
	}
	return errs
}

// regexError renders Kubernetes' "regex used for validation" message; note the double space
// Kubernetes leaves between examples ("'my-name',  or 'abc-123'").
func regexError(msg, re string, examples ...string) string {
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString(" (e.g. ")
	for i, e := range examples {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("'" + e + "', ")
	}
	b.WriteString("regex used for validation is '" + re + "')")
	return b.String()
}
