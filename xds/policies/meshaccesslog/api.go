// Package meshaccesslog is the MeshAccessLog policy: Envoy access logs of the traffic a proxy
// receives (from, rules) and sends (to), written to a file, to a TCP collector (through the
// data plane agent, as Kuma does) or to an OpenTelemetry collector. api.go is its API (Kuma
// 2.14's pkg/plugins/policies/meshaccesslog/api/v1alpha1), validate.go its validation,
// configurer.go the access logs and collector clusters it generates.
package meshaccesslog

import (
	"encoding/json"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshAccessLog",
	WsPath:       "meshaccesslogs",
	SingularName: "meshaccesslog",
	PluralName:   "meshaccesslogs",
	ShortName:    "mal",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{From: true, To: true, Rules: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Options is how the rules framework reads MeshAccessLog: from items are inbound rules
// without matches (Kuma's is_from_as_rules).
var Options = rules.Options{FromAsRules: true}

// Spec is the spec of a MeshAccessLog.
type Spec struct {
	// TargetRef selects the proxies the policy configures; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	// To logs outbound traffic per destination.
	To *[]To `json:"to,omitempty"`
	// From logs inbound traffic (deprecated in 2.14 for Rules).
	From *[]From `json:"from,omitempty"`
	// Rules log inbound traffic, optionally only that of the clients the matches select.
	Rules *[]Rule `json:"rules,omitempty"`
}

// Rule is one inbound logging configuration.
type Rule struct {
	Matches *[]targetref.Match `json:"matches,omitempty"`
	Default Conf               `json:"default"`
}

// To is one group of destinations and their logging.
type To = rules.Item[Conf]

// From is one group of clients and their logging.
type From = rules.Item[Conf]

// Conf lists where logs go. A more specific policy's list replaces a less specific one's.
type Conf struct {
	Backends *[]Backend `json:"backends,omitempty"`
}

// BackendType names a backend kind.
type BackendType string

// Backend types.
const (
	TCPBackendType  BackendType = "Tcp"
	FileBackendType BackendType = "File"
	OtelBackendType BackendType = "OpenTelemetry"
)

// Backend is one destination of log entries; the field matching Type is set.
type Backend struct {
	Type          BackendType  `json:"type"`
	Tcp           *TCPBackend  `json:"tcp,omitempty"`
	File          *FileBackend `json:"file,omitempty"`
	OpenTelemetry *OtelBackend `json:"openTelemetry,omitempty"`
}

// TCPBackend sends entries to a TCP collector ("host:port", or a URL such as
// "tcp://host:port"); the data plane agent forwards them.
type TCPBackend struct {
	Format  *Format `json:"format,omitempty"`
	Address string  `json:"address"`
}

// OtelBackend exports entries as OpenTelemetry logs over gRPC.
type OtelBackend struct {
	// Attributes are added to every log record; values may use Envoy's and Kuma's operators.
	Attributes *[]OtelAttribute `json:"attributes,omitempty"`
	// Body is an OTLP AnyValue in JSON (or a plain string); absent means Kuma's default format.
	Body *json.RawMessage `json:"body,omitempty"`
	// Endpoint is the collector's "host:port" (port 4317 when empty). Kuma renders it even
	// when empty, so it has no omitempty.
	Endpoint string `json:"endpoint"`
	// BackendRef points at a MeshOpenTelemetryBackend (not supported by jetmesh yet).
	BackendRef *BackendResourceRef `json:"backendRef,omitempty"`
}

// BackendResourceRef selects a MeshOpenTelemetryBackend by labels.
type BackendResourceRef struct {
	Kind   string            `json:"kind"`
	Labels map[string]string `json:"labels,omitempty"`
}

// FileBackend writes entries to a file.
type FileBackend struct {
	Format *Format `json:"format,omitempty"`
	Path   string  `json:"path"`
}

// FormatType names a log format.
type FormatType string

// Format types.
const (
	PlainFormatType FormatType = "Plain"
	JSONFormatType  FormatType = "Json"
)

// Format is an entry's shape: a plain line or a JSON object, with Envoy's command operators
// and Kuma's (%KUMA_MESH%, %KUMA_SOURCE_SERVICE%, ...).
type Format struct {
	Type  FormatType   `json:"type"`
	Plain *string      `json:"plain,omitempty"`
	JSON  *[]JSONValue `json:"json,omitempty"`
	// OmitEmptyValues drops empty fields; Kuma always renders it (default false).
	OmitEmptyValues bool `json:"omitEmptyValues"`
}

// JSONValue is one field of a JSON format.
type JSONValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// OtelAttribute is one attribute of an OpenTelemetry log record.
type OtelAttribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To { return deref(s.To) }

// GetFrom returns the from items or nil.
func (s *Spec) GetFrom() []From { return deref(s.From) }

// GetRules returns the rules or nil.
func (s *Spec) GetRules() []Rule { return deref(s.Rules) }

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshAccessLog.
func (s *Spec) Warnings() []string {
	var out []string
	if len(s.GetFrom()) > 0 {
		out = append(out, "'from' field is deprecated, use 'rules' instead")
	}
	if s.hasInlineOtelEndpoint() {
		out = append(out, "openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead")
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

func (s *Spec) hasInlineOtelEndpoint() bool {
	for _, c := range s.confs() {
		for _, b := range deref(c.Backends) {
			if b.OpenTelemetry != nil && b.OpenTelemetry.Endpoint != "" && b.OpenTelemetry.BackendRef == nil {
				return true
			}
		}
	}
	return false
}

func (s *Spec) confs() []Conf {
	var out []Conf
	for _, t := range s.GetTo() {
		out = append(out, t.Default)
	}
	for _, f := range s.GetFrom() {
		out = append(out, f.Default)
	}
	for _, r := range s.GetRules() {
		out = append(out, r.Default)
	}
	return out
}

// Policy converts a stored MeshAccessLog for the rules framework.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	p.To = s.GetTo()
	p.From = s.GetFrom()
	for _, r := range s.GetRules() {
		p.Rules = append(p.Rules, rules.RuleItem[Conf]{Matches: deref(r.Matches), Default: r.Default})
	}
	return p
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
