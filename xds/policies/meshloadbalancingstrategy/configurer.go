package meshloadbalancingstrategy

import (
	"fmt"
	"math"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// lbMetadataKey is where an endpoint's tags are in its metadata.
const lbMetadataKey = "envoy.lb"

// DefaultOverprovisioningFactor is Kuma's overprovisioning factor (in percent) once
// locality groups are configured: a priority takes all traffic until half of its hosts
// are unhealthy.
const DefaultOverprovisioningFactor = 200

// ConfigureCluster sets the cluster's load balancer. grpcClient restricts it to what
// grpc-go's xDS client accepts (round robin, least request, ring hash with xxHash): it
// NACKs a cluster with any other policy, so for grpc-go Random and Maglev (and a MurmurHash2
// ring) leave the default round robin.
func ConfigureCluster(c *clusterv3.Cluster, conf Conf, grpcClient bool) error {
	if la := conf.LocalityAwareness; la != nil && la.LocalZone != nil && la.LocalZone.AffinityTags != nil && len(*la.LocalZone.AffinityTags) > 0 {
		// Affinity sub-zones weigh against each other (grpc-go always weighs localities).
		if c.CommonLbConfig == nil {
			c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{}
		}
		c.CommonLbConfig.LocalityConfigSpecifier = &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
			LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}}
	}
	lb := conf.LoadBalancer
	if lb == nil {
		return nil
	}
	switch lb.Type {
	case RoundRobinType:
		c.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
	case LeastRequestType:
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		if lr := lb.LeastRequest; lr != nil && (lr.ChoiceCount != nil || lr.ActiveRequestBias != nil) {
			cfg := &clusterv3.Cluster_LeastRequestLbConfig{}
			if lr.ChoiceCount != nil {
				cfg.ChoiceCount = wrapperspb.UInt32(*lr.ChoiceCount)
			}
			if b := lr.ActiveRequestBias; b != nil {
				r, ok := decimal(*b)
				if !ok {
					return fmt.Errorf("active request bias %q is not a number", b.Value)
				}
				f, _ := r.Float64()
				cfg.ActiveRequestBias = &corev3.RuntimeDouble{DefaultValue: f}
			}
			c.LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: cfg}
		}
	case RingHashType:
		rh := lb.RingHash
		if grpcClient && rh != nil && rh.HashFunction != nil && *rh.HashFunction == MurmurHash2Type {
			return nil
		}
		c.LbPolicy = clusterv3.Cluster_RING_HASH
		if rh != nil && (rh.MinRingSize != nil || rh.MaxRingSize != nil || rh.HashFunction != nil) {
			cfg := &clusterv3.Cluster_RingHashLbConfig{}
			if rh.MinRingSize != nil {
				cfg.MinimumRingSize = wrapperspb.UInt64(uint64(*rh.MinRingSize))
			}
			if rh.MaxRingSize != nil {
				cfg.MaximumRingSize = wrapperspb.UInt64(uint64(*rh.MaxRingSize))
			}
			if rh.HashFunction != nil && *rh.HashFunction == MurmurHash2Type {
				cfg.HashFunction = clusterv3.Cluster_RingHashLbConfig_MURMUR_HASH_2
			}
			c.LbConfig = &clusterv3.Cluster_RingHashLbConfig_{RingHashLbConfig: cfg}
		}
	case RandomType:
		if grpcClient {
			return nil
		}
		c.LbPolicy = clusterv3.Cluster_RANDOM
	case MaglevType:
		if grpcClient {
			return nil
		}
		c.LbPolicy = clusterv3.Cluster_MAGLEV
		if m := lb.Maglev; m != nil && m.TableSize != nil {
			c.LbConfig = &clusterv3.Cluster_MaglevLbConfig_{MaglevLbConfig: &clusterv3.Cluster_MaglevLbConfig{
				TableSize: wrapperspb.UInt64(uint64(*m.TableSize))}}
		}
	default:
		return fmt.Errorf("unknown load balancer %q", lb.Type)
	}
	return nil
}

// HashPolicies are conf's hash policies: the root list, else the deprecated one inside a
// RingHash or Maglev load balancer.
func HashPolicies(conf Conf) []HashPolicy {
	switch lb := conf.LoadBalancer; {
	case conf.HashPolicies != nil:
		return *conf.HashPolicies
	case lb == nil:
		return nil
	case lb.Type == RingHashType && lb.RingHash != nil && lb.RingHash.HashPolicies != nil:
		return *lb.RingHash.HashPolicies
	case lb.Type == MaglevType && lb.Maglev != nil && lb.Maglev.HashPolicies != nil:
		return *lb.Maglev.HashPolicies
	}
	return nil
}

// ConfigureListener sets conf's hash policies on every route of the listener's HTTP
// connection managers (a sidecar's outbound or a grpc-go API listener). grpc-go reads header
// hash policies (and filter state io.grpc.channel_id); it skips the others.
func ConfigureListener(l *listenerv3.Listener, conf Conf) error {
	hp := HashPolicies(conf)
	if len(hp) == 0 {
		return nil
	}
	envoy := make([]*routev3.RouteAction_HashPolicy, 0, len(hp))
	for _, h := range hp {
		envoy = append(envoy, hashPolicy(h))
	}
	return patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		for _, vh := range m.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if a := r.GetRoute(); a != nil {
					a.HashPolicy = envoy
				}
			}
		}
		return nil
	})
}

func hashPolicy(h HashPolicy) *routev3.RouteAction_HashPolicy {
	out := &routev3.RouteAction_HashPolicy{Terminal: h.Terminal != nil && *h.Terminal}
	switch {
	case h.Type == HeaderType && h.Header != nil:
		out.PolicySpecifier = &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: h.Header.Name}}
	case h.Type == CookieType && h.Cookie != nil:
		c := &routev3.RouteAction_HashPolicy_Cookie{Name: h.Cookie.Name}
		if h.Cookie.TTL != nil {
			c.Ttl = durationpb.New(h.Cookie.TTL.Duration)
		}
		if h.Cookie.Path != nil {
			c.Path = *h.Cookie.Path
		}
		out.PolicySpecifier = &routev3.RouteAction_HashPolicy_Cookie_{Cookie: c}
	case (h.Type == ConnectionType || h.Type == SourceIPType) && h.Connection != nil:
		// Like Kuma, SourceIP reads the connection section's sourceIP flag.
		out.PolicySpecifier = &routev3.RouteAction_HashPolicy_ConnectionProperties_{ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{
			SourceIp: h.Connection.SourceIP != nil && *h.Connection.SourceIP}}
	case h.Type == QueryParameterType && h.QueryParameter != nil:
		out.PolicySpecifier = &routev3.RouteAction_HashPolicy_QueryParameter_{QueryParameter: &routev3.RouteAction_HashPolicy_QueryParameter{Name: h.QueryParameter.Name}}
	case h.Type == FilterStateType && h.FilterState != nil:
		out.PolicySpecifier = &routev3.RouteAction_HashPolicy_FilterState_{FilterState: &routev3.RouteAction_HashPolicy_FilterState{Key: h.FilterState.Key}}
	}
	return out
}

// ConfigureLoadAssignment reassigns the priorities of a load assignment whose localities are
// zones (Locality.Zone; "" is the local zone), as Kuma does:
//   - locality awareness disabled: every zone at the same priority;
//   - no localZone or crossZone section: local zone first, every other zone next;
//   - a crossZone section: local zone first, then each failover step that applies to the
//     local zone (from) in order; zones no step names get no traffic at all, and a
//     localZone section without crossZone keeps traffic in the local zone. The factor
//     becomes 100/failoverThreshold*100 (default 200).
//
// Priorities are then renumbered without gaps from 0 (Envoy only cares about their order;
// grpc-go rejects gaps), so remote zones take priority 0 when there is no local endpoint.
//
// With localZone affinity tags, local endpoints sharing the client's value of a tag (the
// first such tag, in the policy's order) move to a sub-zone "key=value" weighing the tag's
// weight (default 9, 90, 900... from the last tag up), the rest weigh 1 (clientTags are the
// client's inbound tags; the cluster needs ConfigureCluster's locality-weighted LB).
func ConfigureLoadAssignment(cla *endpointv3.ClusterLoadAssignment, conf Conf, localZone string, clientTags []map[string]string) {
	la := conf.LocalityAwareness
	aware := la == nil || la.Disabled == nil || !*la.Disabled
	groups := la != nil && (la.LocalZone != nil || la.CrossZone != nil)
	kept := cla.Endpoints[:0]
	for _, l := range cla.Endpoints {
		zone := l.GetLocality().GetZone()
		local := zone == "" || zone == localZone
		switch {
		case local:
			l.Priority = 0
		case groups:
			p, ok := failoverPriority(la.CrossZone, zone, localZone)
			if !ok {
				continue
			}
			l.Priority = p
		case aware:
			l.Priority = 1
		default:
			l.Priority = 0
		}
		kept = append(kept, l)
	}
	cla.Endpoints = kept
	if groups := affinityGroups(la, clientTags); len(groups) > 0 {
		cla.Endpoints = splitByAffinity(cla.Endpoints, groups, localZone)
	}
	compactPriorities(cla.Endpoints)
	if groups {
		if cla.Policy == nil {
			cla.Policy = &endpointv3.ClusterLoadAssignment_Policy{}
		}
		cla.Policy.OverprovisioningFactor = wrapperspb.UInt32(overprovisioningFactor(la.CrossZone))
	}
}

// failoverPriority is the priority of a remote zone: 1 + the index of the first failover
// step that applies to the local zone and names it.
func failoverPriority(cz *CrossZone, zone, localZone string) (uint32, bool) {
	if cz == nil || cz.Failover == nil {
		return 0, false
	}
	for i, f := range *cz.Failover {
		if f.From != nil && !slices.Contains(f.From.Zones, localZone) {
			continue
		}
		var zones []string
		if f.To.Zones != nil {
			zones = *f.To.Zones
		}
		switch {
		case f.To.Type == Any,
			f.To.Type == AnyExcept && !slices.Contains(zones, zone),
			f.To.Type == Only && slices.Contains(zones, zone):
			return uint32(i + 1), true
		}
	}
	return 0, false
}

// affinityGroup is one affinity tag with the client's value of it.
type affinityGroup struct {
	key, value string
	weight     uint32
}

func affinityGroups(la *LocalityAwareness, clientTags []map[string]string) []affinityGroup {
	if la == nil || la.LocalZone == nil || la.LocalZone.AffinityTags == nil {
		return nil
	}
	tags := *la.LocalZone.AffinityTags
	var out []affinityGroup
	for i, t := range tags {
		var values []string
		for _, ct := range clientTags {
			if v, ok := ct[t.Key]; ok && !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
		if len(values) == 0 {
			continue
		}
		slices.Sort(values) // Kuma takes the first of the client's values
		weight := uint32(9 * math.Pow10(len(tags)-i-1))
		if t.Weight != nil {
			weight = *t.Weight
		}
		out = append(out, affinityGroup{key: t.Key, value: values[0], weight: weight})
	}
	return out
}

// splitByAffinity moves the local endpoints matching a group into that group's sub-zone.
func splitByAffinity(ls []*endpointv3.LocalityLbEndpoints, groups []affinityGroup, localZone string) []*endpointv3.LocalityLbEndpoints {
	var out []*endpointv3.LocalityLbEndpoints
	for _, l := range ls {
		zone := l.GetLocality().GetZone()
		if zone != "" && zone != localZone {
			out = append(out, l)
			continue
		}
		sub := map[string]*endpointv3.LocalityLbEndpoints{}
		var rest []*endpointv3.LbEndpoint
		var order []string
		for _, e := range l.LbEndpoints {
			g, ok := matchingGroup(e, groups)
			if !ok {
				rest = append(rest, e)
				continue
			}
			name := g.key + "=" + g.value
			if sub[name] == nil {
				sub[name] = &endpointv3.LocalityLbEndpoints{Priority: l.Priority,
					Locality:            &corev3.Locality{Region: l.GetLocality().GetRegion(), Zone: zone, SubZone: name},
					LoadBalancingWeight: wrapperspb.UInt32(g.weight)}
				order = append(order, name)
			}
			sub[name].LbEndpoints = append(sub[name].LbEndpoints, e)
		}
		for _, name := range order {
			out = append(out, sub[name])
		}
		if len(rest) > 0 {
			l.LbEndpoints = rest
			l.LoadBalancingWeight = wrapperspb.UInt32(1)
			out = append(out, l)
		}
	}
	return out
}

func matchingGroup(e *endpointv3.LbEndpoint, groups []affinityGroup) (affinityGroup, bool) {
	tags := e.GetMetadata().GetFilterMetadata()[lbMetadataKey].GetFields()
	for _, g := range groups {
		if v, ok := tags[g.key]; ok && v.GetStringValue() == g.value {
			return g, true
		}
	}
	return affinityGroup{}, false
}

func compactPriorities(ls []*endpointv3.LocalityLbEndpoints) {
	var used []uint32
	for _, l := range ls {
		if !slices.Contains(used, l.Priority) {
			used = append(used, l.Priority)
		}
	}
	slices.Sort(used)
	for _, l := range ls {
		l.Priority = uint32(slices.Index(used, l.Priority))
	}
}

func overprovisioningFactor(cz *CrossZone) uint32 {
	if cz == nil || cz.FailoverThreshold == nil {
		return DefaultOverprovisioningFactor
	}
	r, ok := decimal(cz.FailoverThreshold.Percentage)
	if !ok || r.Sign() == 0 {
		return DefaultOverprovisioningFactor
	}
	f, _ := r.Float64()
	return uint32(100/f) * 100
}
