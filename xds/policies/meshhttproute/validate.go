package meshhttproute

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

var (
	// topLevelKinds are those of the system policy role (every policy without a
	// kuma.io/policy-role label); ValidateMeta narrows them for the other roles.
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshGateway, targetref.MeshSubset,
		targetref.MeshService, targetref.MeshServiceSubset, targetref.Dataplane}
	roleTopLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshServiceSubset, targetref.Dataplane}
	toKinds        = []targetref.Kind{targetref.MeshService, targetref.MeshExternalService, targetref.MeshMultiZoneService}
	backendKinds   = []targetref.Kind{targetref.MeshService, targetref.MeshServiceSubset, targetref.MeshExternalService, targetref.MeshMultiZoneService}
	mirrorKinds    = []targetref.Kind{targetref.MeshService, targetref.MeshServiceSubset}
	filterTypes    = []FilterType{RequestHeaderModifierType, ResponseHeaderModifierType, RequestRedirectType, URLRewriteType, RequestMirrorType}
	pathMatchTypes = []PathMatchType{Exact, PathPrefix, RegularExpression}
	queryTypes     = []QueryParamsMatchType{ExactQueryMatch, RegularExpressionQueryMatch}
	rewriteTypes   = []PathRewriteType{ReplaceFullPathType, ReplacePrefixMatchType}
	redirectCodes  = []int{301, 302, 303, 307, 308}
)

// unresolvedBackend is the backend Kuma's Gateway API conversion uses for refs it cannot
// resolve; it is allowed despite the name rule.
const unresolvedBackend = "kuma.io/unresolved-backend"

// Validate implements resources.Spec: Kuma's schema checks, then its Go validator.
func (s *Spec) Validate() resources.ValidationError {
	if v := s.validateSchema(); v.HasViolations() {
		return v
	}
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	top := targetref.TargetRef{Kind: targetref.Mesh}
	if s.TargetRef != nil {
		top = *s.TargetRef
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(top, targetref.Options{
			SupportedKinds: topLevelKinds, GatewayListenerTagsAllowed: true,
		}))
	}
	gateway := top.Kind == targetref.MeshGateway
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		kinds := toKinds
		if gateway {
			kinds = []targetref.Kind{targetref.Mesh}
		}
		v.AddErrorAt(at.Field("targetRef"), targetref.Validate(t.TargetRef, targetref.Options{SupportedKinds: kinds}))
		for j, r := range t.Rules {
			v.Add(validateRule(at.Field("rules").Index(j), r, gateway))
		}
		if !gateway && t.Hostnames != nil && len(*t.Hostnames) > 0 {
			v.AddViolation(at.Field("hostnames"), "must not be defined")
		}
	}
	return v
}

// ValidateMeta implements resources.MetaValidator: producer, consumer and workload-owner
// routes may not target gateways.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	role := meta.Labels[resources.LabelPolicyRole]
	if s.TargetRef == nil || role == "" || role == "system" {
		return v
	}
	v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"),
		targetref.Validate(*s.TargetRef, targetref.Options{SupportedKinds: roleTopLevelKinds}))
	return v
}

func validateRule(p resources.Path, r Rule, gateway bool) resources.ValidationError {
	var v resources.ValidationError
	for i, m := range r.Matches {
		at := p.Field("matches").Index(i)
		if m.Path != nil {
			v.Add(validatePath(at.Field("path").Field("value"), *m.Path))
		}
		seen := map[string]bool{}
		for j, q := range deref(m.QueryParams) {
			if seen[q.Name] {
				v.AddViolation(at.Field("queryParams").Index(j).Field("name"), fmt.Sprintf("multiple entries for name %s", q.Name))
			}
			seen[q.Name] = true
		}
		for j, h := range deref(m.Headers) {
			if t := h.GetType(); (t == targetref.HeaderMatchPresent || t == targetref.HeaderMatchAbsent) && h.Value != "" {
				v.AddViolation(at.Field("headers").Index(j).Field("value"), "must not be defined")
			}
		}
	}
	filters := deref(r.Default.Filters)
	for i, f := range filters {
		v.Add(validateFilter(p.Field("default").Field("filters").Index(i), f, r.Matches, gateway))
	}
	backends := deref(r.Default.BackendRefs)
	if len(backends) == 0 && gateway && !slices.ContainsFunc(filters, func(f Filter) bool { return f.Type == RequestRedirectType }) {
		v.AddViolation(p.Field("default").Field("backendRefs"), "must not be empty")
	}
	for i, b := range backends {
		at := p.Field("default").Field("backendRefs").Index(i)
		v.AddErrorAt(at, targetref.Validate(b.TargetRef, targetref.Options{SupportedKinds: backendKinds,
			AllowedInvalidNames: []string{unresolvedBackend}}))
		if b.Kind == targetref.MeshMultiZoneService && b.Port == nil {
			v.AddViolation(at.Field("port"), "must be defined with kind MeshMultiZoneService")
		}
	}
	return v
}

func validatePath(p resources.Path, m PathMatch) resources.ValidationError {
	var v resources.ValidationError
	switch m.Type {
	case PathPrefix:
		if m.Value == "/" {
			break
		}
		if strings.HasSuffix(m.Value, "/") {
			v.AddViolation(p, "does not need a trailing slash because only a `/`-separated prefix or an entire path is matched")
		}
		if !strings.HasPrefix(m.Value, "/") {
			v.AddViolation(p, "must be an absolute path")
		}
	case Exact:
		if !strings.HasPrefix(m.Value, "/") {
			v.AddViolation(p, "must be an absolute path")
		}
	}
	return v
}

// allPrefixMatches: a prefix rewrite needs every match to match a path prefix (no matches
// counts as the "/" prefix).
func allPrefixMatches(matches []Match) bool {
	return !slices.ContainsFunc(matches, func(m Match) bool { return m.Path == nil || m.Path.Type != PathPrefix })
}

func validateFilter(p resources.Path, f Filter, matches []Match, gateway bool) resources.ValidationError {
	var v resources.ValidationError
	const prefixMsg = "can only appear if all matches match a path prefix"
	switch f.Type {
	case RequestHeaderModifierType, ResponseHeaderModifierType:
		field, m := "requestHeaderModifier", f.RequestHeaderModifier
		if f.Type == ResponseHeaderModifierType {
			field, m = "responseHeaderModifier", f.ResponseHeaderModifier
		}
		if m == nil {
			v.AddViolation(p.Field(field), targetref.MustBeDefined)
		} else {
			v.Add(validateHeaderModifier(p.Field(field), *m))
		}
	case RequestRedirectType:
		r := f.RequestRedirect
		if r == nil {
			v.AddViolation(p.Field("requestRedirect"), targetref.MustBeDefined)
			break
		}
		if r.Path != nil && r.Path.ReplacePrefixMatch != nil && !allPrefixMatches(matches) {
			v.AddViolation(p.Field("requestRedirect").Field("path").Field("replacePrefixMatch"), prefixMsg)
		}
		v.Add(validateHostname(p.Field("requestRedirect").Field("hostname"), r.Hostname))
	case URLRewriteType:
		r := f.URLRewrite
		if r == nil {
			v.AddViolation(p.Field("urlRewrite"), targetref.MustBeDefined)
			break
		}
		if r.Path != nil && r.Path.ReplacePrefixMatch != nil && !allPrefixMatches(matches) {
			v.AddViolation(p.Field("urlRewrite").Field("path").Field("replacePrefixMatch"), prefixMsg)
		}
		v.Add(validateHostname(p.Field("urlRewrite").Field("hostname"), r.Hostname))
		if r.HostToBackendHostname != nil && *r.HostToBackendHostname {
			if !gateway {
				v.AddViolation(p.Field("urlRewrite").Field("hostToBackendHostname"), "can only be set with MeshGateway")
			}
			if r.Hostname != nil {
				v.AddViolation(p.Field("urlRewrite").Field("hostToBackendHostname"), "cannot be set together with hostname")
			}
		}
	case RequestMirrorType:
		if f.RequestMirror == nil {
			v.AddViolation(p.Field("requestMirror"), targetref.MustBeDefined)
			break
		}
		v.AddErrorAt(p.Field("requestMirror").Field("backendRef"),
			targetref.Validate(f.RequestMirror.BackendRef.TargetRef, targetref.Options{SupportedKinds: mirrorKinds}))
	}
	return v
}

func validateHostname(p resources.Path, h *PreciseHostname) resources.ValidationError {
	var v resources.ValidationError
	if h == nil {
		return v
	}
	if net.ParseIP(string(*h)) != nil {
		v.AddViolation(p, "cannot be an IP address")
		return v
	}
	for _, msg := range resources.IsDNS1123Subdomain(string(*h)) {
		v.AddViolation(p, msg)
	}
	return v
}

func validateHeaderModifier(p resources.Path, m HeaderModifier) resources.ValidationError {
	var v resources.ValidationError
	if m.Set == nil && m.Add == nil && m.Remove == nil {
		v.AddViolation(p, `must have at least one defined: "set", "add", "remove"`)
		return v
	}
	seen := map[string]bool{}
	check := func(at resources.Path, name string) {
		if seen[name] {
			v.AddViolation(at.Field("name"), "duplicate header name")
		}
		seen[name] = true
	}
	for i, h := range deref(m.Set) {
		check(p.Field("set").Index(i), string(h.Name))
	}
	for i, h := range deref(m.Add) {
		check(p.Field("add").Index(i), string(h.Name))
	}
	for i, name := range deref(m.Remove) {
		check(p.Field("remove").Index(i), name)
	}
	return v
}

// validateSchema is what Kuma's OpenAPI schema rejects: enums of kinds, match, filter and
// rewrite types, redirect schemes and codes.
func (s *Spec) validateSchema() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
	}
	for i, t := range s.GetTo() {
		at := spec.Field("to").Index(i)
		v.AddErrorAt(at.Field("targetRef"), targetref.ValidateSchema(t.TargetRef))
		if t.Rules == nil {
			v.AddViolation(at.Field("rules"), targetref.SchemaRequired)
		}
		for j, r := range t.Rules {
			rp := at.Field("rules").Index(j)
			for k, m := range r.Matches {
				mp := rp.Field("matches").Index(k)
				if m.Path != nil && !slices.Contains(pathMatchTypes, m.Path.Type) {
					v.AddViolation(mp.Field("path").Field("type"), targetref.SchemaEnum(pathMatchTypes...))
				}
				for l, q := range deref(m.QueryParams) {
					if !slices.Contains(queryTypes, q.Type) {
						v.AddViolation(mp.Field("queryParams").Index(l).Field("type"), targetref.SchemaEnum(queryTypes...))
					}
				}
				for l, h := range deref(m.Headers) {
					if h.Type != nil && !slices.Contains(targetref.HeaderMatchTypes, *h.Type) {
						v.AddViolation(mp.Field("headers").Index(l).Field("type"), targetref.SchemaEnum(targetref.HeaderMatchTypes...))
					}
				}
			}
			for k, f := range deref(r.Default.Filters) {
				v.Add(filterSchema(rp.Field("default").Field("filters").Index(k), f))
			}
			for k, b := range deref(r.Default.BackendRefs) {
				v.AddErrorAt(rp.Field("default").Field("backendRefs").Index(k), targetref.ValidateSchema(b.TargetRef))
			}
		}
	}
	return v
}

func filterSchema(p resources.Path, f Filter) resources.ValidationError {
	var v resources.ValidationError
	if !slices.Contains(filterTypes, f.Type) {
		v.AddViolation(p.Field("type"), targetref.SchemaEnum(filterTypes...))
	}
	rewrite := func(at resources.Path, r *PathRewrite) {
		if r != nil && !slices.Contains(rewriteTypes, r.Type) {
			v.AddViolation(at.Field("type"), targetref.SchemaEnum(rewriteTypes...))
		}
	}
	if r := f.RequestRedirect; r != nil {
		rp := p.Field("requestRedirect")
		rewrite(rp.Field("path"), r.Path)
		if r.Scheme != nil && *r.Scheme != "http" && *r.Scheme != "https" {
			v.AddViolation(rp.Field("scheme"), "in body should be one of [http https]")
		}
		if r.StatusCode != 0 && !slices.Contains(redirectCodes, r.StatusCode) {
			v.AddViolation(rp.Field("statusCode"), "in body should be one of [301 302 303 307 308]")
		}
	}
	if r := f.URLRewrite; r != nil {
		rewrite(p.Field("urlRewrite").Field("path"), r.Path)
	}
	if m := f.RequestMirror; m != nil {
		v.AddErrorAt(p.Field("requestMirror").Field("backendRef"), targetref.ValidateSchema(m.BackendRef.TargetRef))
	}
	return v
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
