package meshtimeout

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// Kuma's defaults for a field no policy sets (pkg/plugins/policies/core/defaults). Request
// headers timeout, max stream duration and max connection duration default to 0: disabled.
const (
	DefaultConnectTimeout    = 5 * time.Second
	DefaultIdleTimeout       = time.Hour
	DefaultStreamIdleTimeout = 30 * time.Minute
	DefaultRequestTimeout    = 15 * time.Second
)

func (c Conf) http() Http {
	if c.Http == nil {
		return Http{}
	}
	return *c.Http
}

func orDefault(d *targetref.Duration, def time.Duration) *durationpb.Duration {
	if d == nil {
		return durationpb.New(def)
	}
	return durationpb.New(d.Duration)
}

// ConfigureCluster sets the connect timeout and, for http and http2 upstreams, the idle
// timeout, max stream duration and max connection duration of the upstream connections.
// Kuma leaves the HTTP options of grpc clusters alone, and so do we.
func ConfigureCluster(c *clusterv3.Cluster, conf Conf, protocol string) error {
	c.ConnectTimeout = orDefault(conf.ConnectionTimeout, DefaultConnectTimeout)
	if protocol != "http" && protocol != "http2" {
		return nil
	}
	h := conf.http()
	return patch.HTTPOptions(c, func(o *upstreamhttpv3.HttpProtocolOptions) {
		if o.CommonHttpProtocolOptions == nil {
			o.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{}
		}
		o.CommonHttpProtocolOptions.IdleTimeout = orDefault(conf.IdleTimeout, DefaultIdleTimeout)
		o.CommonHttpProtocolOptions.MaxStreamDuration = orDefault(h.MaxStreamDuration, 0)
		o.CommonHttpProtocolOptions.MaxConnectionDuration = orDefault(h.MaxConnectionDuration, 0)
	})
}

// ConfigureListener applies conf to an inbound or outbound listener: for HTTP, every route's
// request timeout and stream idle timeout and the request headers timeout, and the
// connection idle timeout moves from the listener to the cluster (0 here, as Kuma does); for
// TCP, the proxy's idle timeout.
func ConfigureListener(l *listenerv3.Listener, conf Conf) error {
	h := conf.http()
	if err := patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		for _, vh := range m.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				configureRouteAction(r.GetRoute(), h)
			}
		}
		m.RequestHeadersTimeout = orDefault(h.RequestHeadersTimeout, 0)
		if m.CommonHttpProtocolOptions == nil {
			m.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{}
		}
		m.CommonHttpProtocolOptions.IdleTimeout = durationpb.New(0)
		return nil
	}); err != nil {
		return err
	}
	return patch.TCPProxy(l, func(t *tcpproxyv3.TcpProxy) error {
		t.IdleTimeout = orDefault(conf.IdleTimeout, DefaultIdleTimeout)
		return nil
	})
}

func configureRouteAction(a *routev3.RouteAction, h Http) {
	if a == nil {
		return
	}
	a.Timeout = orDefault(h.RequestTimeout, DefaultRequestTimeout)
	switch {
	case h.StreamIdleTimeout != nil:
		a.IdleTimeout = durationpb.New(h.StreamIdleTimeout.Duration)
	case a.IdleTimeout == nil:
		a.IdleTimeout = durationpb.New(DefaultStreamIdleTimeout)
	}
}

// ConfigureGRPCClientListener applies conf to the API listener a grpc-go client uses. grpc-go
// reads neither route timeouts nor cluster HTTP options, but it enforces a route's
// max_stream_duration as a deadline on every RPC: that is where maxStreamDuration goes, so a
// gRPC client sees the same limit an Envoy sidecar would enforce.
func ConfigureGRPCClientListener(l *listenerv3.Listener, conf Conf) error {
	d := conf.http().MaxStreamDuration
	if d == nil || d.Duration == 0 {
		return nil
	}
	return patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		for _, vh := range m.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if a := r.GetRoute(); a != nil {
					a.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{MaxStreamDuration: durationpb.New(d.Duration)}
				}
			}
		}
		return nil
	})
}
