package meshtrace

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tracingv3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/xds/policies/collector"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// defaultOtelPort is the OTLP/gRPC port an endpoint without one gets.
const defaultOtelPort = 4317

// Listener is what a listener's tracing depends on besides the conf.
type Listener struct {
	// Service is the proxy's service (its first inbound's kuma.io/service), the spans'
	// service name.
	Service string
	// Direction and Destination (the outbound's service) name Datadog's split services.
	Direction   corev3.TrafficDirection
	Destination string
	Mesh, Zone  string
}

// backend is the conf's collector, or nil: no backend (tracing off), or a backendRef to a
// MeshOpenTelemetryBackend, which jetmesh does not serve yet.
func backend(c Conf) *Backend {
	bs := deref(c.Backends)
	if len(bs) == 0 || (bs[0].OpenTelemetry != nil && bs[0].OpenTelemetry.BackendRef != nil) {
		return nil
	}
	return &bs[0]
}

// ClusterName is Kuma's name of the collector cluster of a provider (without unified naming).
func ClusterName(provider string) string { return "meshtrace:" + provider }

// ConfigureListener turns on tracing in every HttpConnectionManager of the listener, as
// Kuma's configurer does: sampling, custom tags (plus kuma.mesh and kuma.zone), and the
// provider reporting to the collector cluster Cluster returns. TCP listeners are left alone.
func ConfigureListener(l *listenerv3.Listener, c Conf, at Listener) error {
	b := backend(c)
	if b == nil {
		return nil
	}
	provider, err := providerConfig(*b, at)
	if err != nil {
		return fmt.Errorf("meshtrace: %w", err)
	}
	tracing := &hcmv3.HttpConnectionManager_Tracing{SpawnUpstreamSpan: wrapperspb.Bool(false), Provider: provider}
	if s := c.Sampling; s != nil {
		for _, f := range []struct {
			val *IntOrString
			dst **typev3.Percent
		}{{s.Overall, &tracing.OverallSampling}, {s.Client, &tracing.ClientSampling}, {s.Random, &tracing.RandomSampling}} {
			if f.val == nil {
				continue
			}
			n, err := f.val.Float()
			if err != nil {
				return fmt.Errorf("meshtrace: sampling: %w", err)
			}
			*f.dst = &typev3.Percent{Value: n}
		}
	}
	tracing.CustomTags = customTags(deref(c.Tags), at)
	if err := patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		m.Tracing = proto.Clone(tracing).(*hcmv3.HttpConnectionManager_Tracing)
		return nil
	}); err != nil {
		return fmt.Errorf("meshtrace: %w", err)
	}
	return nil
}

func customTags(tags []Tag, at Listener) []*tracingv3.CustomTag {
	var out []*tracingv3.CustomTag
	has := map[string]bool{}
	for _, t := range tags {
		has[t.Name] = true
		if t.Header != nil {
			def := ""
			if t.Header.Default != nil {
				def = *t.Header.Default
			}
			out = append(out, &tracingv3.CustomTag{Tag: t.Name, Type: &tracingv3.CustomTag_RequestHeader{
				RequestHeader: &tracingv3.CustomTag_Header{Name: t.Header.Name, DefaultValue: def}}})
			continue
		}
		out = append(out, literal(t.Name, deref1(t.Literal)))
	}
	// Kuma adds the mesh and zone unless the user's tags set them.
	for _, kv := range [][2]string{{"kuma.mesh", at.Mesh}, {"kuma.zone", at.Zone}} {
		if kv[1] != "" && !has[kv[0]] {
			out = append(out, literal(kv[0], kv[1]))
		}
	}
	return out
}

func literal(name, value string) *tracingv3.CustomTag {
	return &tracingv3.CustomTag{Tag: name, Type: &tracingv3.CustomTag_Literal_{Literal: &tracingv3.CustomTag_Literal{Value: value}}}
}

func providerConfig(b Backend, at Listener) (*tracev3.Tracing_Http, error) {
	var name string
	var cfg proto.Message
	switch {
	case b.Zipkin != nil:
		u, err := url.ParseRequestURI(b.Zipkin.URL)
		if err != nil {
			return nil, fmt.Errorf("zipkin url: %w", err)
		}
		version := tracev3.ZipkinConfig_HTTP_JSON
		if b.Zipkin.APIVersion == "httpProto" {
			version = tracev3.ZipkinConfig_HTTP_PROTO
		}
		name, cfg = "envoy.tracers.zipkin", &tracev3.ZipkinConfig{
			CollectorCluster:         ClusterName("zipkin"),
			CollectorEndpoint:        u.Path,
			TraceId_128Bit:           b.Zipkin.TraceID128Bit,
			CollectorEndpointVersion: version,
			SharedSpanContext:        wrapperspb.Bool(b.Zipkin.SharedSpanContext),
			CollectorHostname:        u.Host,
		}
	case b.Datadog != nil:
		service := at.Service
		if b.Datadog.SplitService {
			switch at.Direction {
			case corev3.TrafficDirection_INBOUND:
				service = strings.Join([]string{at.Service, "INBOUND"}, "_")
			case corev3.TrafficDirection_OUTBOUND:
				service = strings.Join([]string{at.Service, "OUTBOUND", at.Destination}, "_")
			}
		}
		name, cfg = "envoy.tracers.datadog", &tracev3.DatadogConfig{CollectorCluster: ClusterName("datadog"), ServiceName: service}
	case b.OpenTelemetry != nil:
		name, cfg = "envoy.tracers.opentelemetry", &tracev3.OpenTelemetryConfig{
			ServiceName: at.Service,
			GrpcService: &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
				EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: ClusterName("opentelemetry")}}},
		}
	default:
		return nil, fmt.Errorf("backend %s has no configuration", b.Type)
	}
	a, err := patch.Pack(cfg)
	if err != nil {
		return nil, err
	}
	return &tracev3.Tracing_Http{Name: name, ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: a}}, nil
}

// Cluster is the collector cluster the conf's backend reports to, or nil. A Zipkin or
// Datadog URL without a port gets its scheme's (Kuma would configure port 0, which no
// collector listens on); https Zipkin URLs are not given TLS yet.
func Cluster(c Conf) (*clusterv3.Cluster, error) {
	b := backend(c)
	if b == nil {
		return nil, nil
	}
	if b.OpenTelemetry != nil {
		e := collector.ParseHostPort(b.OpenTelemetry.Endpoint, defaultOtelPort)
		e.HTTP2 = true
		return collector.Cluster(ClusterName("opentelemetry"), e)
	}
	provider, raw := "zipkin", ""
	switch {
	case b.Zipkin != nil:
		raw = b.Zipkin.URL
	case b.Datadog != nil:
		provider, raw = "datadog", b.Datadog.URL
	default:
		return nil, fmt.Errorf("meshtrace: backend %s has no configuration", b.Type)
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return nil, fmt.Errorf("meshtrace: %s url: %w", provider, err)
	}
	port := uint64(80)
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.ParseUint(p, 10, 16); err != nil {
			return nil, fmt.Errorf("meshtrace: %s url port: %w", provider, err)
		}
	}
	return collector.Cluster(ClusterName(provider), collector.Endpoint{Host: u.Hostname(), Port: uint32(port)})
}

func deref1(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
