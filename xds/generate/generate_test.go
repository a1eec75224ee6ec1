package generate_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/generate"
)

func mustGenerate(t testing.TB, p *generate.Proxy) *generate.Resources {
	t.Helper()
	r, err := generate.Generate(p)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if err := generate.Validate(r); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return r
}

func findListener(t *testing.T, r *generate.Resources, name string) *listenerv3.Listener {
	t.Helper()
	for _, l := range r.Listeners {
		if l.GetName() == name {
			return l
		}
	}
	t.Fatalf("no listener %q in %v", name, names(r))
	return nil
}

func findCluster(t *testing.T, r *generate.Resources, name string) *clusterv3.Cluster {
	t.Helper()
	for _, c := range r.Clusters {
		if c.GetName() == name {
			return c
		}
	}
	t.Fatalf("no cluster %q in %v", name, names(r))
	return nil
}

func findCLA(t *testing.T, r *generate.Resources, name string) *endpointv3.ClusterLoadAssignment {
	t.Helper()
	for _, c := range r.Endpoints {
		if c.GetClusterName() == name {
			return c
		}
	}
	t.Fatalf("no load assignment %q in %v", name, names(r))
	return nil
}

func names(r *generate.Resources) map[string][]string {
	out := map[string][]string{}
	for _, l := range r.Listeners {
		out["listeners"] = append(out["listeners"], l.GetName())
	}
	for _, c := range r.Clusters {
		out["clusters"] = append(out["clusters"], c.GetName())
	}
	for _, c := range r.Endpoints {
		out["endpoints"] = append(out["endpoints"], c.GetClusterName())
	}
	return out
}

// hcmOf unpacks the HttpConnectionManager of the first filter chain, or nil for tcp_proxy.
func hcmOf(t *testing.T, l *listenerv3.Listener) *hcmv3.HttpConnectionManager {
	t.Helper()
	for _, f := range l.GetFilterChains()[0].GetFilters() {
		if f.GetName() == "envoy.filters.network.http_connection_manager" {
			h := &hcmv3.HttpConnectionManager{}
			if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
				t.Fatal(err)
			}
			return h
		}
	}
	return nil
}

func tcpProxyOf(t *testing.T, l *listenerv3.Listener) *tcpproxyv3.TcpProxy {
	t.Helper()
	for _, f := range l.GetFilterChains()[0].GetFilters() {
		if f.GetName() == "envoy.filters.network.tcp_proxy" {
			tp := &tcpproxyv3.TcpProxy{}
			if err := f.GetTypedConfig().UnmarshalTo(tp); err != nil {
				t.Fatal(err)
			}
			return tp
		}
	}
	return nil
}

func upstreamOptions(t *testing.T, c *clusterv3.Cluster) *upstreamhttpv3.HttpProtocolOptions {
	t.Helper()
	a, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok {
		return nil
	}
	o := &upstreamhttpv3.HttpProtocolOptions{}
	if err := a.UnmarshalTo(o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestInbounds(t *testing.T) {
	tests := []struct {
		name         string
		inbound      core.Inbound
		listener     string
		bindAddress  string
		cluster      string
		workload     string
		workloadPort uint32
		http         bool
		upstream     string // "", "http1", "http2"
	}{
		{"defaults", core.Inbound{Port: 8080, Tags: tags("kuma.io/service", "web")},
			"inbound:10.0.0.1:8080", "10.0.0.1", "localhost:8080", "10.0.0.1", 8080, false, ""},
		{"service port and address", core.Inbound{Port: 8080, ServicePort: 18080, ServiceAddress: "127.0.0.1",
			Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "http")},
			"inbound:10.0.0.1:8080", "10.0.0.1", "localhost:18080", "127.0.0.1", 18080, true, "http1"},
		{"inbound address overrides networking address", core.Inbound{Address: "10.0.0.9", Port: 80,
			Tags: tags("kuma.io/service", "web", "kuma.io/protocol", "HTTP2")},
			"inbound:10.0.0.9:80", "10.0.0.9", "localhost:80", "10.0.0.9", 80, true, "http2"},
		{"protocol field wins over tag", core.Inbound{Port: 9090, Protocol: "grpc",
			Tags: tags("kuma.io/service", "api", "kuma.io/protocol", "tcp")},
			"inbound:10.0.0.1:9090", "10.0.0.1", "localhost:9090", "10.0.0.1", 9090, true, "http2"},
		{"unknown protocol is tcp", core.Inbound{Port: 9090, Tags: tags("kuma.io/service", "api", "kuma.io/protocol", "kafka")},
			"inbound:10.0.0.1:9090", "10.0.0.1", "localhost:9090", "10.0.0.1", 9090, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &generate.Proxy{Mesh: plainMesh(), Dataplane: dataplane("dp", "10.0.0.1", []core.Inbound{tt.inbound}, nil)}
			r := mustGenerate(t, p)
			l := findListener(t, r, tt.listener)
			sa := l.GetAddress().GetSocketAddress()
			if sa.GetAddress() != tt.bindAddress || sa.GetPortValue() != tt.inbound.Port {
				t.Errorf("listener binds %s:%d, want %s:%d", sa.GetAddress(), sa.GetPortValue(), tt.bindAddress, tt.inbound.Port)
			}
			c := findCluster(t, r, tt.cluster)
			if c.GetType() != clusterv3.Cluster_STATIC {
				t.Errorf("local cluster type %v, want STATIC", c.GetType())
			}
			target := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
			if target.GetAddress() != tt.workload || target.GetPortValue() != tt.workloadPort {
				t.Errorf("local cluster targets %s:%d, want %s:%d", target.GetAddress(), target.GetPortValue(), tt.workload, tt.workloadPort)
			}
			h := hcmOf(t, l)
			if (h != nil) != tt.http {
				t.Fatalf("HCM present = %v, want %v", h != nil, tt.http)
			}
			if h != nil {
				if got := h.GetRouteConfig().GetName(); got != "inbound:"+tt.inbound.Service() {
					t.Errorf("route config %q", got)
				}
				if last := h.GetHttpFilters()[len(h.GetHttpFilters())-1].GetName(); last != "envoy.filters.http.router" {
					t.Errorf("last HTTP filter %q, want the router", last)
				}
			} else if tp := tcpProxyOf(t, l); tp.GetCluster() != tt.cluster {
				t.Errorf("tcp_proxy cluster %q, want %q", tp.GetCluster(), tt.cluster)
			}
			o := upstreamOptions(t, c)
			switch tt.upstream {
			case "":
				if o != nil {
					t.Errorf("unexpected upstream HTTP options %v", o)
				}
			case "http1":
				if o.GetExplicitHttpConfig().GetHttpProtocolOptions() == nil {
					t.Errorf("want HTTP/1 upstream, got %v", o)
				}
			case "http2":
				if o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
					t.Errorf("want HTTP/2 upstream, got %v", o)
				}
			}
		})
	}
}

func TestServiceLessInboundHasNoListener(t *testing.T) {
	p := &generate.Proxy{Mesh: plainMesh(), Dataplane: dataplane("dp", "10.0.0.1",
		[]core.Inbound{{Port: 49151, Tags: tags("kuma.io/service", "x")}}, nil)}
	if r := mustGenerate(t, p); len(r.Listeners)+len(r.Clusters) != 0 {
		t.Errorf("got %v, want nothing", names(r))
	}
}

func TestOutbounds(t *testing.T) {
	p := &generate.Proxy{
		Mesh: plainMesh(),
		Dataplane: dataplane("dp", "10.0.0.1", nil, []core.Outbound{
			{Port: 10001, Tags: tags("kuma.io/service", "backend", "region", "us")},
			{Address: "127.0.0.7", Port: 10002, Tags: tags("kuma.io/service", "backend")},
			{Port: 10003, Tags: tags("kuma.io/service", "backend")}, // same cluster, second listener
			{Port: 10004, BackendRef: &core.BackendRef{Kind: "MeshService", Name: "x"}},
			{Port: 10005, Tags: tags("kuma.io/service", "mixed")},
			{Port: 10006, Tags: tags("kuma.io/service", "nobody", "kuma.io/protocol", "http")},
		}),
		Endpoints: map[string][]generate.Endpoint{
			"backend": {ep("10.0.0.4", 80, "", "kuma.io/service", "backend", "kuma.io/protocol", "grpc", "region", "us"),
				ep("10.0.0.5", 80, "", "kuma.io/service", "backend", "kuma.io/protocol", "http2", "region", "eu")},
			"mixed": {ep("10.0.0.6", 80, "", "kuma.io/service", "mixed", "kuma.io/protocol", "http"),
				ep("10.0.0.7", 80, "", "kuma.io/service", "mixed", "kuma.io/protocol", "tcp")},
		},
	}
	r := mustGenerate(t, p)
	// Kuma 2.14's golden default-route-outbound-with-tags-with-mtls names this subset cluster.
	const subset = "backend-c72efb5be46fae6b"
	// Every outbound tag selects, kuma.io/protocol included (as in Kuma).
	nobody := generate.ClusterName(tags("kuma.io/service", "nobody", "kuma.io/protocol", "http"))
	wantListeners := map[string]string{ // listener -> cluster; "" for HTTP listeners checked below
		"outbound:127.0.0.1:10001": subset,
		"outbound:127.0.0.7:10002": "backend",
		"outbound:127.0.0.1:10003": "backend",
		"outbound:127.0.0.1:10005": "mixed",
		"outbound:127.0.0.1:10006": nobody,
	}
	if got := names(r)["listeners"]; len(got) != len(wantListeners) {
		t.Fatalf("listeners %v, want %d (backendRef outbound skipped)", got, len(wantListeners))
	}
	for name, cluster := range wantListeners {
		l := findListener(t, r, name)
		if h := hcmOf(t, l); h != nil {
			got := h.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetCluster()
			if got != cluster {
				t.Errorf("%s routes to %q, want %q", name, got, cluster)
			}
			if name == "outbound:127.0.0.1:10005" {
				t.Errorf("%s: http+tcp endpoints must give tcp_proxy", name)
			}
		} else {
			if name != "outbound:127.0.0.1:10005" {
				t.Errorf("%s: want an HCM (grpc+http2 is http2; no endpoints uses the outbound's protocol tag)", name)
			}
			if tp := tcpProxyOf(t, l); tp.GetCluster() != cluster {
				t.Errorf("%s tcp_proxy to %q, want %q", name, tp.GetCluster(), cluster)
			}
		}
	}
	for _, name := range []string{subset, "backend", "mixed", nobody} {
		c := findCluster(t, r, name)
		if c.GetType() != clusterv3.Cluster_EDS || c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil {
			t.Errorf("cluster %s is not EDS over ADS: %v", name, c)
		}
		if upstreamOptions(t, c).GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
			t.Errorf("cluster %s lacks HTTP/2 options", name)
		}
		findCLA(t, r, name)
	}
	if len(r.Clusters) != 4 || len(r.Endpoints) != 4 {
		t.Errorf("want 4 clusters and 4 load assignments, got %v", names(r))
	}
	if got := addresses(findCLA(t, r, subset)); !slices.Equal(got, []string{"10.0.0.4:80"}) {
		t.Errorf("subset CLA has %v, want only the region=us endpoint", got)
	}
	if got := addresses(findCLA(t, r, "backend")); !slices.Equal(got, []string{"10.0.0.4:80", "10.0.0.5:80"}) {
		t.Errorf("backend CLA has %v", got)
	}
	if got := addresses(findCLA(t, r, nobody)); len(got) != 0 {
		t.Errorf("nobody CLA has %v", got)
	}
}

func TestDefaultRouteNameIsKumasMatchHash(t *testing.T) {
	sum := sha256.Sum256([]byte(`[{"path":{"value":"/","type":"PathPrefix"}}]`))
	want := base64.StdEncoding.EncodeToString(sum[:])
	r := mustGenerate(t, subsetOutbound())
	h := hcmOf(t, findListener(t, r, "outbound:127.0.0.1:10001"))
	if got := h.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0].GetName(); got != want {
		t.Errorf("route name %q, want %q", got, want)
	}
}

func TestAdmin(t *testing.T) {
	tests := []struct {
		name      string
		address   string
		admin     generate.Admin
		clusters  []string
		listener  bool
		readiness string
	}{
		{"disabled", "10.0.0.1", generate.Admin{}, nil, false, ""},
		{"readiness reporter", "10.0.0.1", generate.Admin{Port: 9901, ReadinessPort: 9902},
			[]string{"kuma:envoy:admin", "kuma:readiness"}, true, "kuma:readiness"},
		{"envoy's own /ready", "10.0.0.1", generate.Admin{Port: 9901}, []string{"kuma:envoy:admin"}, true, "kuma:envoy:admin"},
		{"loopback dataplane would collide", "127.0.0.1", generate.Admin{Port: 9901}, []string{"kuma:envoy:admin"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustGenerate(t, &generate.Proxy{Mesh: plainMesh(), Dataplane: dataplane("dp", tt.address, nil, nil), Admin: tt.admin})
			if got := names(r)["clusters"]; !slices.Equal(got, tt.clusters) {
				t.Errorf("clusters %v, want %v", got, tt.clusters)
			}
			if !tt.listener {
				if len(r.Listeners) != 0 {
					t.Errorf("listeners %v, want none", names(r)["listeners"])
				}
				return
			}
			l := findListener(t, r, "kuma:envoy:admin")
			if sa := l.GetAddress().GetSocketAddress(); sa.GetAddress() != tt.address || sa.GetPortValue() != tt.admin.Port {
				t.Errorf("admin listener on %v", sa)
			}
			routes := hcmOf(t, l).GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
			if len(routes) != 1 || routes[0].GetMatch().GetPrefix() != "/ready" || routes[0].GetRoute().GetCluster() != tt.readiness {
				t.Errorf("admin routes %v, want only /ready to %s", routes, tt.readiness)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	builtin := dataplane("gw", "10.0.0.1", nil, nil)
	builtin.Spec.Networking.Gateway = &core.Gateway{Type: core.GatewayBuiltin, Tags: tags("kuma.io/service", "gw")}
	tests := []struct {
		name string
		dp   generate.Dataplane
		want error
	}{
		{"no spec", generate.Dataplane{}, generate.ErrNoNetworking},
		{"no networking", generate.Dataplane{Spec: &core.Dataplane{}}, generate.ErrNoNetworking},
		{"builtin gateway", builtin, generate.ErrUnsupportedGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &generate.Proxy{Mesh: plainMesh(), Dataplane: tt.dp}
			if _, err := generate.Generate(p); !errors.Is(err, tt.want) {
				t.Errorf("Generate: %v, want %v", err, tt.want)
			}
			if _, err := generate.GRPCClient(p); !errors.Is(err, tt.want) {
				t.Errorf("GRPCClient: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestResourcesByTypeHasEveryType(t *testing.T) {
	r := mustGenerate(t, noOutbounds())
	byType := r.ByType()
	for _, typeURL := range []string{
		"type.googleapis.com/envoy.config.listener.v3.Listener",
		"type.googleapis.com/envoy.config.cluster.v3.Cluster",
		"type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
		"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
	} {
		if _, ok := byType[typeURL]; !ok {
			t.Errorf("ByType lacks %s", typeURL)
		}
	}
	if len(byType["type.googleapis.com/envoy.config.cluster.v3.Cluster"]) != len(r.Clusters) {
		t.Error("ByType clusters differ from Resources.Clusters")
	}
	if len(r.Routes) != 0 {
		t.Errorf("routes %v, want none (inline route configurations)", r.Routes)
	}
}
