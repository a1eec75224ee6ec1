package meshloadbalancingstrategy_test

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"

	mlbs "github.com/jetmesh/jetmesh/xds/policies/meshloadbalancingstrategy"
)

func cla(zones ...string) *endpointv3.ClusterLoadAssignment {
	out := &endpointv3.ClusterLoadAssignment{}
	for _, z := range zones {
		out.Endpoints = append(out.Endpoints, &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Zone: z}})
	}
	return out
}

// priorities lists zone=priority of every locality left.
func priorities(c *endpointv3.ClusterLoadAssignment) map[string]uint32 {
	out := map[string]uint32{}
	for _, l := range c.Endpoints {
		out[l.Locality.Zone] = l.Priority
	}
	return out
}

func TestConfigureLoadAssignment(t *testing.T) {
	disabled := true
	only := func(zones ...string) mlbs.Failover {
		return mlbs.Failover{To: mlbs.ToZone{Type: mlbs.Only, Zones: &zones}}
	}
	cross := func(f ...mlbs.Failover) mlbs.Conf {
		return mlbs.Conf{LocalityAwareness: &mlbs.LocalityAwareness{CrossZone: &mlbs.CrossZone{Failover: &f}}}
	}
	tests := []struct {
		name  string
		conf  mlbs.Conf
		zones []string
		want  map[string]uint32
	}{
		{"aware by default", mlbs.Conf{}, []string{"", "z1", "z2"}, map[string]uint32{"": 0, "z1": 0, "z2": 1}},
		{"disabled", mlbs.Conf{LocalityAwareness: &mlbs.LocalityAwareness{Disabled: &disabled}}, []string{"z1", "z2"},
			map[string]uint32{"z1": 0, "z2": 0}},
		{"no local endpoint: remote takes priority 0", mlbs.Conf{}, []string{"z2", "z3"}, map[string]uint32{"z2": 0, "z3": 0}},
		{"failover order, unnamed zones dropped", cross(only("z3"), only("z2")), []string{"z1", "z2", "z3", "z4"},
			map[string]uint32{"z1": 0, "z3": 1, "z2": 2}},
		{"steps for other zones skipped", cross(mlbs.Failover{From: &mlbs.FromZone{Zones: []string{"z9"}}, To: mlbs.ToZone{Type: mlbs.Any}},
			mlbs.Failover{To: mlbs.ToZone{Type: mlbs.AnyExcept, Zones: &[]string{"z3"}}}), []string{"z2", "z3"},
			map[string]uint32{"z2": 0}},
		{"localZone only keeps traffic local", mlbs.Conf{LocalityAwareness: &mlbs.LocalityAwareness{LocalZone: &mlbs.LocalZone{}}},
			[]string{"z1", "z2"}, map[string]uint32{"z1": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cla(tt.zones...)
			mlbs.ConfigureLoadAssignment(c, tt.conf, "z1", nil)
			if diff := cmp.Diff(tt.want, priorities(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func endpoint(addr string, tags map[string]string) *endpointv3.LbEndpoint {
	fields := map[string]*structpb.Value{}
	for k, v := range tags {
		fields[k] = structpb.NewStringValue(v)
	}
	return &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{
			Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: addr}}}}},
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.lb": {Fields: fields}}},
	}
}

// Local endpoints sharing the client's node go to a sub-zone weighing 90, those sharing its
// availability zone to one weighing 9, the rest weigh 1; remote zones are untouched, and the
// cluster balances by locality weight.
func TestAffinityTags(t *testing.T) {
	c := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		{Locality: &corev3.Locality{Zone: "z1"}, LbEndpoints: []*endpointv3.LbEndpoint{
			endpoint("10.0.0.1", map[string]string{"node": "n1", "az": "a"}),
			endpoint("10.0.0.2", map[string]string{"node": "n2", "az": "a"}),
			endpoint("10.0.0.3", map[string]string{"node": "n3", "az": "b"}),
		}},
		{Locality: &corev3.Locality{Zone: "z2"}, LbEndpoints: []*endpointv3.LbEndpoint{endpoint("10.1.0.1", nil)}},
	}}
	conf := mlbs.Conf{LocalityAwareness: &mlbs.LocalityAwareness{
		LocalZone: &mlbs.LocalZone{AffinityTags: &[]mlbs.AffinityTag{{Key: "node"}, {Key: "az"}}},
		CrossZone: &mlbs.CrossZone{Failover: &[]mlbs.Failover{{To: mlbs.ToZone{Type: mlbs.Any}}}},
	}}
	mlbs.ConfigureLoadAssignment(c, conf, "z1", []map[string]string{{"node": "n1", "az": "a"}})
	type loc struct {
		SubZone  string
		Weight   uint32
		Priority uint32
		Hosts    []string
	}
	var got []loc
	for _, l := range c.Endpoints {
		x := loc{SubZone: l.Locality.Zone + "/" + l.Locality.SubZone, Weight: l.GetLoadBalancingWeight().GetValue(), Priority: l.Priority}
		for _, e := range l.LbEndpoints {
			x.Hosts = append(x.Hosts, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
		}
		got = append(got, x)
	}
	want := []loc{
		{"z1/node=n1", 90, 0, []string{"10.0.0.1"}},
		{"z1/az=a", 9, 0, []string{"10.0.0.2"}},
		{"z1/", 1, 0, []string{"10.0.0.3"}},
		{"z2/", 0, 1, []string{"10.1.0.1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	cluster := &clusterv3.Cluster{}
	if err := mlbs.ConfigureCluster(cluster, conf, true); err != nil {
		t.Fatal(err)
	}
	if cluster.GetCommonLbConfig().GetLocalityWeightedLbConfig() == nil {
		t.Errorf("cluster without locality-weighted LB: %v", cluster)
	}
}
