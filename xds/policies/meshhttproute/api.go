// Package meshhttproute is the MeshHTTPRoute policy: HTTP routing of a proxy's outbound
// traffic by path, method, headers and query parameters, with header modifiers, redirects,
// rewrites, mirrors and weighted backends. api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshhttproute/api/v1alpha1), validate.go its validation, routes.go the
// Envoy routes it produces.
package meshhttproute

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshHTTPRoute",
	WsPath:       "meshhttproutes",
	SingularName: "meshhttproute",
	PluralName:   "meshhttproutes",
	ShortName:    "mhttpr",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{To: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshHTTPRoute.
type Spec struct {
	// TargetRef selects the proxies whose outbound traffic is routed; absent means the mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	To        *[]To                `json:"to,omitempty"`
}

// To is the routing of traffic to one destination.
type To struct {
	// Hostnames are only for gateways.
	Hostnames *[]string           `json:"hostnames,omitempty"`
	TargetRef targetref.TargetRef `json:"targetRef"`
	Rules     []Rule              `json:"rules"`
}

// Rule routes the requests any of its matches select (none: every request).
type Rule struct {
	Matches []Match  `json:"matches"`
	Default RuleConf `json:"default"`
}

// Match selects requests; all of its conditions must hold.
type Match struct {
	Path        *PathMatch               `json:"path,omitempty"`
	Method      *Method                  `json:"method,omitempty"`
	QueryParams *[]QueryParamsMatch      `json:"queryParams,omitempty"`
	Headers     *[]targetref.HeaderMatch `json:"headers,omitempty"`
}

// PathMatchType is how a path is compared.
type PathMatchType string

// Path match types.
const (
	Exact             PathMatchType = "Exact"
	PathPrefix        PathMatchType = "PathPrefix"
	RegularExpression PathMatchType = "RegularExpression"
)

// Method is an HTTP method.
type Method string

// PathMatch matches the request path.
type PathMatch struct {
	Value string        `json:"value"`
	Type  PathMatchType `json:"type"`
}

// QueryParamsMatchType is how a query parameter is compared.
type QueryParamsMatchType string

// Query parameter match types.
const (
	ExactQueryMatch             QueryParamsMatchType = "Exact"
	RegularExpressionQueryMatch QueryParamsMatchType = "RegularExpression"
)

// QueryParamsMatch matches one query parameter.
type QueryParamsMatch struct {
	Type  QueryParamsMatchType `json:"type"`
	Name  string               `json:"name"`
	Value string               `json:"value"`
}

// RuleConf is what happens to matched requests: filters, then the backends.
type RuleConf struct {
	Filters     *[]Filter               `json:"filters,omitempty"`
	BackendRefs *[]targetref.BackendRef `json:"backendRefs,omitempty"`
}

// FilterType names a filter.
type FilterType string

// Filter types.
const (
	RequestHeaderModifierType  FilterType = "RequestHeaderModifier"
	ResponseHeaderModifierType FilterType = "ResponseHeaderModifier"
	RequestRedirectType        FilterType = "RequestRedirect"
	URLRewriteType             FilterType = "URLRewrite"
	RequestMirrorType          FilterType = "RequestMirror"
)

// HeaderKeyValue is a header to set or add.
type HeaderKeyValue struct {
	Name  targetref.HeaderName  `json:"name"`
	Value targetref.HeaderValue `json:"value"`
}

// HeaderModifier sets, adds and removes headers.
type HeaderModifier struct {
	Set    *[]HeaderKeyValue `json:"set,omitempty"`
	Add    *[]HeaderKeyValue `json:"add,omitempty"`
	Remove *[]string         `json:"remove,omitempty"`
}

// PreciseHostname is a DNS name, not an IP address.
type PreciseHostname string

// PortNumber is a TCP port.
type PortNumber int32

// RequestRedirect answers with a redirect instead of forwarding.
type RequestRedirect struct {
	Scheme   *string          `json:"scheme,omitempty"`
	Hostname *PreciseHostname `json:"hostname,omitempty"`
	Path     *PathRewrite     `json:"path,omitempty"`
	Port     *PortNumber      `json:"port,omitempty"`
	// StatusCode is 301, 302 (when 0), 303, 307 or 308.
	StatusCode int `json:"statusCode"`
}

// PathRewriteType is how a path is rewritten.
type PathRewriteType string

// Path rewrite types.
const (
	ReplaceFullPathType    PathRewriteType = "ReplaceFullPath"
	ReplacePrefixMatchType PathRewriteType = "ReplacePrefixMatch"
)

// PathRewrite replaces the whole path or the matched prefix.
type PathRewrite struct {
	Type               PathRewriteType `json:"type"`
	ReplaceFullPath    *string         `json:"replaceFullPath,omitempty"`
	ReplacePrefixMatch *string         `json:"replacePrefixMatch,omitempty"`
}

// URLRewrite rewrites the host and path before forwarding.
type URLRewrite struct {
	Hostname              *PreciseHostname `json:"hostname,omitempty"`
	Path                  *PathRewrite     `json:"path,omitempty"`
	HostToBackendHostname *bool            `json:"hostToBackendHostname,omitempty"`
}

// RequestMirror copies requests to another backend.
type RequestMirror struct {
	// Percentage of requests mirrored (an integer or a decimal string), all when absent.
	Percentage *Percentage          `json:"percentage,omitempty"`
	BackendRef targetref.BackendRef `json:"backendRef"`
}

// Percentage is Kubernetes' IntOrString as Kuma uses it for percentages: a JSON number or a
// decimal string ("12.5"); it is written back in the form it was given.
type Percentage struct {
	Value  string
	Quoted bool
}

// MarshalJSON implements json.Marshaler.
func (p Percentage) MarshalJSON() ([]byte, error) {
	if p.Value == "" {
		// A required percentage left out of a manifest is Kubernetes' zero IntOrString.
		return []byte("0"), nil
	}
	if p.Quoted {
		return json.Marshal(p.Value)
	}
	return []byte(p.Value), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Percentage) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		p.Quoted = true
		return json.Unmarshal(b, &p.Value)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("percentage must be a number or a string: %w", err)
	}
	p.Value, p.Quoted = n.String(), false
	return nil
}

// Float returns the percentage as a number.
func (p Percentage) Float() (float64, error) {
	f, err := strconv.ParseFloat(p.Value, 64)
	if err != nil {
		return 0, fmt.Errorf("percentage %q: %w", p.Value, err)
	}
	return f, nil
}

// Filter is one request or response modification.
type Filter struct {
	Type                   FilterType       `json:"type"`
	RequestHeaderModifier  *HeaderModifier  `json:"requestHeaderModifier,omitempty"`
	ResponseHeaderModifier *HeaderModifier  `json:"responseHeaderModifier,omitempty"`
	RequestRedirect        *RequestRedirect `json:"requestRedirect,omitempty"`
	URLRewrite             *URLRewrite      `json:"urlRewrite,omitempty"`
	RequestMirror          *RequestMirror   `json:"requestMirror,omitempty"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To {
	if s.To == nil {
		return nil
	}
	return *s.To
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshHTTPRoute.
func (s *Spec) Warnings() []string { return targetref.TopLevelDeprecations(s.TargetRef) }

// Conf is the merged routing of one destination: its rules, highest precedence first
// (Kuma's PolicyDefault).
type Conf struct {
	Rules     []Rule   `json:"rules,omitempty"`
	Hostnames []string `json:"hostnames,omitempty"`
}

// Policy converts a stored MeshHTTPRoute for the rules framework. Each to item's rules are
// reversed, as Kuma does, so that merging (later wins) keeps the first of a policy's rules
// with equal matches; MergeConfs reverses the result back.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	for _, t := range s.GetTo() {
		rs := slices.Clone(t.Rules)
		slices.Reverse(rs)
		c := Conf{Rules: rs}
		if t.Hostnames != nil {
			c.Hostnames = *t.Hostnames
		}
		p.To = append(p.To, rules.Item[Conf]{TargetRef: t.TargetRef, Default: c})
	}
	return p
}

// MergeConfs implements rules.Merger: Kuma's merge of MeshHTTPRoute confs. Rules with equal
// matches merge into one (field by field, later wins) that takes the place of the last of
// them; the others keep their order; the list is then reversed, so the rules of the most
// specific policy come first.
func (Conf) MergeConfs(confs []Conf) (Conf, error) {
	type acc struct {
		matches []Match
		defs    []RuleConf
		skip    bool
	}
	var all []acc
	var out Conf
	for _, c := range confs {
		out.Hostnames = append(out.Hostnames, c.Hostnames...)
		for _, r := range c.Rules {
			defs := []RuleConf{r.Default}
			for i := range all {
				if !all[i].skip && reflect.DeepEqual(all[i].matches, r.Matches) {
					defs = append(slices.Clone(all[i].defs), defs...)
					all[i] = acc{skip: true}
				}
			}
			all = append(all, acc{matches: r.Matches, defs: defs})
		}
	}
	for _, a := range all {
		if a.skip {
			continue
		}
		d, err := rules.Merge(a.defs)
		if err != nil {
			return Conf{}, fmt.Errorf("merge rule: %w", err)
		}
		out.Rules = append(out.Rules, Rule{Matches: a.matches, Default: d})
	}
	slices.Reverse(out.Rules)
	return out, nil
}
