package meshaccesslog_test

import (
	"encoding/json"
	"testing"

	otelv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/open_telemetry/v3"

	"github.com/jetmesh/jetmesh/resources/targetref"
	mal "github.com/jetmesh/jetmesh/xds/policies/meshaccesslog"
)

func TestInterpolate(t *testing.T) {
	v := mal.Values{SourceService: "web", SourceIP: "10.0.0.1", DestinationService: "backend", Mesh: "m",
		Zone: "z", Direction: "OUTBOUND"}
	got := mal.Interpolate("%KUMA_SOURCE_ADDRESS% %KUMA_SOURCE_ADDRESS_WITHOUT_PORT% %KUMA_SOURCE_SERVICE%->%KUMA_DESTINATION_SERVICE% %KUMA_MESH% %KUMA_ZONE% %KUMA_TRAFFIC_DIRECTION% %START_TIME%", v)
	if want := "10.0.0.1:0 10.0.0.1 web->backend m z OUTBOUND %START_TIME%"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMatchToCEL(t *testing.T) {
	tests := []struct {
		m    *targetref.Match
		want string
	}{
		{nil, ""},
		{&targetref.Match{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDExact, Value: "spiffe://d/a"}},
			`connection.uri_san_peer_certificate == "spiffe://d/a"`},
		{&targetref.Match{SpiffeID: &targetref.SpiffeIDMatch{Type: targetref.SpiffeIDPrefix, Value: "spiffe://d/"},
			SNI: &targetref.SNIMatch{Type: targetref.SNIExact, Value: "a.b"}},
			`connection.uri_san_peer_certificate.startsWith("spiffe://d/") && connection.requested_server_name == "a.b"`},
	}
	for _, tt := range tests {
		if got := mal.MatchToCEL(tt.m); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// A body that is not an OTLP AnyValue is logged as a string, as Kuma does; a backendRef
// (MeshOpenTelemetryBackend) produces nothing yet; equal endpoints share one cluster.
func TestOtelBackends(t *testing.T) {
	notAnyValue := json.RawMessage(`{"mesh": "%KUMA_MESH%"}`)
	b := mal.NewBuilder("/tmp/x.sock")
	logs, err := b.AccessLogs([]mal.Backend{
		{Type: mal.OtelBackendType, OpenTelemetry: &mal.OtelBackend{Endpoint: "otel:4317", Body: &notAnyValue}},
		{Type: mal.OtelBackendType, OpenTelemetry: &mal.OtelBackend{BackendRef: &mal.BackendResourceRef{Kind: "MeshOpenTelemetryBackend"}}},
		{Type: mal.OtelBackendType, OpenTelemetry: &mal.OtelBackend{Endpoint: "otel"}},
	}, mal.DefaultTCPFormat, mal.Values{Mesh: "m"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 {
		t.Fatalf("%d access logs, want 2", len(logs))
	}
	cfg := &otelv3.OpenTelemetryAccessLogConfig{}
	if err := logs[0].GetTypedConfig().UnmarshalTo(cfg); err != nil {
		t.Fatal(err)
	}
	if got := cfg.GetBody().GetStringValue(); got != `{"mesh": "m"}` {
		t.Errorf("body %q", got)
	}
	cs, err := b.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].GetName() != "meshaccesslog:opentelemetry:0" {
		t.Errorf("clusters %v", cs)
	}
}
