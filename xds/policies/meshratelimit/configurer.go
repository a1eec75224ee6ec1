package meshratelimit

import (
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	httplrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netlrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// The filter names Kuma gives the two filters (the TCP one is named after its type).
const (
	HTTPFilterName = "envoy.filters.http.local_ratelimit"
	TCPFilterName  = "envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit"
)

// ConfigureInbound applies an inbound's rate limit to its listener, as Kuma's configurer
// does for the catch-all conf of an inbound: an HTTP limit becomes a local_ratelimit HTTP
// filter (inert on its own, placed before the router) plus the token bucket on every route
// that has none yet; a TCP limit becomes a local_ratelimit network filter in front of every
// filter chain, HTTP ones included (it counts connections). Disabled or rate-less sections
// do nothing.
func ConfigureInbound(l *listenerv3.Listener, conf Conf) error {
	if conf.Local == nil {
		return nil
	}
	if h := conf.Local.HTTP; h != nil && !deref1(h.Disabled) && h.RequestRate != nil {
		if err := configureHTTP(l, h); err != nil {
			return fmt.Errorf("meshratelimit: %w", err)
		}
	}
	if t := conf.Local.TCP; t != nil && !deref1(t.Disabled) && t.ConnectionRate != nil {
		if err := configureTCP(l, *t.ConnectionRate); err != nil {
			return fmt.Errorf("meshratelimit: %w", err)
		}
	}
	return nil
}

func configureHTTP(l *listenerv3.Listener, h *LocalHTTP) error {
	perRoute, err := routeConfig(h)
	if err != nil {
		return err
	}
	filter, err := patch.Pack(&httplrlv3.LocalRateLimit{StatPrefix: "rate_limit"})
	if err != nil {
		return err
	}
	return patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		for _, vh := range m.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if r.TypedPerFilterConfig == nil {
					r.TypedPerFilterConfig = map[string]*anypb.Any{}
				}
				if _, ok := r.TypedPerFilterConfig[HTTPFilterName]; !ok {
					r.TypedPerFilterConfig[HTTPFilterName] = perRoute
				}
			}
		}
		return upsertBeforeRouter(m, &hcmv3.HttpFilter{Name: HTTPFilterName,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: filter}})
	})
}

// routeConfig is the per-route LocalRateLimit: a token bucket of requestRate.num tokens
// refilled every interval, always enabled and enforced (Kuma's runtime keys, 100%), and the
// response Kuma configures for limited requests.
func routeConfig(h *LocalHTTP) (*anypb.Any, error) {
	rate := h.RequestRate
	rl := &httplrlv3.LocalRateLimit{
		StatPrefix: "rate_limit",
		TokenBucket: &typev3.TokenBucket{
			MaxTokens:     rate.Num,
			TokensPerFill: wrapperspb.UInt32(rate.Num),
			FillInterval:  durationpb.New(rate.Interval.Duration),
		},
		FilterEnabled:  always("local_rate_limit_enabled"),
		FilterEnforced: always("local_rate_limit_enforced"),
	}
	if o := h.OnRateLimit; o != nil {
		if o.Status != nil {
			code := int32(*o.Status)
			// Envoy accepts only the codes of its StatusCode enum; Kuma would send the
			// proxy a config it rejects, we refuse to generate it.
			if _, known := typev3.StatusCode_name[code]; !known {
				return nil, fmt.Errorf("onRateLimit.status %d is not an HTTP status Envoy accepts", code)
			}
			rl.Status = &typev3.HttpStatus{Code: typev3.StatusCode(code)}
		}
		rl.ResponseHeadersToAdd = responseHeaders(o.Headers)
	}
	return patch.Pack(rl)
}

func always(key string) *corev3.RuntimeFractionalPercent {
	return &corev3.RuntimeFractionalPercent{
		DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED},
		RuntimeKey:   key,
	}
}

// responseHeaders lists added headers first (appended), then set ones (overwriting), each
// comma-separated value of a set header on its own, as Kuma does.
func responseHeaders(m *HeaderModifier) []*corev3.HeaderValueOption {
	out := []*corev3.HeaderValueOption{}
	if m == nil {
		return out
	}
	for _, h := range deref(m.Add) {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: string(h.Name), Value: string(h.Value)},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	for _, h := range deref(m.Set) {
		for v := range strings.SplitSeq(string(h.Value), ",") {
			out = append(out, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: string(h.Name), Value: v},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		}
	}
	return out
}

// upsertBeforeRouter replaces the filter of the same name, or inserts f before the router.
func upsertBeforeRouter(m *hcmv3.HttpConnectionManager, f *hcmv3.HttpFilter) error {
	if i := slices.IndexFunc(m.HttpFilters, func(x *hcmv3.HttpFilter) bool { return x.GetName() == f.GetName() }); i >= 0 {
		m.HttpFilters[i] = f
		return nil
	}
	i := slices.IndexFunc(m.HttpFilters, func(x *hcmv3.HttpFilter) bool { return x.GetName() == wellknown.Router })
	if i < 0 {
		return fmt.Errorf("http connection manager %s has no router filter", m.GetStatPrefix())
	}
	m.HttpFilters = slices.Insert(m.HttpFilters, i, f)
	return nil
}

func configureTCP(l *listenerv3.Listener, rate Rate) error {
	cfg, err := patch.Pack(&netlrlv3.LocalRateLimit{
		StatPrefix: "tcp_rate_limit",
		TokenBucket: &typev3.TokenBucket{
			MaxTokens:     rate.Num,
			TokensPerFill: wrapperspb.UInt32(rate.Num),
			FillInterval:  durationpb.New(rate.Interval.Duration),
		},
	})
	if err != nil {
		return err
	}
	for _, fc := range l.GetFilterChains() {
		f := &listenerv3.Filter{Name: TCPFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: cfg}}
		if i := slices.IndexFunc(fc.Filters, func(x *listenerv3.Filter) bool { return x.GetName() == TCPFilterName }); i >= 0 {
			fc.Filters[i] = f
			continue
		}
		fc.Filters = slices.Insert(fc.Filters, 0, f)
	}
	return nil
}

func deref1(b *bool) bool { return b != nil && *b }
