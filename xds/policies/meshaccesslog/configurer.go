package meshaccesslog

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	otelv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/open_telemetry/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/collector"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Kuma's default formats (plugin/xds/configurer.go), per protocol family.
const (
	DefaultTCPFormat  = `[%START_TIME%] %RESPONSE_FLAGS% %KUMA_MESH% %KUMA_SOURCE_ADDRESS_WITHOUT_PORT%(%KUMA_SOURCE_SERVICE%)->%UPSTREAM_HOST%(%KUMA_DESTINATION_SERVICE%) took %DURATION%ms, sent %BYTES_SENT% bytes, received: %BYTES_RECEIVED% bytes`
	DefaultHTTPFormat = `[%START_TIME%] %KUMA_MESH% "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-B3-TRACEID?X-DATADOG-TRACEID)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%KUMA_SOURCE_SERVICE%" "%KUMA_DESTINATION_SERVICE%" "%KUMA_SOURCE_ADDRESS_WITHOUT_PORT%" "%UPSTREAM_HOST%"`

	fileLoggerName = "envoy.access_loggers.file"
	otelLoggerName = "envoy.access_loggers.open_telemetry"
	celFilterName  = "envoy.access_loggers.extension_filters.cel"
	// defaultOtelPort is the OTLP/gRPC port an endpoint without one gets.
	defaultOtelPort = 4317
)

// DefaultFormat is Kuma's format for a listener of the protocol.
func DefaultFormat(protocol string) string {
	switch protocol {
	case "http", "http2", "grpc":
		return DefaultHTTPFormat
	}
	return DefaultTCPFormat
}

// Values are what Kuma's own command operators (%KUMA_MESH%, ...) stand for on a listener;
// Envoy does not know them, so they are replaced before the format is sent.
type Values struct {
	SourceService      string
	SourceIP           string
	DestinationService string
	Mesh               string
	Zone               string
	Workload           string
	// Direction is INBOUND or OUTBOUND.
	Direction string
}

// Interpolate replaces Kuma's operators in a format (Kuma's InterpolateKumaValues).
func Interpolate(format string, v Values) string {
	return strings.NewReplacer(
		"%KUMA_SOURCE_ADDRESS_WITHOUT_PORT%", v.SourceIP,
		"%KUMA_SOURCE_ADDRESS%", net.JoinHostPort(v.SourceIP, "0"),
		"%KUMA_SOURCE_SERVICE%", v.SourceService,
		"%KUMA_DESTINATION_SERVICE%", v.DestinationService,
		"%KUMA_MESH%", v.Mesh,
		"%KUMA_TRAFFIC_DIRECTION%", v.Direction,
		"%KUMA_ZONE%", v.Zone,
		"%KUMA_WORKLOAD%", v.Workload,
	).Replace(format)
}

// Builder turns backends into Envoy access logs for one proxy and remembers the
// OpenTelemetry collectors they need, whose clusters Clusters returns.
type Builder struct {
	// SocketPath is where the data plane agent (kuma-dp) reads entries for TCP backends:
	// Envoy cannot write raw TCP logs, so Kuma has it write JSON lines {address, message}
	// to the agent's socket, which forwards them.
	SocketPath string
	collectors []collector.Endpoint
}

// NewBuilder returns a builder for a proxy whose agent listens on socketPath.
func NewBuilder(socketPath string) *Builder { return &Builder{SocketPath: socketPath} }

// SocketPath is Kuma's AccessLogSocketName: the agent's socket for a proxy, under its work
// directory, cut to fit the 104-character limit of Unix socket paths.
func SocketPath(workDir, name, mesh string) string {
	s := filepath.Join(workDir, "kuma-al-"+name+"-"+mesh)
	return s[:min(len(s), 98)] + ".sock"
}

// AccessLogs are the access logs of backends; a non-empty filter is a CEL expression that
// selects the entries logged (inbound rules matching a client).
func (b *Builder) AccessLogs(backends []Backend, defaultFormat string, v Values, filter string) ([]*accesslogv3.AccessLog, error) {
	var out []*accesslogv3.AccessLog
	for i, be := range backends {
		al, err := b.accessLog(be, defaultFormat, v)
		if err != nil {
			return nil, fmt.Errorf("meshaccesslog: backend %d: %w", i, err)
		}
		if al == nil {
			continue
		}
		if filter != "" {
			cel, err := patch.Pack(&celv3.ExpressionFilter{Expression: filter})
			if err != nil {
				return nil, err
			}
			al.Filter = &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{
				ExtensionFilter: &accesslogv3.ExtensionFilter{Name: celFilterName,
					ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: cel}}}}
		}
		out = append(out, al)
	}
	return out, nil
}

func (b *Builder) accessLog(be Backend, defaultFormat string, v Values) (*accesslogv3.AccessLog, error) {
	switch {
	case be.File != nil:
		format, err := fileFormat(be.File.Format, defaultFormat, v)
		if err != nil {
			return nil, err
		}
		return typed(fileLoggerName, &filev3.FileAccessLog{Path: be.File.Path,
			AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: format}})
	case be.Tcp != nil:
		format, err := tcpFormat(be.Tcp, defaultFormat, v)
		if err != nil {
			return nil, err
		}
		return typed(fileLoggerName, &filev3.FileAccessLog{Path: b.SocketPath,
			AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: format}})
	case be.OpenTelemetry != nil && be.OpenTelemetry.BackendRef == nil:
		return b.otelLog(be.OpenTelemetry, defaultFormat, v)
	}
	// A backendRef names a MeshOpenTelemetryBackend, which jetmesh does not serve yet.
	return nil, nil
}

func typed(name string, m proto.Message) (*accesslogv3.AccessLog, error) {
	a, err := patch.Pack(m)
	if err != nil {
		return nil, err
	}
	return &accesslogv3.AccessLog{Name: name, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: a}}, nil
}

func fileFormat(f *Format, defaultFormat string, v Values) (*corev3.SubstitutionFormatString, error) {
	switch {
	case f == nil:
		return plain(defaultFormat+"\n", false, v), nil
	case f.Plain != nil:
		return plain(*f.Plain+"\n", f.OmitEmptyValues, v), nil
	case f.JSON != nil:
		return jsonFormat(jsonFields(*f.JSON, v), f.OmitEmptyValues)
	}
	return nil, fmt.Errorf("format must have only one type defined: plain, json")
}

// tcpFormat wraps the entry in the JSON line the agent expects: the collector's address and
// the message (a string, or an object for JSON formats).
func tcpFormat(t *TCPBackend, defaultFormat string, v Values) (*corev3.SubstitutionFormatString, error) {
	f := t.Format
	var message any
	omit := false
	switch {
	case f == nil:
		message = Interpolate(defaultFormat+"\n", v)
	case f.Plain != nil:
		message, omit = Interpolate(*f.Plain+"\n", v), f.OmitEmptyValues
	case f.JSON != nil:
		message, omit = jsonFields(*f.JSON, v), f.OmitEmptyValues
	default:
		return nil, fmt.Errorf("format must have only one type defined: plain, json")
	}
	return jsonFormat(map[string]any{"address": t.Address, "message": message}, omit)
}

func plain(format string, omitEmpty bool, v Values) *corev3.SubstitutionFormatString {
	return &corev3.SubstitutionFormatString{
		Format: &corev3.SubstitutionFormatString_TextFormatSource{TextFormatSource: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: Interpolate(format, v)}}},
		OmitEmptyValues: omitEmpty,
	}
}

func jsonFields(kvs []JSONValue, v Values) map[string]any {
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = Interpolate(kv.Value, v)
	}
	return out
}

func jsonFormat(fields map[string]any, omitEmpty bool) (*corev3.SubstitutionFormatString, error) {
	s, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, fmt.Errorf("json format: %w", err)
	}
	return &corev3.SubstitutionFormatString{
		Format:          &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: s},
		OmitEmptyValues: omitEmpty,
	}, nil
}

// otelLog exports entries to an OpenTelemetry collector over gRPC. The config is built as
// JSON and read with protojson: the body is an OTLP AnyValue the user writes in JSON, and
// this keeps OTLP's Go types out of jetmesh's dependencies.
func (b *Builder) otelLog(o *OtelBackend, defaultFormat string, v Values) (*accesslogv3.AccessLog, error) {
	body := any(map[string]any{"stringValue": Interpolate(defaultFormat, v)})
	if o.Body != nil {
		var parsed any
		if err := json.Unmarshal(*o.Body, &parsed); err == nil && validAnyValue(parsed) {
			body = interpolateTree(parsed, v)
		} else {
			body = map[string]any{"stringValue": Interpolate(string(*o.Body), v)}
		}
	}
	attrs := []any{}
	for _, a := range deref(o.Attributes) {
		attrs = append(attrs, map[string]any{"key": Interpolate(a.Key, v), "value": map[string]any{"stringValue": Interpolate(a.Value, v)}})
	}
	resource := []any{map[string]any{"key": "kuma.mesh", "value": map[string]any{"stringValue": v.Mesh}}}
	if v.Zone != "" {
		resource = append(resource, map[string]any{"key": "kuma.zone", "value": map[string]any{"stringValue": v.Zone}})
	}
	if v.Workload != "" {
		resource = append(resource, map[string]any{"key": "kuma.workload", "value": map[string]any{"stringValue": v.Workload}})
	}
	doc, err := json.Marshal(map[string]any{
		"logName":            "MeshAccessLog",
		"grpcService":        map[string]any{"envoyGrpc": map[string]any{"clusterName": b.otelCluster(o.Endpoint)}},
		"body":               body,
		"attributes":         map[string]any{"values": attrs},
		"resourceAttributes": map[string]any{"values": resource},
	})
	if err != nil {
		return nil, fmt.Errorf("opentelemetry config: %w", err)
	}
	cfg := &otelv3.OpenTelemetryAccessLogConfig{}
	if err := protojson.Unmarshal(doc, cfg); err != nil {
		return nil, fmt.Errorf("opentelemetry config: %w", err)
	}
	return typed(otelLoggerName, cfg)
}

// validAnyValue reports whether a JSON body reads as an OTLP AnyValue.
func validAnyValue(body any) bool {
	doc, err := json.Marshal(map[string]any{"body": body})
	if err != nil {
		return false
	}
	return protojson.Unmarshal(doc, &otelv3.OpenTelemetryAccessLogConfig{}) == nil
}

// interpolateTree replaces Kuma's operators in every string of a JSON value (string values
// and keys of key-value lists alike, as Kuma does).
func interpolateTree(x any, v Values) any {
	switch t := x.(type) {
	case string:
		return Interpolate(t, v)
	case []any:
		for i := range t {
			t[i] = interpolateTree(t[i], v)
		}
	case map[string]any:
		for k := range t {
			t[k] = interpolateTree(t[k], v)
		}
	}
	return x
}

// otelCluster names the collector's cluster as Kuma does without unified naming:
// "meshaccesslog:opentelemetry:<n>", n counting distinct collectors in order of use.
func (b *Builder) otelCluster(endpoint string) string {
	e := collector.ParseHostPort(endpoint, defaultOtelPort)
	e.HTTP2 = true
	for i, c := range b.collectors {
		if c == e {
			return clusterName(i)
		}
	}
	b.collectors = append(b.collectors, e)
	return clusterName(len(b.collectors) - 1)
}

func clusterName(i int) string { return "meshaccesslog:opentelemetry:" + strconv.Itoa(i) }

// Clusters are the clusters of the collectors the built access logs use.
func (b *Builder) Clusters() ([]*clusterv3.Cluster, error) {
	var out []*clusterv3.Cluster
	for i, e := range b.collectors {
		c, err := collector.Cluster(clusterName(i), e)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Attach appends access logs to every HttpConnectionManager and TcpProxy of the listener.
func Attach(l *listenerv3.Listener, logs []*accesslogv3.AccessLog) error {
	if len(logs) == 0 {
		return nil
	}
	if err := patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		m.AccessLog = append(m.AccessLog, logs...)
		return nil
	}); err != nil {
		return fmt.Errorf("meshaccesslog: %w", err)
	}
	if err := patch.TCPProxy(l, func(t *tcpproxyv3.TcpProxy) error {
		t.AccessLog = append(t.AccessLog, logs...)
		return nil
	}); err != nil {
		return fmt.Errorf("meshaccesslog: %w", err)
	}
	return nil
}

// InboundLogs are the access logs of an inbound's rules. Unlike other policies, Kuma does
// not merge them: every rule logs to its own backends, a rule with a match only the
// traffic of the clients it selects (a CEL filter on the peer's identity).
func (b *Builder) InboundLogs(irs []rules.InboundRule[Conf], defaultFormat string, v Values) ([]*accesslogv3.AccessLog, error) {
	var out []*accesslogv3.AccessLog
	for _, r := range irs {
		logs, err := b.AccessLogs(deref(r.Conf.Backends), defaultFormat, v, MatchToCEL(r.Match))
		if err != nil {
			return nil, err
		}
		out = append(out, logs...)
	}
	return out, nil
}

// MatchToCEL is the CEL expression of a match: the peer certificate's URI SAN and the SNI.
func MatchToCEL(m *targetref.Match) string {
	if m == nil {
		return ""
	}
	var parts []string
	if s := m.SpiffeID; s != nil {
		switch s.Type {
		case targetref.SpiffeIDExact:
			parts = append(parts, "connection.uri_san_peer_certificate == "+strconv.Quote(s.Value))
		case targetref.SpiffeIDPrefix:
			parts = append(parts, "connection.uri_san_peer_certificate.startsWith("+strconv.Quote(s.Value)+")")
		}
	}
	if m.SNI != nil && m.SNI.Type == targetref.SNIExact {
		parts = append(parts, "connection.requested_server_name == "+strconv.Quote(m.SNI.Value))
	}
	return strings.Join(parts, " && ")
}
