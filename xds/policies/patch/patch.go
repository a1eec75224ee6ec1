// Package patch updates the typed configs inside generated Envoy resources in place: the
// HttpConnectionManager or TcpProxy of a filter chain, the HttpProtocolOptions of a cluster.
// Policy configurers run after the generator has packed these into Any fields; unpacking,
// editing and repacking here keeps the configurers independent of how the generator builds
// them (Kuma's plugins work the same way on its resource set).
package patch

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// HTTPProtocolOptionsKey is where clusters carry their upstream HTTP settings.
const HTTPProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// Pack is anypb.New with deterministic encoding, so that snapshot versions (content hashes)
// do not change between identical generations.
func Pack(m proto.Message) (*anypb.Any, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}, nil
}

// HCM calls fn with every HttpConnectionManager of the listener's filter chains (or its API
// listener's) and stores the result back.
func HCM(l *listenerv3.Listener, fn func(*hcmv3.HttpConnectionManager) error) error {
	if api := l.GetApiListener(); api != nil {
		h := &hcmv3.HttpConnectionManager{}
		if err := api.GetApiListener().UnmarshalTo(h); err != nil {
			return fmt.Errorf("listener %s: api listener: %w", l.GetName(), err)
		}
		if err := fn(h); err != nil {
			return fmt.Errorf("listener %s: %w", l.GetName(), err)
		}
		a, err := Pack(h)
		if err != nil {
			return err
		}
		api.ApiListener = a
		return nil
	}
	return eachFilter(l, func(f *listenerv3.Filter) error {
		h := &hcmv3.HttpConnectionManager{}
		if !f.GetTypedConfig().MessageIs(h) {
			return nil
		}
		return repack(f, h, func() error { return fn(h) })
	})
}

// TCPProxy calls fn with every TcpProxy of the listener's filter chains.
func TCPProxy(l *listenerv3.Listener, fn func(*tcpproxyv3.TcpProxy) error) error {
	return eachFilter(l, func(f *listenerv3.Filter) error {
		t := &tcpproxyv3.TcpProxy{}
		if !f.GetTypedConfig().MessageIs(t) {
			return nil
		}
		return repack(f, t, func() error { return fn(t) })
	})
}

func eachFilter(l *listenerv3.Listener, fn func(*listenerv3.Filter) error) error {
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			if err := fn(f); err != nil {
				return fmt.Errorf("listener %s: filter %s: %w", l.GetName(), f.GetName(), err)
			}
		}
	}
	return nil
}

func repack(f *listenerv3.Filter, m proto.Message, edit func() error) error {
	if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if err := edit(); err != nil {
		return err
	}
	a, err := Pack(m)
	if err != nil {
		return err
	}
	f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
	return nil
}

// HTTPOptions calls fn with the cluster's upstream HttpProtocolOptions, creating them when
// the cluster has none, and stores the result back.
func HTTPOptions(c *clusterv3.Cluster, fn func(*upstreamhttpv3.HttpProtocolOptions)) error {
	opts := &upstreamhttpv3.HttpProtocolOptions{}
	if a, ok := c.GetTypedExtensionProtocolOptions()[HTTPProtocolOptionsKey]; ok {
		if err := a.UnmarshalTo(opts); err != nil {
			return fmt.Errorf("cluster %s: http protocol options: %w", c.GetName(), err)
		}
	}
	fn(opts)
	a, err := Pack(opts)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.GetName(), err)
	}
	if c.TypedExtensionProtocolOptions == nil {
		c.TypedExtensionProtocolOptions = map[string]*anypb.Any{}
	}
	c.TypedExtensionProtocolOptions[HTTPProtocolOptionsKey] = a
	return nil
}
