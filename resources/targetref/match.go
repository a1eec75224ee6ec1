package targetref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
)

// Match selects clients by identity in rules-based policies (MeshTrafficPermission rules).
type Match struct {
	SpiffeID *SpiffeIDMatch `json:"spiffeID,omitempty"`
	SNI      *SNIMatch      `json:"sni,omitempty"`
}

// SpiffeIDMatchType is how a SPIFFE ID is compared.
type SpiffeIDMatchType string

// SPIFFE ID match types.
const (
	SpiffeIDExact  SpiffeIDMatchType = "Exact"
	SpiffeIDPrefix SpiffeIDMatchType = "Prefix"
)

// SpiffeIDMatch matches the client's SPIFFE ID.
type SpiffeIDMatch struct {
	Type  SpiffeIDMatchType `json:"type"`
	Value string            `json:"value"`
}

// SNIMatchType is how an SNI is compared; only Exact exists.
type SNIMatchType string

// SNIExact is the only SNI match type.
const SNIExact SNIMatchType = "Exact"

// SNIMatch matches the SNI of the client's TLS connection.
type SNIMatch struct {
	Type  SNIMatchType `json:"type"`
	Value string       `json:"value"`
}

// ValidateMatch checks a match as Kuma 2.14 does (ValidateMatch): a parsable SPIFFE ID, an SNI
// that is an RFC 1123 subdomain.
func ValidateMatch(m Match) resources.ValidationError {
	var v resources.ValidationError
	if m.SpiffeID != nil {
		if err := ParseSpiffeID(m.SpiffeID.Value); err != nil {
			v.AddViolation(resources.FieldPath("spiffeID"), fmt.Sprintf("must be a valid Spiffe ID: %s", err))
		}
	}
	if m.SNI != nil {
		sni := resources.FieldPath("sni")
		switch m.SNI.Type {
		case SNIExact:
		case "":
			v.AddViolation(sni.Field("type"), MustBeSet)
		default:
			v.AddViolation(sni.Field("type"), fmt.Sprintf("unrecognized type %q, supported values are: Exact", m.SNI.Type))
		}
		if m.SNI.Value == "" {
			v.AddViolation(sni.Field("value"), MustBeSet)
		} else {
			for _, msg := range resources.IsDNS1123Subdomain(m.SNI.Value) {
				v.AddViolation(sni.Field("value"), msg)
			}
		}
	}
	return v
}

// ValidateMatchSchema reports the enum violations Kuma's OpenAPI schema finds in a match.
func ValidateMatchSchema(m Match) resources.ValidationError {
	var v resources.ValidationError
	if m.SpiffeID != nil && m.SpiffeID.Type != "" && m.SpiffeID.Type != SpiffeIDExact && m.SpiffeID.Type != SpiffeIDPrefix {
		v.AddViolation(resources.FieldPath("spiffeID").Field("type"), SchemaEnum(SpiffeIDExact, SpiffeIDPrefix))
	}
	if m.SNI != nil && m.SNI.Type != "" && m.SNI.Type != SNIExact {
		v.AddViolation(resources.FieldPath("sni").Field("type"), SchemaEnum(SNIExact))
	}
	return v
}

// SPIFFE ID errors, worded as go-spiffe words them (Kuma prints them).
var (
	errSpiffeEmpty           = errors.New("cannot be empty")
	errSpiffeScheme          = errors.New("scheme is missing or invalid")
	errSpiffeTrustDomainChar = errors.New("trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores")
	errSpiffeNoTrustDomain   = errors.New("trust domain is missing")
	errSpiffePathSegmentChar = errors.New("path segment characters are limited to letters, numbers, dots, dashes, and underscores")
	errSpiffeDotSegment      = errors.New("path cannot contain dot segments")
	errSpiffeEmptySegment    = errors.New("path cannot contain empty segments")
	errSpiffeTrailingSlash   = errors.New("path cannot have a trailing slash")
	errSpiffeNoLeadingSlash  = errors.New("path must have a leading slash")
	spiffeScheme             = "spiffe://"
)

// ParseSpiffeID checks a SPIFFE ID ("spiffe://trust.domain/path"), with go-spiffe's rules.
func ParseSpiffeID(id string) error {
	if id == "" {
		return errSpiffeEmpty
	}
	rest, ok := strings.CutPrefix(id, spiffeScheme)
	if !ok {
		return errSpiffeScheme
	}
	td, path, _ := strings.Cut(rest, "/")
	for i := 0; i < len(td); i++ {
		if !isTrustDomainChar(td[i]) {
			return errSpiffeTrustDomainChar
		}
	}
	if td == "" {
		return errSpiffeNoTrustDomain
	}
	if len(rest) == len(td) {
		return nil // no path
	}
	return validateSpiffePath("/" + path)
}

func validateSpiffePath(path string) error {
	if path[0] != '/' {
		return errSpiffeNoLeadingSlash
	}
	segments := strings.Split(path[1:], "/")
	for i, seg := range segments {
		switch {
		case seg == "" && i == len(segments)-1:
			return errSpiffeTrailingSlash
		case seg == "":
			return errSpiffeEmptySegment
		case seg == "." || seg == "..":
			return errSpiffeDotSegment
		}
		for j := 0; j < len(seg); j++ {
			if !isPathSegmentChar(seg[j]) {
				return errSpiffePathSegmentChar
			}
		}
	}
	return nil
}

func isTrustDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

func isPathSegmentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}
