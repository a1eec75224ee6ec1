package targetref

// HeaderName is an HTTP header name.
type HeaderName string

// HeaderValue is an HTTP header value.
type HeaderValue string

// HeaderMatchType is how a header is compared.
type HeaderMatchType string

// Header match types.
const (
	HeaderMatchExact             HeaderMatchType = "Exact"
	HeaderMatchPresent           HeaderMatchType = "Present"
	HeaderMatchRegularExpression HeaderMatchType = "RegularExpression"
	HeaderMatchAbsent            HeaderMatchType = "Absent"
	HeaderMatchPrefix            HeaderMatchType = "Prefix"
)

// HeaderMatchTypes lists the header match types in the order of Kuma's schema enum.
var HeaderMatchTypes = []HeaderMatchType{HeaderMatchExact, HeaderMatchPresent, HeaderMatchRegularExpression,
	HeaderMatchAbsent, HeaderMatchPrefix}

// HeaderMatch matches one HTTP header (Kuma's common HeaderMatch); an absent type means Exact.
type HeaderMatch struct {
	Type  *HeaderMatchType `json:"type,omitempty"`
	Name  HeaderName       `json:"name"`
	Value HeaderValue      `json:"value,omitempty"`
}

// GetType returns the match type, Exact when absent.
func (h HeaderMatch) GetType() HeaderMatchType {
	if h.Type == nil {
		return HeaderMatchExact
	}
	return *h.Type
}
