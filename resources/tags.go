package resources

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Tags Kuma gives a meaning to.
const (
	TagService  = "kuma.io/service"
	TagProtocol = "kuma.io/protocol"
	TagZone     = "kuma.io/zone"
)

// SupportedProtocols are the kuma.io/protocol values Kuma lists to users, in its order.
var SupportedProtocols = []string{"grpc", "http", "http2", "kafka", "tcp"}

// knownProtocols are all values Kuma parses (tls and mysql are understood but not advertised).
var knownProtocols = []string{"tcp", "tls", "http", "http2", "grpc", "kafka", "mysql"}

// ParseProtocol returns the lower-cased protocol, or "" when Kuma does not know it.
func ParseProtocol(p string) string {
	p = strings.ToLower(p)
	if slices.Contains(knownProtocols, p) {
		return p
	}
	return ""
}

// AllowedValuesHint renders Kuma's "Allowed values: a, b" suffix.
func AllowedValuesHint(values ...string) string {
	if len(values) == 0 {
		return "Allowed values: (none)"
	}
	return "Allowed values: " + strings.Join(values, ", ")
}

var (
	tagNameCharset  = regexp.MustCompile(`^[a-zA-Z0-9.\-_:/]*$`)
	tagValueCharset = regexp.MustCompile(`^[a-zA-Z0-9.\-_:]*$`)
	selectorCharset = regexp.MustCompile(`^([a-zA-Z0-9.\-_:/]*|\*)$`)
)

// TagsOptions tunes ValidateTags and ValidateSelector.
type TagsOptions struct {
	RequireAtLeastOne bool
	RequireService    bool
	ForbidService     bool
	// Extra validators see the whole tag map, before the per-tag checks.
	Extra []func(p Path, tags map[string]string) ValidationError
}

// ValidateTags checks a tag map of a proxy (an inbound's or a gateway's tags), with Kuma's
// rules and messages; violations are at p or p["key"].
func ValidateTags(p Path, tags map[string]string, opts TagsOptions) ValidationError {
	return validateTagMap(p, tags, opts, func(v string) bool { return tagValueCharset.MatchString(v) },
		"tag value must consist of alphanumeric characters, dots, dashes and underscores")
}

// ValidateSelector checks a tag selector: like ValidateTags, but values may contain '/' or be "*".
func ValidateSelector(p Path, tags map[string]string, opts TagsOptions) ValidationError {
	return validateTagMap(p, tags, opts, func(v string) bool { return selectorCharset.MatchString(v) },
		`tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"`)
}

func validateTagMap(p Path, tags map[string]string, opts TagsOptions, valueOK func(string) bool, valueMsg string) ValidationError {
	var v ValidationError
	if opts.RequireAtLeastOne && len(tags) == 0 {
		v.AddViolation(p, "must have at least one tag")
	}
	for _, extra := range opts.Extra {
		v.Add(extra(p, tags))
	}
	for _, key := range sortedKeys(tags) {
		if key == "" {
			v.AddViolation(p, "tag name must be non-empty")
		}
		if !tagNameCharset.MatchString(key) {
			v.AddViolation(p.Key(key), "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores")
		}
		value := tags[key]
		if value == "" {
			v.AddViolation(p.Key(key), "tag value must be non-empty")
		}
		if !valueOK(value) {
			v.AddViolation(p.Key(key), valueMsg)
		}
	}
	_, hasService := tags[TagService]
	if opts.ForbidService && hasService {
		v.AddViolation(p, fmt.Sprintf("%q must not be defined", TagService))
	}
	if opts.RequireService && !hasService {
		v.AddViolation(p, fmt.Sprintf("mandatory tag %q is missing", TagService))
	}
	return v
}

// ValidatePort checks a TCP/UDP port number.
func ValidatePort(p Path, port uint32) ValidationError {
	var v ValidationError
	if port == 0 || port > 65535 {
		v.AddViolation(p, "port must be in the range [1, 65535]")
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
