package bootstrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	overloadv3 "github.com/envoyproxy/go-control-plane/envoy/config/overload/v3"
	fileaccesslogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	downstreamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	fixedheapv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Envoy node metadata keys kuma-dp's bootstrap carries and the control plane reads back
// (Kuma 2.14's pkg/core/xds/metadata.go). There is no token key: the token travels as gRPC
// metadata.
const (
	MetadataAdminPort            = "dataplane.admin.port"
	MetadataAdminAddress         = "dataplane.admin.address"
	MetadataAdminSocketPath      = "dataplane.admin.socketPath"
	MetadataReadinessPort        = "dataplane.readinessReporter.port"
	MetadataAppProbeProxyEnabled = "dataplane.appProbeProxy.enabled"
	MetadataDNSPort              = "dataplane.dns.port"
	MetadataDataplaneResource    = "dataplane.resource"
	MetadataProxyType            = "dataplane.proxyType"
	MetadataDynamicMetadata      = "dynamicMetadata"
	MetadataVersion              = "version"
	MetadataFeatures             = "features"
	MetadataWorkdir              = "workdir"
	MetadataMetricsCertPath      = "metricsCertPath"
	MetadataMetricsKeyPath       = "metricsKeyPath"
	MetadataSystemCaPath         = "systemCaPath"
	MetadataTransparentProxy     = "transparentProxy"
	MetadataIPv6Enabled          = "ipv6Enabled"
	MetadataSpireSocketPath      = "spireAgent.socketPath"
	MetadataOtelEnvInventory     = "otelEnvInventory"
	MetadataHostIP               = "HOST_IP"
)

// nodeMetadata builds node.metadata with Kuma's keys; ports are strings, as in Kuma.
func nodeMetadata(p Params) (*structpb.Struct, error) {
	features := make([]any, 0, len(p.Features))
	seen := map[string]bool{}
	for _, f := range p.Features {
		if !seen[f] {
			seen[f] = true
			features = append(features, f)
		}
	}
	featureList, err := structpb.NewList(features)
	if err != nil {
		return nil, err
	}
	f := map[string]*structpb.Value{
		MetadataVersion:         structpb.NewStructValue(versionStruct(p.Version)),
		MetadataFeatures:        structpb.NewListValue(featureList),
		MetadataWorkdir:         structpb.NewStringValue(p.Workdir),
		MetadataMetricsCertPath: structpb.NewStringValue(p.MetricsCertPath),
		MetadataMetricsKeyPath:  structpb.NewStringValue(p.MetricsKeyPath),
		MetadataSystemCaPath:    structpb.NewStringValue(p.SystemCaPath),
		MetadataIPv6Enabled:     structpb.NewBoolValue(p.IPv6Enabled),
		MetadataSpireSocketPath: structpb.NewStringValue(p.SpireSocketPath),
		MetadataAdminPort:       structpb.NewStringValue(strconv.FormatUint(uint64(p.AdminPort), 10)),
		MetadataAdminAddress:    structpb.NewStringValue(p.AdminAddress),
		MetadataProxyType:       structpb.NewStringValue(p.ProxyType),
	}
	setString := func(key, v string) {
		if v != "" {
			f[key] = structpb.NewStringValue(v)
		}
	}
	setString(MetadataAdminSocketPath, p.AdminSocketPath)
	setString(MetadataDataplaneResource, p.DataplaneResource)
	if p.DNSPort != 0 {
		setString(MetadataDNSPort, strconv.FormatUint(uint64(p.DNSPort), 10))
	}
	if p.ReadinessPort != 0 {
		setString(MetadataReadinessPort, strconv.FormatUint(uint64(p.ReadinessPort), 10))
	}
	if p.AppProbeProxyEnabled {
		setString(MetadataAppProbeProxyEnabled, "true")
	}
	if len(p.DynamicMetadata) > 0 {
		md := &structpb.Struct{Fields: map[string]*structpb.Value{}}
		for k, v := range p.DynamicMetadata {
			md.Fields[k] = structpb.NewStringValue(v)
		}
		f[MetadataDynamicMetadata] = structpb.NewStructValue(md)
	}
	for key, raw := range map[string]json.RawMessage{MetadataTransparentProxy: p.TransparentProxy, MetadataOtelEnvInventory: p.OtelEnv} {
		s, err := rawStruct(raw)
		if err != nil {
			return nil, fmt.Errorf("bootstrap: metadata %s: %w", key, err)
		}
		if s != nil {
			f[key] = structpb.NewStructValue(s)
		}
	}
	return &structpb.Struct{Fields: f}, nil
}

// versionStruct renders Version the way protojson renders Kuma's mesh_proto.Version: empty
// strings and false are left out, the two sub-objects are always there.
func versionStruct(v Version) *structpb.Struct {
	dp := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, s := range map[string]string{
		"version": v.KumaDp.Version, "gitTag": v.KumaDp.GitTag,
		"gitCommit": v.KumaDp.GitCommit, "buildDate": v.KumaDp.BuildDate,
	} {
		if s != "" {
			dp.Fields[k] = structpb.NewStringValue(s)
		}
	}
	envoy := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, s := range map[string]string{"version": v.Envoy.Version, "build": v.Envoy.Build} {
		if s != "" {
			envoy.Fields[k] = structpb.NewStringValue(s)
		}
	}
	if v.Envoy.KumaDpCompatible {
		envoy.Fields["kumaDpCompatible"] = structpb.NewBoolValue(true)
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"kumaDp": structpb.NewStructValue(dp),
		"envoy":  structpb.NewStructValue(envoy),
	}}
}

// rawStruct turns a JSON object into a Struct; nil for absent or null.
func rawStruct(raw json.RawMessage) (*structpb.Struct, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return structpb.NewStruct(m)
}

// admin listens on the loopback TCP port, or on a unix socket (mode 0600) when asked, and
// logs its access to AdminAccessLogPath.
func admin(p Params) (*bootstrapv3.Admin, error) {
	a := &bootstrapv3.Admin{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
		SocketAddress: &corev3.SocketAddress{
			Address:       p.AdminAddress,
			Protocol:      corev3.SocketAddress_TCP,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: p.AdminPort},
		},
	}}}
	if p.AdminSocketPath != "" {
		a.Address = &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: p.AdminSocketPath, Mode: 0o600}}}
	}
	cfg, err := marshalAny(&fileaccesslogv3.FileAccessLog{Path: p.AdminAccessLogPath})
	if err != nil {
		return nil, err
	}
	a.AccessLog = []*accesslogv3.AccessLog{{
		Name:       "envoy.access_loggers.file",
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: cfg},
	}}
	return a, nil
}

const fixedHeapMonitor = "envoy.resource_monitors.fixed_heap"

// overloadManager caps a builtin gateway's downstream connections and, when the heap size is
// known, shrinks the heap at 95% and stops accepting requests at 98%.
func overloadManager(p Params) (*overloadv3.OverloadManager, error) {
	conns, err := marshalAny(&downstreamv3.DownstreamConnectionsConfig{
		MaxActiveDownstreamConnections: int64(p.GatewayMaxConnections),
	})
	if err != nil {
		return nil, err
	}
	om := &overloadv3.OverloadManager{
		RefreshInterval: durationpb.New(250 * time.Millisecond),
		ResourceMonitors: []*overloadv3.ResourceMonitor{{
			Name:       "envoy.resource_monitors.global_downstream_max_connections",
			ConfigType: &overloadv3.ResourceMonitor_TypedConfig{TypedConfig: conns},
		}},
	}
	if p.MaxHeapSizeBytes == 0 {
		return om, nil
	}
	heap, err := marshalAny(&fixedheapv3.FixedHeapConfig{MaxHeapSizeBytes: p.MaxHeapSizeBytes})
	if err != nil {
		return nil, err
	}
	om.ResourceMonitors = append(om.ResourceMonitors, &overloadv3.ResourceMonitor{
		Name:       fixedHeapMonitor,
		ConfigType: &overloadv3.ResourceMonitor_TypedConfig{TypedConfig: heap},
	})
	for _, a := range []struct {
		name      string
		threshold float64
	}{{"envoy.overload_actions.shrink_heap", 0.95}, {"envoy.overload_actions.stop_accepting_requests", 0.98}} {
		om.Actions = append(om.Actions, &overloadv3.OverloadAction{
			Name: a.name,
			Triggers: []*overloadv3.Trigger{{
				Name:         fixedHeapMonitor,
				TriggerOneof: &overloadv3.Trigger_Threshold{Threshold: &overloadv3.ThresholdTrigger{Value: a.threshold}},
			}},
		})
	}
	return om, nil
}
