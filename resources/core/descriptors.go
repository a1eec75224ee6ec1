// Package core holds Kuma's core resource types (Mesh, Dataplane, ZoneIngress, ZoneEgress,
// Zone, Secret, GlobalSecret and the insights): their specs, in the JSON shape Kuma's REST API
// uses, their validation with Kuma's rules and messages, and their descriptors.
package core

import "github.com/jetmesh/jetmesh/resources"

// KDS flag sets, as Kuma's model names them.
const (
	globalToZones = resources.ProvidedByGlobal | resources.ConsumedByZone
	zoneToGlobal  = resources.ProvidedByZone | resources.ConsumedByGlobal
)

// Descriptors of the core types; names, paths, short names and KDS flags are Kuma 2.14.3's.
var (
	MeshType = &resources.Descriptor{
		Name: "Mesh", WsPath: "meshes", SingularName: "mesh", PluralName: "meshes", ShortName: "m",
		Scope: resources.ScopeGlobal, KDSFlags: globalToZones,
		NewSpec: func() resources.Spec { return &Mesh{} },
	}
	DataplaneType = &resources.Descriptor{
		Name: "Dataplane", WsPath: "dataplanes", SingularName: "dataplane", PluralName: "dataplanes", ShortName: "dp",
		Scope: resources.ScopeMesh, HasInsights: true, KDSFlags: zoneToGlobal,
		NewSpec: func() resources.Spec { return &Dataplane{} },
	}
	ZoneIngressType = &resources.Descriptor{
		Name: "ZoneIngress", WsPath: "zoneingresses", SingularName: "zoneingress", PluralName: "zoneingresses",
		ShortName: "zi", Scope: resources.ScopeGlobal, HasInsights: true,
		KDSFlags: zoneToGlobal | resources.SyncedAcrossZones,
		NewSpec:  func() resources.Spec { return &ZoneIngress{} },
	}
	ZoneEgressType = &resources.Descriptor{
		Name: "ZoneEgress", WsPath: "zoneegresses", SingularName: "zoneegress", PluralName: "zoneegresses",
		ShortName: "ze", Scope: resources.ScopeGlobal, HasInsights: true, KDSFlags: zoneToGlobal,
		NewSpec: func() resources.Spec { return &ZoneEgress{} },
	}
	ZoneType = &resources.Descriptor{
		Name: "Zone", WsPath: "zones", SingularName: "zone", PluralName: "zones", ShortName: "z",
		Scope: resources.ScopeGlobal, HasInsights: true,
		KDSFlags: resources.ProvidedByGlobal | resources.ProvidedByZone,
		NewSpec:  func() resources.Spec { return &Zone{} },
	}
	SecretType = &resources.Descriptor{
		Name: "Secret", WsPath: "secrets", SingularName: "secret", PluralName: "secrets",
		Scope: resources.ScopeMesh, KDSFlags: globalToZones | resources.ProvidedByZone,
		NewSpec: func() resources.Spec { return &Secret{} },
	}
	GlobalSecretType = &resources.Descriptor{
		Name: "GlobalSecret", WsPath: "globalsecrets", SingularName: "globalsecret", PluralName: "globalsecrets",
		Scope: resources.ScopeGlobal, KDSFlags: globalToZones | resources.ProvidedByZone,
		NewSpec: func() resources.Spec { return &Secret{} },
	}
	DataplaneInsightType = &resources.Descriptor{
		Name: "DataplaneInsight", WsPath: "dataplane-insights", Scope: resources.ScopeMesh, Internal: true,
		KDSFlags: zoneToGlobal,
		NewSpec:  func() resources.Spec { return &DataplaneInsight{} },
	}
	ZoneInsightType = &resources.Descriptor{
		Name: "ZoneInsight", WsPath: "zone-insights", Scope: resources.ScopeGlobal, Internal: true,
		KDSFlags: resources.ProvidedByGlobal | resources.ProvidedByZone,
		NewSpec:  func() resources.Spec { return &ZoneInsight{} },
	}
	ZoneIngressInsightType = &resources.Descriptor{
		Name: "ZoneIngressInsight", WsPath: "zone-ingress-insights", Scope: resources.ScopeGlobal, Internal: true,
		KDSFlags: zoneToGlobal,
		NewSpec:  func() resources.Spec { return &ZoneIngressInsight{} },
	}
	// VirtualOutboundType is Kuma's legacy VirtualOutbound policy: hostnames and ports for
	// transparent proxies (services/vips).
	VirtualOutboundType = &resources.Descriptor{
		Name: "VirtualOutbound", WsPath: "virtual-outbounds", SingularName: "virtual-outbound",
		PluralName: "virtual-outbounds", Scope: resources.ScopeMesh, Policy: true, KDSFlags: globalToZones,
		NewSpec: func() resources.Spec { return &VirtualOutbound{} },
	}
	// ConfigType is Kuma's system Config: control-plane state kept as a resource, such as a
	// mesh's virtual IPs (kuma-<mesh>-dns-vips). Written by the CP only, from the global (or a
	// standalone CP) to the zones. Like Kuma, no REST path serves it; the event feed shows it.
	ConfigType = &resources.Descriptor{
		Name: "Config", Scope: resources.ScopeGlobal, Internal: true,
		KDSFlags: globalToZones | resources.ProvidedByZone,
		NewSpec:  func() resources.Spec { return &Config{} },
	}
	ZoneEgressInsightType = &resources.Descriptor{
		Name: "ZoneEgressInsight", WsPath: "zoneegressinsights", Scope: resources.ScopeGlobal, Internal: true,
		KDSFlags: zoneToGlobal,
		NewSpec:  func() resources.Spec { return &ZoneEgressInsight{} },
	}
)

// Descriptors returns the core descriptors, for resources.NewRegistry.
func Descriptors() []*resources.Descriptor {
	return []*resources.Descriptor{
		MeshType, DataplaneType, ZoneIngressType, ZoneEgressType, ZoneType, SecretType, GlobalSecretType,
		DataplaneInsightType, ZoneInsightType, ZoneIngressInsightType, ZoneEgressInsightType, ConfigType,
		VirtualOutboundType,
	}
}
