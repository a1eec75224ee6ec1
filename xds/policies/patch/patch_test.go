package patch_test

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

func pack(t *testing.T, m proto.Message) *listenerv3.Filter {
	t.Helper()
	a, err := patch.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	return &listenerv3.Filter{Name: "f", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a}}
}

func TestHCMAndTCPProxy(t *testing.T) {
	l := &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{
		{Filters: []*listenerv3.Filter{pack(t, &hcmv3.HttpConnectionManager{StatPrefix: "a"})}},
		{Filters: []*listenerv3.Filter{pack(t, &tcpproxyv3.TcpProxy{StatPrefix: "b"})}},
	}}
	hcms, tcps := 0, 0
	if err := patch.HCM(l, func(h *hcmv3.HttpConnectionManager) error {
		hcms++
		h.StatPrefix = "edited"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := patch.TCPProxy(l, func(p *tcpproxyv3.TcpProxy) error {
		tcps++
		p.StatPrefix = "edited-tcp"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if hcms != 1 || tcps != 1 {
		t.Fatalf("visited %d HCMs and %d TCP proxies, want 1 each", hcms, tcps)
	}
	h, p := &hcmv3.HttpConnectionManager{}, &tcpproxyv3.TcpProxy{}
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(h); err != nil || h.StatPrefix != "edited" {
		t.Errorf("HCM not stored back: %v %v", h, err)
	}
	if err := l.FilterChains[1].Filters[0].GetTypedConfig().UnmarshalTo(p); err != nil || p.StatPrefix != "edited-tcp" {
		t.Errorf("TCP proxy not stored back: %v %v", p, err)
	}

	// An API listener (grpc-go) holds its HCM directly.
	a, err := patch.Pack(&hcmv3.HttpConnectionManager{StatPrefix: "api"})
	if err != nil {
		t.Fatal(err)
	}
	api := &listenerv3.Listener{Name: "api", ApiListener: &listenerv3.ApiListener{ApiListener: a}}
	if err := patch.HCM(api, func(h *hcmv3.HttpConnectionManager) error { h.StatPrefix = "api-edited"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := api.GetApiListener().GetApiListener().UnmarshalTo(h); err != nil || h.StatPrefix != "api-edited" {
		t.Errorf("API listener not stored back: %v %v", h, err)
	}
}

func TestHTTPOptions(t *testing.T) {
	c := &clusterv3.Cluster{Name: "c"}
	if err := patch.HTTPOptions(c, func(o *upstreamhttpv3.HttpProtocolOptions) {
		o.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{IdleTimeout: durationpb.New(5)}
	}); err != nil {
		t.Fatal(err)
	}
	if err := patch.HTTPOptions(c, func(o *upstreamhttpv3.HttpProtocolOptions) {
		if o.GetCommonHttpProtocolOptions().GetIdleTimeout().AsDuration() != 5 {
			t.Errorf("existing options not passed in: %v", o)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TypedExtensionProtocolOptions[patch.HTTPProtocolOptionsKey]; !ok || len(c.TypedExtensionProtocolOptions) != 1 {
		t.Errorf("options %v", c.TypedExtensionProtocolOptions)
	}
}
