// Package meshtrace is the MeshTrace policy: distributed tracing of the HTTP traffic of the
// proxies it targets, reported to a Zipkin, Datadog or OpenTelemetry collector. api.go is its
// API (Kuma 2.14's pkg/plugins/policies/meshtrace/api/v1alpha1), validate.go its validation,
// configurer.go the HTTP connection manager tracing and collector cluster it generates.
package meshtrace

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshTrace",
	WsPath:       "meshtraces",
	SingularName: "meshtrace",
	PluralName:   "meshtraces",
	ShortName:    "mtr",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshTrace: one conf for the whole proxy (Kuma's single-item rules),
// no to, from or rules.
type Spec struct {
	// TargetRef selects the proxies the policy configures; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	Default   Conf                 `json:"default,omitempty"`
}

// Conf is the tracing configuration; policies merge field by field, lists replaced.
type Conf struct {
	// Backends has at most one entry; an empty list turns tracing off.
	Backends *[]Backend `json:"backends,omitempty"`
	Sampling *Sampling  `json:"sampling,omitempty"`
	Tags     *[]Tag     `json:"tags,omitempty"`
}

// BackendType names a collector kind.
type BackendType string

// Backend types.
const (
	ZipkinBackendType  BackendType = "Zipkin"
	DatadogBackendType BackendType = "Datadog"
	OtelBackendType    BackendType = "OpenTelemetry"
)

// Backend is the collector; the field matching Type is set.
type Backend struct {
	Type          BackendType     `json:"type"`
	Zipkin        *ZipkinBackend  `json:"zipkin,omitempty"`
	Datadog       *DatadogBackend `json:"datadog,omitempty"`
	OpenTelemetry *OtelBackend    `json:"openTelemetry,omitempty"`
}

// OtelBackend exports spans over OTLP/gRPC.
type OtelBackend struct {
	// Endpoint is the collector's "host:port" (port 4317 when empty).
	Endpoint string `json:"endpoint"`
	// BackendRef points at a MeshOpenTelemetryBackend (not supported by jetmesh yet).
	BackendRef *BackendResourceRef `json:"backendRef,omitempty"`
}

// BackendResourceRef selects a MeshOpenTelemetryBackend by labels.
type BackendResourceRef struct {
	Kind   string            `json:"kind"`
	Labels map[string]string `json:"labels,omitempty"`
}

// ZipkinBackend reports spans to a Zipkin collector URL.
type ZipkinBackend struct {
	URL string `json:"url"`
	// TraceID128Bit makes 128-bit trace IDs (default false).
	TraceID128Bit bool `json:"traceId128bit"`
	// APIVersion is httpJson (default) or httpProto.
	APIVersion string `json:"apiVersion"`
	// SharedSpanContext makes client and server spans share an ID (default true).
	SharedSpanContext bool `json:"sharedSpanContext"`
}

// UnmarshalJSON applies the defaults Kuma's schema gives absent fields when a manifest is
// stored (apiVersion httpJson, sharedSpanContext true), so they read back as in Kuma.
func (z *ZipkinBackend) UnmarshalJSON(b []byte) error {
	type plain ZipkinBackend
	p := plain{APIVersion: "httpJson", SharedSpanContext: true}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*z = ZipkinBackend(p)
	return nil
}

// DatadogBackend reports spans to a Datadog agent ("http://host:port").
type DatadogBackend struct {
	URL string `json:"url"`
	// SplitService names spans "<service>_INBOUND" and "<service>_OUTBOUND_<destination>".
	SplitService bool `json:"splitService"`
}

// Sampling are percentages (0-100) of requests traced: Overall caps everything, Client
// applies to requests with x-client-trace-id, Random to the others.
type Sampling struct {
	Overall *IntOrString `json:"overall,omitempty"`
	Client  *IntOrString `json:"client,omitempty"`
	Random  *IntOrString `json:"random,omitempty"`
}

// Tag is a span tag: a literal value or a request header's.
type Tag struct {
	Name    string     `json:"name"`
	Literal *string    `json:"literal,omitempty"`
	Header  *HeaderTag `json:"header,omitempty"`
}

// HeaderTag takes a tag's value from a request header, or Default without it.
type HeaderTag struct {
	Name    string  `json:"name"`
	Default *string `json:"default,omitempty"`
}

// IntOrString is a number written as a JSON integer or a decimal string ("50.5"), kept in
// the form it was written (Kubernetes' intstr).
type IntOrString struct {
	Int *int32
	Str *string
}

// MarshalJSON writes the value in its original form.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.Str != nil {
		return json.Marshal(*v.Str)
	}
	if v.Int != nil {
		return json.Marshal(*v.Int)
	}
	return []byte("0"), nil
}

// UnmarshalJSON reads an integer or a string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = IntOrString{Str: &s}
		return nil
	}
	var i int32
	if err := json.Unmarshal(b, &i); err != nil {
		return fmt.Errorf("must be an integer or a string: %w", err)
	}
	*v = IntOrString{Int: &i}
	return nil
}

// Float is the value as a number.
func (v IntOrString) Float() (float64, error) {
	if v.Str == nil {
		if v.Int == nil {
			return 0, nil
		}
		return float64(*v.Int), nil
	}
	f, err := strconv.ParseFloat(*v.Str, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("string is not a number")
	}
	return f, nil
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshTrace.
func (s *Spec) Warnings() []string {
	var out []string
	for _, b := range deref(s.Default.Backends) {
		if b.OpenTelemetry != nil && b.OpenTelemetry.Endpoint != "" && b.OpenTelemetry.BackendRef == nil {
			out = append(out, "openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead")
			break
		}
	}
	return append(out, targetref.TopLevelDeprecations(s.TargetRef)...)
}

// Policy converts a stored MeshTrace for the rules framework. Its single conf becomes a to
// item for the whole mesh: the rules framework then orders and merges the policies that
// select a proxy as Kuma's single-item rules do, and ToRule of any service reads the result.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	return rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef,
		To: []rules.Item[Conf]{{TargetRef: targetref.TargetRef{Kind: targetref.Mesh}, Default: s.Default}}}
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
