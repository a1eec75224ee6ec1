package core

import (
	"net"

	"github.com/jetmesh/jetmesh/resources"
)

// ZoneIngress is the spec of a ZoneIngress (kuma.mesh.v1alpha1.ZoneIngress).
type ZoneIngress struct {
	Zone       string                 `json:"zone,omitempty"`
	Networking *ZoneIngressNetworking `json:"networking,omitempty"`
	// AvailableServices is computed by the control plane of the ingress's zone.
	AvailableServices []AvailableService `json:"availableServices,omitempty"`
}

// ZoneIngressNetworking is where a zone ingress listens and how other zones reach it.
type ZoneIngressNetworking struct {
	Address           string      `json:"address,omitempty"`
	AdvertisedAddress string      `json:"advertisedAddress,omitempty"`
	Port              uint32      `json:"port,omitempty"`
	AdvertisedPort    uint32      `json:"advertisedPort,omitempty"`
	Admin             *EnvoyAdmin `json:"admin,omitempty"`
}

// AvailableService is a service reachable through a zone ingress, with its instance count.
type AvailableService struct {
	Tags            map[string]string `json:"tags,omitempty"`
	Instances       uint32            `json:"instances,omitempty"`
	Mesh            string            `json:"mesh,omitempty"`
	ExternalService bool              `json:"externalService,omitempty"`
}

// Validate implements resources.Spec (Kuma's ZoneIngressResource.Validate).
func (z *ZoneIngress) Validate() resources.ValidationError {
	var v resources.ValidationError
	n := z.Networking
	if n == nil {
		n = &ZoneIngressNetworking{}
	}
	p := resources.FieldPath("networking")
	if n.Admin != nil && (usesPort(n.Address, n.Port, n.Admin.Port) ||
		usesPort(n.AdvertisedAddress, n.AdvertisedPort, n.Admin.Port)) {
		v.AddViolation(p.Field("admin").Field("port"), "must differ from port")
	}
	if n.AdvertisedAddress == "" && n.AdvertisedPort != 0 {
		v.AddViolation(p.Field("advertisedAddress"), "has to be defined with advertisedPort")
	}
	if n.AdvertisedPort == 0 && n.AdvertisedAddress != "" {
		v.AddViolation(p.Field("advertisedPort"), "has to be defined with advertisedAddress")
	}
	// Kuma nests these one level too deep ("networking.address.address"); users see it.
	if n.Address != "" {
		v.Add(validateAddress(p.Field("address").Field("address"), n.Address))
	}
	if n.AdvertisedAddress != "" {
		v.Add(validateAddress(p.Field("advertisedAddress").Field("address"), n.AdvertisedAddress))
	}
	v.Add(resources.ValidatePort(p.Field("port"), n.Port))
	if n.AdvertisedPort != 0 {
		v.Add(resources.ValidatePort(p.Field("advertisedPort"), n.AdvertisedPort))
	}
	// Kuma's path is "availableService" (singular).
	for i, s := range z.AvailableServices {
		v.Add(resources.ValidateTags(resources.FieldPath("availableService").Index(i).Field("tags"), s.Tags,
			resources.TagsOptions{RequireService: true}))
	}
	return v
}

// SpecLabels implements resources.SpecLabeler.
func (z *ZoneIngress) SpecLabels() map[string]string {
	return map[string]string{resources.LabelProxyType: "zoneingress"}
}

// ZoneEgress is the spec of a ZoneEgress (kuma.mesh.v1alpha1.ZoneEgress).
type ZoneEgress struct {
	Zone       string                `json:"zone,omitempty"`
	Networking *ZoneEgressNetworking `json:"networking,omitempty"`
}

// ZoneEgressNetworking is where a zone egress listens.
type ZoneEgressNetworking struct {
	Address string      `json:"address,omitempty"`
	Port    uint32      `json:"port,omitempty"`
	Admin   *EnvoyAdmin `json:"admin,omitempty"`
}

// Validate implements resources.Spec (Kuma's ZoneEgressResource.Validate).
func (z *ZoneEgress) Validate() resources.ValidationError {
	var v resources.ValidationError
	n := z.Networking
	if n == nil {
		n = &ZoneEgressNetworking{}
	}
	p := resources.FieldPath("networking")
	if n.Admin != nil && usesPort(n.Address, n.Port, n.Admin.Port) {
		v.AddViolation(p.Field("admin").Field("port"), "must differ from port")
	}
	if n.Address != "" {
		v.Add(validateAddress(p.Field("address").Field("address"), n.Address))
	}
	v.Add(resources.ValidatePort(p.Field("port"), n.Port))
	return v
}

// SpecLabels implements resources.SpecLabeler.
func (z *ZoneEgress) SpecLabels() map[string]string {
	return map[string]string{resources.LabelProxyType: "zoneegress"}
}

// usesPort is Kuma's UsesInboundInterface for zone proxies: the admin port (on 127.0.0.1)
// collides with a listener on the same port whose address is loopback or a wildcard.
func usesPort(address string, port, adminPort uint32) bool {
	return adminPort == port && overlap(loopback, net.ParseIP(address))
}
