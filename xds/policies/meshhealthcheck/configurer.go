package meshhealthcheck

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filesinkv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/health_check/event_sinks/file/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// Kuma's defaults for what a policy leaves out.
const (
	DefaultInterval           = time.Minute
	DefaultTimeout            = 15 * time.Second
	DefaultUnhealthyThreshold = 5
	DefaultHealthyThreshold   = 1
	DefaultHTTPPath           = "/"
)

// tagsHeader carries the prober's tags, so that the destination can tell who is asking (Kuma
// sends it on HTTP probes).
const tagsHeader = "x-kuma-tags"

// ConfigureCluster adds conf's health check to the cluster of a destination of the given
// protocol; srcTags is the prober's SerializeTags. Nothing is added when no checker fits
// the protocol (e.g. only an http checker for a tcp service).
func ConfigureCluster(c *clusterv3.Cluster, conf Conf, protocol, srcTags string) error {
	if t := conf.HealthyPanicThreshold; t != nil {
		f, err := percent(t.Value)
		if err != nil {
			return fmt.Errorf("healthy panic threshold: %w", err)
		}
		lb(c).HealthyPanicThreshold = &typev3.Percent{Value: f}
	}
	if conf.FailTrafficOnPanic != nil {
		failTrafficOnPanic(c, *conf.FailTrafficOnPanic)
	}
	hc, err := healthCheck(conf)
	if err != nil {
		return err
	}
	switch checkerFor(protocol, conf) {
	case "http":
		hc.HealthChecker = httpChecker(protocol, conf.Http, srcTags)
	case "grpc":
		hc.HealthChecker = &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{
			ServiceName: deref(conf.Grpc.ServiceName), Authority: deref(conf.Grpc.Authority)}}
	case "tcp":
		hc.HealthChecker = tcpChecker(conf.Tcp)
	default:
		return nil
	}
	c.HealthChecks = append(c.HealthChecks, hc)
	return nil
}

func lb(c *clusterv3.Cluster) *clusterv3.Cluster_CommonLbConfig {
	if c.CommonLbConfig == nil {
		c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{}
	}
	return c.CommonLbConfig
}

// failTrafficOnPanic lives in the zone-aware LB config; Kuma skips it (with an error log) for
// clusters with locality-weighted LB, which cannot have both.
func failTrafficOnPanic(c *clusterv3.Cluster, v bool) {
	l := lb(c)
	if l.GetLocalityWeightedLbConfig() != nil {
		return
	}
	if l.LocalityConfigSpecifier == nil {
		l.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig_{
			ZoneAwareLbConfig: &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{}}
	}
	if z := l.GetZoneAwareLbConfig(); z != nil {
		z.FailTrafficOnPanic = v
	}
}

// checkerFor picks the checker as Kuma does: the protocol's own if configured and enabled,
// else tcp when the protocol's own is disabled (or the service is tcp) and tcp is enabled.
func checkerFor(protocol string, c Conf) string {
	enabled := func(disabled *bool) bool { return disabled == nil || !*disabled }
	httpLike := protocol == "http" || protocol == "http2"
	tcpOn := c.Tcp != nil && enabled(c.Tcp.Disabled)
	switch {
	case httpLike && c.Http != nil && enabled(c.Http.Disabled):
		return "http"
	case protocol == "grpc" && c.Grpc != nil && enabled(c.Grpc.Disabled):
		return "grpc"
	case protocol == "tcp" && tcpOn:
		return "tcp"
	case httpLike && c.Http != nil && tcpOn, protocol == "grpc" && c.Grpc != nil && tcpOn:
		return "tcp"
	}
	return ""
}

func healthCheck(c Conf) (*corev3.HealthCheck, error) {
	hc := &corev3.HealthCheck{
		Interval:           durationOr(c.Interval, DefaultInterval),
		Timeout:            durationOr(c.Timeout, DefaultTimeout),
		UnhealthyThreshold: wrapperspb.UInt32(uint32(intOr(c.UnhealthyThreshold, DefaultUnhealthyThreshold))),
		HealthyThreshold:   wrapperspb.UInt32(uint32(intOr(c.HealthyThreshold, DefaultHealthyThreshold))),
	}
	if c.InitialJitter != nil {
		hc.InitialJitter = durationpb.New(c.InitialJitter.Duration)
	}
	if c.IntervalJitter != nil {
		hc.IntervalJitter = durationpb.New(c.IntervalJitter.Duration)
	}
	if c.IntervalJitterPercent != nil {
		hc.IntervalJitterPercent = uint32(*c.IntervalJitterPercent)
	}
	if c.EventLogPath != nil {
		sink, err := patch.Pack(&filesinkv3.HealthCheckEventFileSink{EventLogPath: *c.EventLogPath})
		if err != nil {
			return nil, err
		}
		hc.EventLogger = []*corev3.TypedExtensionConfig{{Name: "envoy.health_check.event_sinks.file", TypedConfig: sink}}
	}
	if c.AlwaysLogHealthCheckFailures != nil {
		hc.AlwaysLogHealthCheckFailures = *c.AlwaysLogHealthCheckFailures
	}
	if c.NoTrafficInterval != nil {
		hc.NoTrafficInterval = durationpb.New(c.NoTrafficInterval.Duration)
	}
	if c.ReuseConnection != nil {
		hc.ReuseConnection = wrapperspb.Bool(*c.ReuseConnection)
	}
	return hc, nil
}

// tcpChecker sends and expects payloads; Envoy reads text payloads as hex.
func tcpChecker(t *TcpHealthCheck) *corev3.HealthCheck_TcpHealthCheck_ {
	out := &corev3.HealthCheck_TcpHealthCheck{}
	if t.Send != nil {
		out.Send = hexPayload(*t.Send)
	}
	if t.Receive != nil {
		for _, r := range *t.Receive {
			out.Receive = append(out.Receive, hexPayload(r))
		}
	}
	return &corev3.HealthCheck_TcpHealthCheck_{TcpHealthCheck: out}
}

func hexPayload(s string) *corev3.HealthCheck_Payload {
	return &corev3.HealthCheck_Payload{Payload: &corev3.HealthCheck_Payload_Text{Text: hex.EncodeToString([]byte(s))}}
}

func httpChecker(protocol string, h *HttpHealthCheck, srcTags string) *corev3.HealthCheck_HttpHealthCheck_ {
	out := &corev3.HealthCheck_HttpHealthCheck{Path: DefaultHTTPPath, CodecClientType: typev3.CodecClientType_HTTP1}
	if protocol == "http2" {
		out.CodecClientType = typev3.CodecClientType_HTTP2
	}
	if h.Path != nil {
		out.Path = *h.Path
	}
	if h.ExpectedStatuses != nil {
		for _, code := range *h.ExpectedStatuses {
			out.ExpectedStatuses = append(out.ExpectedStatuses, &typev3.Int64Range{Start: int64(code), End: int64(code) + 1})
		}
	}
	if srcTags != "" {
		out.RequestHeadersToAdd = append(out.RequestHeadersToAdd, &corev3.HeaderValueOption{
			Header: &corev3.HeaderValue{Key: tagsHeader, Value: srcTags}})
	}
	if m := h.RequestHeadersToAdd; m != nil {
		out.RequestHeadersToAdd = append(out.RequestHeadersToAdd, headers(m.Add, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD)...)
		out.RequestHeadersToAdd = append(out.RequestHeadersToAdd, headers(m.Set, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)...)
	}
	return &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: out}
}

// headers splits comma-separated values into one header each, as Kuma does.
func headers(kvs *[]meshhttproute.HeaderKeyValue, action corev3.HeaderValueOption_HeaderAppendAction) []*corev3.HeaderValueOption {
	if kvs == nil {
		return nil
	}
	var out []*corev3.HeaderValueOption
	for _, kv := range *kvs {
		for _, v := range strings.Split(string(kv.Value), ",") {
			out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: string(kv.Name), Value: v}, AppendAction: action})
		}
	}
	return out
}

// SerializeTags is the x-kuma-tags value of a prober with these inbound tags: every tag's
// distinct values, keys and values sorted, as "&key=v1,v2&".
func SerializeTags(inboundTags []map[string]string) string {
	values := map[string][]string{}
	for _, tags := range inboundTags {
		for k, v := range tags {
			if !slices.Contains(values[k], v) {
				values[k] = append(values[k], v)
			}
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := values[k]
		slices.Sort(vs)
		fmt.Fprintf(&b, "&%s=%s&", k, strings.Join(vs, ","))
	}
	return b.String()
}

func durationOr(d *targetref.Duration, def time.Duration) *durationpb.Duration {
	if d == nil {
		return durationpb.New(def)
	}
	return durationpb.New(d.Duration)
}

func intOr(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
