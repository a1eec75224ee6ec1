package meshtrace_test

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"

	mtr "github.com/jetmesh/jetmesh/xds/policies/meshtrace"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

func listenerWith(t *testing.T, name string, m proto.Message) *listenerv3.Listener {
	t.Helper()
	a, err := patch.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	return &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name: name, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a}}}}}}
}

func conf(t *testing.T, backend string) mtr.Conf {
	t.Helper()
	return decode(t, "default: {backends: ["+backend+"]}").Spec.(*mtr.Spec).Default
}

// Datadog's splitService names spans per direction and destination, as Kuma does.
func TestDatadogSplitService(t *testing.T) {
	c := conf(t, `{type: Datadog, datadog: {url: "http://dd:8126", splitService: true}}`)
	for _, tt := range []struct {
		at   mtr.Listener
		want string
	}{
		{mtr.Listener{Service: "web", Direction: corev3.TrafficDirection_INBOUND}, "web_INBOUND"},
		{mtr.Listener{Service: "web", Direction: corev3.TrafficDirection_OUTBOUND, Destination: "backend"}, "web_OUTBOUND_backend"},
	} {
		l := listenerWith(t, wellknown.HTTPConnectionManager, &hcmv3.HttpConnectionManager{StatPrefix: "x"})
		if err := mtr.ConfigureListener(l, c, tt.at); err != nil {
			t.Fatal(err)
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
			t.Fatal(err)
		}
		dd := &tracev3.DatadogConfig{}
		if err := hcm.GetTracing().GetProvider().GetTypedConfig().UnmarshalTo(dd); err != nil {
			t.Fatal(err)
		}
		if dd.ServiceName != tt.want || dd.CollectorCluster != "meshtrace:datadog" {
			t.Errorf("datadog %v, want service %s", dd, tt.want)
		}
	}
	cl, err := mtr.Cluster(c)
	if err != nil || cl.GetName() != "meshtrace:datadog" {
		t.Fatalf("cluster %v, %v", cl, err)
	}
}

// TCP listeners have nothing to trace; an empty backend list turns tracing off.
func TestNoTracing(t *testing.T) {
	l := listenerWith(t, wellknown.TCPProxy, &tcpproxyv3.TcpProxy{StatPrefix: "x"})
	want := proto.Clone(l)
	if err := mtr.ConfigureListener(l, conf(t, `{type: OpenTelemetry, openTelemetry: {endpoint: "o:4317"}}`), mtr.Listener{}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(want, l) {
		t.Error("TCP listener changed")
	}
	off := decode(t, "default: {backends: []}").Spec.(*mtr.Spec).Default
	h := listenerWith(t, wellknown.HTTPConnectionManager, &hcmv3.HttpConnectionManager{StatPrefix: "x"})
	want = proto.Clone(h)
	if err := mtr.ConfigureListener(h, off, mtr.Listener{}); err != nil {
		t.Fatal(err)
	}
	if c, err := mtr.Cluster(off); !proto.Equal(want, h) || c != nil || err != nil {
		t.Errorf("tracing off changed the listener or made cluster %v (%v)", c, err)
	}
}
