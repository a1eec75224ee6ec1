package meshloadbalancingstrategy_test

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"

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
			mlbs.ConfigureLoadAssignment(c, tt.conf, "z1")
			if diff := cmp.Diff(tt.want, priorities(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
