package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/jetmesh/jetmesh/resources"
)

// typeDescription is one entry of GET /_resources, which kumactl export and GUIs read.
type typeDescription struct {
	IncludeInFederation bool               `json:"includeInFederation"`
	Name                string             `json:"name"`
	Path                string             `json:"path"`
	PluralDisplayName   string             `json:"pluralDisplayName"`
	Policy              *policyDescription `json:"policy,omitempty"`
	ReadOnly            bool               `json:"readOnly"`
	Scope               string             `json:"scope"`
	ShortName           string             `json:"shortName"`
	SingularDisplayName string             `json:"singularDisplayName"`
}

type policyDescription struct {
	HasFromTargetRef  bool `json:"hasFromTargetRef"`
	HasRulesTargetRef bool `json:"hasRulesTargetRef"`
	HasToTargetRef    bool `json:"hasToTargetRef"`
	IsFromAsRules     bool `json:"isFromAsRules"`
	IsTargetRef       bool `json:"isTargetRef"`
}

// policyEntry is one entry of GET /policies.
type policyEntry struct {
	Name                string `json:"name"`
	ReadOnly            bool   `json:"readOnly"`
	Path                string `json:"path"`
	SingularDisplayName string `json:"singularDisplayName"`
	PluralDisplayName   string `json:"pluralDisplayName"`
	IsExperimental      bool   `json:"isExperimental"`
	IsTargetRefBased    bool   `json:"isTargetRefBased"`
	IsInbound           bool   `json:"isInbound"`
	IsOutbound          bool   `json:"isOutbound"`
}

func (s *Server) readOnly(d *resources.Descriptor) bool { return s.cfg.ReadOnly || d.Internal }

func (s *Server) resourceTypes(w http.ResponseWriter, _ *http.Request) {
	var out struct {
		Resources []typeDescription `json:"resources"`
	}
	out.Resources = []typeDescription{}
	for _, d := range s.mgr.Registry().All() {
		if d.WsPath == "" {
			continue // no REST path (Config), as Kuma leaves it out
		}
		td := typeDescription{
			Name: d.Name, Path: d.WsPath, ShortName: d.ShortName, ReadOnly: s.readOnly(d),
			SingularDisplayName: displayName(d.Name), PluralDisplayName: plural(displayName(d.Name)),
			Scope:               map[resources.Scope]string{resources.ScopeMesh: "Mesh", resources.ScopeGlobal: "Global"}[d.Scope],
			IncludeInFederation: d.KDSFlags&(resources.ProvidedByGlobal|resources.ConsumedByZone) == resources.ProvidedByGlobal|resources.ConsumedByZone && !d.Internal,
		}
		if d.Policy {
			td.Policy = &policyDescription{HasFromTargetRef: d.PolicyRefs.From, HasToTargetRef: d.PolicyRefs.To,
				HasRulesTargetRef: d.PolicyRefs.Rules, IsFromAsRules: d.PolicyRefs.From && d.PolicyRefs.Rules, IsTargetRef: d.TargetRef}
		}
		out.Resources = append(out.Resources, td)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) policies(w http.ResponseWriter, _ *http.Request) {
	var out struct {
		Policies []policyEntry `json:"policies"`
	}
	out.Policies = []policyEntry{}
	for _, d := range s.mgr.Registry().All() {
		if !d.Policy {
			continue
		}
		out.Policies = append(out.Policies, policyEntry{
			Name: d.Name, ReadOnly: s.readOnly(d), Path: d.WsPath,
			SingularDisplayName: displayName(d.Name), PluralDisplayName: plural(displayName(d.Name)),
			IsTargetRefBased: d.TargetRef, IsInbound: d.PolicyRefs.From || d.PolicyRefs.Rules, IsOutbound: d.PolicyRefs.To,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// displayName splits a CamelCase type name into words: "MeshTrafficPermission" ->
// "Mesh Traffic Permission".
func displayName(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plural is enough English for type names ("Mesh Retry" -> "Mesh Retries").
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "y"):
		return strings.TrimSuffix(s, "y") + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "sh"):
		return s + "es"
	}
	return s + "s"
}
