package meshretry

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	omithostv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/omit_host_metadata/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previousprioritiesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// Kuma's retry defaults: what a policy retries on when it does not say, and the base
// interval of a gRPC back-off without one.
const (
	DefaultHTTPRetryOn         = "gateway-error,connect-failure,refused-stream"
	DefaultGRPCRetryOn         = "cancelled,connect-failure,gateway-error,refused-stream,reset,resource-exhausted,unavailable"
	retriableStatusCodes       = "retriable-status-codes"
	DefaultGRPCBackOffInterval = 25 * time.Millisecond
)

// ConfigureListener applies conf to an outbound listener of the given protocol: a TCP
// outbound gets the connect attempts, an http or grpc outbound a retry policy on every
// route. Like Kuma, other protocols (http2) get no retry policy.
func ConfigureListener(l *listenerv3.Listener, conf Conf, protocol string) error {
	if protocol == "tcp" && conf.TCP != nil && conf.TCP.MaxConnectAttempt != nil {
		return patch.TCPProxy(l, func(t *tcpproxyv3.TcpProxy) error {
			t.MaxConnectAttempts = wrapperspb.UInt32(*conf.TCP.MaxConnectAttempt)
			return nil
		})
	}
	policy, err := RetryPolicy(conf, protocol)
	if err != nil || policy == nil {
		return err
	}
	return setRetryPolicy(l, policy)
}

// ConfigureGRPCClientListener applies the grpc section of conf to the API listener of a
// grpc-go client, whatever the service's declared protocol: such a client only makes gRPC
// calls. grpc-go honours retry_on (gRPC status names), num_retries and retry_back_off.
func ConfigureGRPCClientListener(l *listenerv3.Listener, conf Conf) error {
	policy, err := grpcPolicy(conf.GRPC)
	if err != nil || policy == nil {
		return err
	}
	return setRetryPolicy(l, policy)
}

func setRetryPolicy(l *listenerv3.Listener, policy *routev3.RetryPolicy) error {
	return patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		for _, vh := range m.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if a := r.GetRoute(); a != nil {
					a.RetryPolicy = policy
				}
			}
		}
		return nil
	})
}

// RetryPolicy is the Envoy retry policy of conf for a protocol, nil when there is none (no
// section for the protocol, or numRetries 0).
func RetryPolicy(conf Conf, protocol string) (*routev3.RetryPolicy, error) {
	switch protocol {
	case "http":
		return httpPolicy(conf.HTTP)
	case "grpc":
		return grpcPolicy(conf.GRPC)
	default:
		return nil, nil
	}
}

func dur(d *targetref.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(d.Duration)
}

func grpcPolicy(c *GRPC) (*routev3.RetryPolicy, error) {
	if c == nil || (c.NumRetries != nil && *c.NumRetries == 0) {
		return nil, nil
	}
	p := &routev3.RetryPolicy{RetryOn: DefaultGRPCRetryOn, PerTryTimeout: dur(c.PerTryTimeout)}
	if c.NumRetries != nil {
		p.NumRetries = wrapperspb.UInt32(*c.NumRetries)
	}
	if on := deref(c.RetryOn); len(on) > 0 {
		names := make([]string, 0, len(on))
		for _, r := range on {
			names = append(names, grpcRetryOn[r])
		}
		p.RetryOn = strings.Join(names, ",")
	}
	if b := c.BackOff; b != nil {
		p.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: dur(b.BaseInterval), MaxInterval: dur(b.MaxInterval)}
		if p.RetryBackOff.BaseInterval == nil {
			p.RetryBackOff.BaseInterval = durationpb.New(DefaultGRPCBackOffInterval)
		}
	}
	p.RateLimitedRetryBackOff = rateLimited(c.RateLimitedBackOff)
	return p, nil
}

func httpPolicy(c *HTTP) (*routev3.RetryPolicy, error) {
	if c == nil || (c.NumRetries != nil && *c.NumRetries == 0) {
		return nil, nil
	}
	p := &routev3.RetryPolicy{RetryOn: DefaultHTTPRetryOn, PerTryTimeout: dur(c.PerTryTimeout)}
	if c.NumRetries != nil {
		p.NumRetries = wrapperspb.UInt32(*c.NumRetries)
	}
	if b := c.BackOff; b != nil {
		p.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: dur(b.BaseInterval), MaxInterval: dur(b.MaxInterval)}
		if p.RetryBackOff.BaseInterval == nil {
			// Envoy requires a base interval; Kuma leaves it out for http, which Envoy
			// rejects, so we use the gRPC default here too.
			p.RetryBackOff.BaseInterval = durationpb.New(DefaultGRPCBackOffInterval)
		}
	}
	p.RateLimitedRetryBackOff = rateLimited(c.RateLimitedBackOff)
	var on []string
	for _, r := range deref(c.RetryOn) {
		code, err := strconv.ParseUint(string(r), 10, 32)
		switch {
		case err == nil && code <= math.MaxInt && http.StatusText(int(code)) != "":
			p.RetriableStatusCodes = append(p.RetriableStatusCodes, uint32(code))
		case strings.HasPrefix(string(r), httpMethodPrefix):
			p.RetriableRequestHeaders = append(p.RetriableRequestHeaders, &routev3.HeaderMatcher{
				Name: ":method",
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Exact{Exact: httpMethods[r]}}},
			})
		default:
			on = append(on, httpRetryOn[r])
		}
	}
	if len(on) > 0 {
		p.RetryOn = strings.Join(on, ",")
	}
	if len(p.RetriableStatusCodes) > 0 && !slices.Contains(strings.Split(p.RetryOn, ","), retriableStatusCodes) {
		p.RetryOn += "," + retriableStatusCodes
	}
	for _, h := range deref(c.RetriableRequestHeaders) {
		p.RetriableRequestHeaders = append(p.RetriableRequestHeaders, HeaderMatcher(h))
	}
	for _, h := range deref(c.RetriableResponseHeaders) {
		p.RetriableHeaders = append(p.RetriableHeaders, HeaderMatcher(h))
	}
	if err := hostSelection(p, deref(c.HostSelection)); err != nil {
		return nil, err
	}
	if c.HostSelectionMaxAttempts != nil {
		p.HostSelectionRetryMaxAttempts = *c.HostSelectionMaxAttempts
	}
	return p, nil
}

func rateLimited(r *RateLimitedBackOff) *routev3.RetryPolicy_RateLimitedRetryBackOff {
	if r == nil {
		return nil
	}
	out := &routev3.RetryPolicy_RateLimitedRetryBackOff{ResetHeaders: []*routev3.RetryPolicy_ResetHeader{}, MaxInterval: dur(r.MaxInterval)}
	for _, h := range deref(r.ResetHeaders) {
		format := routev3.RetryPolicy_SECONDS
		if h.Format == UnixTimestamp {
			format = routev3.RetryPolicy_UNIX_TIMESTAMP
		}
		out.ResetHeaders = append(out.ResetHeaders, &routev3.RetryPolicy_ResetHeader{Name: string(h.Name), Format: format})
	}
	return out
}

func hostSelection(p *routev3.RetryPolicy, preds []Predicate) error {
	for _, pr := range preds {
		switch pr.PredicateType {
		case OmitPreviousHosts:
			a, err := patch.Pack(&previoushostsv3.PreviousHostsPredicate{})
			if err != nil {
				return err
			}
			p.RetryHostPredicate = append(p.RetryHostPredicate, &routev3.RetryPolicy_RetryHostPredicate{
				Name: "envoy.retry_host_predicates.previous_hosts", ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: a}})
		case OmitHostsWithTags:
			fields := map[string]*structpb.Value{}
			for k, v := range deref2(pr.Tags) {
				fields[k] = structpb.NewStringValue(v)
			}
			a, err := patch.Pack(&omithostv3.OmitHostMetadataConfig{MetadataMatch: &corev3.Metadata{
				FilterMetadata: map[string]*structpb.Struct{"envoy.lb": {Fields: fields}}}})
			if err != nil {
				return err
			}
			p.RetryHostPredicate = append(p.RetryHostPredicate, &routev3.RetryPolicy_RetryHostPredicate{
				Name: "envoy.retry_host_predicates.omit_host_metadata", ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: a}})
		case OmitPreviousPriorities:
			a, err := patch.Pack(&previousprioritiesv3.PreviousPrioritiesConfig{UpdateFrequency: pr.UpdateFrequency})
			if err != nil {
				return err
			}
			p.RetryPriority = &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.previous_priorities",
				ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: a}}
		default:
			return fmt.Errorf("unknown host selection predicate %q", pr.PredicateType)
		}
	}
	return nil
}

// HeaderMatcher is the Envoy form of a header match (shared with MeshHTTPRoute).
func HeaderMatcher(h targetref.HeaderMatch) *routev3.HeaderMatcher {
	m := &routev3.HeaderMatcher{Name: string(h.Name)}
	str := func(p *matcherv3.StringMatcher) *routev3.HeaderMatcher_StringMatch {
		return &routev3.HeaderMatcher_StringMatch{StringMatch: p}
	}
	switch h.GetType() {
	case targetref.HeaderMatchRegularExpression:
		m.HeaderMatchSpecifier = str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: string(h.Value)}}})
	case targetref.HeaderMatchPrefix:
		m.HeaderMatchSpecifier = str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: string(h.Value)}})
	case targetref.HeaderMatchPresent:
		m.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
	case targetref.HeaderMatchAbsent:
		m.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: false}
	default:
		m.HeaderMatchSpecifier = str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: string(h.Value)}})
	}
	return m
}

func deref2(m *map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return *m
}
