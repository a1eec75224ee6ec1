package generate_test

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/jetmesh/jetmesh/xds/generate"
)

// TestValidateLooksInsideAny makes sure Validate checks resources deeply (validate.Deep, which
// has its own tests): an HCM without stat_prefix packed in a listener is rejected.
func TestValidateLooksInsideAny(t *testing.T) {
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{})
	if err != nil {
		t.Fatal(err)
	}
	badHCM := &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name:       "envoy.filters.network.http_connection_manager",
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
	}}}}}
	if err := generate.Validate(&generate.Resources{Listeners: []*listenerv3.Listener{badHCM}}); err == nil {
		t.Error("Validate accepted a listener with an invalid HCM")
	}
}
