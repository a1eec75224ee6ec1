package meshratelimit_test

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"

	mrl "github.com/jetmesh/jetmesh/xds/policies/meshratelimit"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// httpListener is a minimal inbound: one HCM with one route and the router.
func httpListener(t *testing.T) *listenerv3.Listener {
	t.Helper()
	router, err := patch.Pack(&routerv3.Router{})
	if err != nil {
		t.Fatal(err)
	}
	hcm, err := patch.Pack(&hcmv3.HttpConnectionManager{
		StatPrefix:  "in",
		HttpFilters: []*hcmv3.HttpFilter{{Name: wellknown.Router, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			VirtualHosts: []*routev3.VirtualHost{{Name: "in", Domains: []string{"*"}, Routes: []*routev3.Route{{
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "local"}}},
			}}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &listenerv3.Listener{Name: "in", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name: wellknown.HTTPConnectionManager, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm}}}}}}
}

func ruleConf(t *testing.T, s string) mrl.Conf {
	t.Helper()
	return decode(t, "targetRef: {kind: Dataplane}\nrules:\n- default: "+s).Spec.(*mrl.Spec).GetRules()[0].Default
}

// Disabled sections and confs without a rate leave the listener as it was.
func TestConfigureInboundNoop(t *testing.T) {
	for _, c := range []string{
		"{local: {http: {disabled: true, requestRate: {num: 1, interval: 1s}}, tcp: {disabled: true, connectionRate: {num: 1, interval: 1s}}}}",
		"{local: {http: {onRateLimit: {status: 429}}}}",
	} {
		l := httpListener(t)
		want := proto.Clone(l)
		if err := mrl.ConfigureInbound(l, ruleConf(t, c)); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(want, l) {
			t.Errorf("%s changed the listener", c)
		}
	}
}

// Applying twice keeps one filter of each kind: the filters are upserted, not appended.
func TestConfigureInboundTwice(t *testing.T) {
	l := httpListener(t)
	conf := ruleConf(t, "{local: {http: {requestRate: {num: 1, interval: 1s}}, tcp: {connectionRate: {num: 1, interval: 1s}}}}")
	for range 2 {
		if err := mrl.ConfigureInbound(l, conf); err != nil {
			t.Fatal(err)
		}
	}
	fc := l.GetFilterChains()[0]
	if len(fc.Filters) != 2 || fc.Filters[0].GetName() != mrl.TCPFilterName {
		t.Fatalf("network filters %v", fc.Filters)
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := fc.Filters[1].GetTypedConfig().UnmarshalTo(hcm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range hcm.HttpFilters {
		names = append(names, f.GetName())
	}
	if strings.Join(names, ",") != mrl.HTTPFilterName+","+wellknown.Router {
		t.Errorf("http filters %v", names)
	}
}

// Kuma accepts any status above 0 (with a warning below 400) and lets Envoy reject what its
// enum lacks; jetmesh refuses to generate such a config.
func TestConfigureInboundUnknownStatus(t *testing.T) {
	err := mrl.ConfigureInbound(httpListener(t), ruleConf(t, "{local: {http: {requestRate: {num: 1, interval: 1s}, onRateLimit: {status: 299}}}}"))
	if err == nil || !strings.Contains(err.Error(), "onRateLimit.status 299") {
		t.Fatalf("err = %v", err)
	}
}
