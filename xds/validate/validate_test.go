package validate_test

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/jetmesh/jetmesh/xds/validate"
)

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDeepLooksInsideAny makes sure Deep reaches messages that plain
// ValidateAll skips: an HCM without stat_prefix packed in a listener, an RBAC packed two Any
// levels down, and an Any of a type the binary does not know.
func TestDeepLooksInsideAny(t *testing.T) {
	badHCM := &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name:       "envoy.filters.network.http_connection_manager",
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, &hcmv3.HttpConnectionManager{})},
	}}}}}
	if err := badHCM.ValidateAll(); err != nil {
		t.Fatalf("precondition: ValidateAll alone should not see inside the Any, got %v", err)
	}
	deepRBAC := &hcmv3.HttpConnectionManager{StatPrefix: "x", HttpFilters: []*hcmv3.HttpFilter{{
		Name: "envoy.filters.http.rbac",
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &netrbacv3.RBAC{
			Rules: &rbacv3.RBAC{Action: rbacv3.RBAC_Action(42)}, // undefined enum value
		})},
	}}}
	nested := &listenerv3.Listener{Name: "l", ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(t, deepRBAC)}}
	unknown := &clusterv3.Cluster{Name: "c", TypedExtensionProtocolOptions: map[string]*anypb.Any{
		"x": {TypeUrl: "type.googleapis.com/not.a.Type", Value: []byte{1}},
	}}
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"HCM in a filter", badHCM, "StatPrefix"},
		{"RBAC two levels down", nested, "Action"},
		{"unknown Any type", unknown, "not.a.Type"},
		{"top level", &clusterv3.Cluster{}, "Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate.Deep(tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Deep = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
