package core

import (
	"net"
	"strconv"

	"github.com/jetmesh/jetmesh/resources"
)

// Dataplane is the spec of a Dataplane (Kuma's kuma.mesh.v1alpha1.Dataplane), fields in proto
// declaration order.
type Dataplane struct {
	Networking *DataplaneNetworking `json:"networking,omitempty"`
	Metrics    *MetricsBackend      `json:"metrics,omitempty"`
	Probes     *Probes              `json:"probes,omitempty"`
}

// DataplaneNetworking is where a proxy listens and what it serves.
type DataplaneNetworking struct {
	Address             string               `json:"address,omitempty"`
	AdvertisedAddress   string               `json:"advertisedAddress,omitempty"`
	Gateway             *Gateway             `json:"gateway,omitempty"`
	Inbound             []Inbound            `json:"inbound,omitempty"`
	Outbound            []Outbound           `json:"outbound,omitempty"`
	TransparentProxying *TransparentProxying `json:"transparentProxying,omitempty"`
	Admin               *EnvoyAdmin          `json:"admin,omitempty"`
	// Listeners are zone ingress/egress listeners embedded in a Dataplane (new in 2.14).
	Listeners []Listener `json:"listeners,omitempty"`
}

// Inbound is a port the proxy serves for the workload next to it.
type Inbound struct {
	Port           uint32            `json:"port,omitempty"`
	ServicePort    uint32            `json:"servicePort,omitempty"`
	ServiceAddress string            `json:"serviceAddress,omitempty"`
	Address        string            `json:"address,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Health         *Health           `json:"health,omitempty"`
	ServiceProbe   *ServiceProbe     `json:"serviceProbe,omitempty"`
	State          InboundState      `json:"state,omitempty"`
	Name           string            `json:"name,omitempty"`
	Protocol       string            `json:"protocol,omitempty"`
}

// Health is the inbound's health as last reported.
type Health struct {
	Ready bool `json:"ready,omitempty"`
}

// ServiceProbe is an active TCP health check of the workload.
type ServiceProbe struct {
	Interval           *Duration        `json:"interval,omitempty"`
	Timeout            *Duration        `json:"timeout,omitempty"`
	UnhealthyThreshold *uint32          `json:"unhealthyThreshold,omitempty"`
	HealthyThreshold   *uint32          `json:"healthyThreshold,omitempty"`
	TCP                *ServiceProbeTCP `json:"tcp,omitempty"`
}

// ServiceProbeTCP selects a TCP probe (it has no settings).
type ServiceProbeTCP struct{}

// Outbound is a local port the proxy forwards to a service.
type Outbound struct {
	Address    string            `json:"address,omitempty"`
	Port       uint32            `json:"port,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	BackendRef *BackendRef       `json:"backendRef,omitempty"`
}

// BackendRef points an outbound at a MeshService, MeshExternalService or MeshMultiZoneService.
type BackendRef struct {
	Kind   string            `json:"kind,omitempty"`
	Name   string            `json:"name,omitempty"`
	Port   uint32            `json:"port,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Gateway makes the proxy a gateway (delegated or builtin).
type Gateway struct {
	Tags map[string]string `json:"tags,omitempty"`
	Type GatewayType       `json:"type,omitempty"`
}

// TransparentProxying describes the iptables redirection set up for the proxy.
type TransparentProxying struct {
	RedirectPortInbound  uint32             `json:"redirectPortInbound,omitempty"`
	RedirectPortOutbound uint32             `json:"redirectPortOutbound,omitempty"`
	DirectAccessServices []string           `json:"directAccessServices,omitempty"`
	ReachableServices    []string           `json:"reachableServices,omitempty"`
	IPFamilyMode         IPFamilyMode       `json:"ipFamilyMode,omitempty"`
	ReachableBackends    *ReachableBackends `json:"reachableBackends,omitempty"`
}

// ReachableBackends limits the outbounds generated for the proxy.
type ReachableBackends struct {
	Refs []ReachableBackendRef `json:"refs,omitempty"`
}

// ReachableBackendRef selects backends by name or labels.
type ReachableBackendRef struct {
	Kind      string            `json:"kind,omitempty"`
	Name      string            `json:"name,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Port      *uint32           `json:"port,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// EnvoyAdmin is the Envoy admin port.
type EnvoyAdmin struct {
	Port uint32 `json:"port,omitempty"`
}

// Listener is a zone ingress or egress listener embedded in a Dataplane.
type Listener struct {
	Type    ListenerType  `json:"type,omitempty"`
	Address string        `json:"address,omitempty"`
	Port    uint32        `json:"port,omitempty"`
	Name    string        `json:"name,omitempty"`
	State   ListenerState `json:"state,omitempty"`
}

// Probes is the virtual probes listener that proxies the workload's HTTP probes.
type Probes struct {
	Port      uint32          `json:"port,omitempty"`
	Endpoints []ProbeEndpoint `json:"endpoints,omitempty"`
}

// ProbeEndpoint maps a probe path to an inbound port and path.
type ProbeEndpoint struct {
	InboundPort uint32 `json:"inboundPort,omitempty"`
	InboundPath string `json:"inboundPath,omitempty"`
	Path        string `json:"path,omitempty"`
}

// IsDelegatedGateway reports whether the proxy is a delegated gateway.
func (d *Dataplane) IsDelegatedGateway() bool {
	return d.Networking != nil && d.Networking.Gateway != nil && d.Networking.Gateway.Type == GatewayDelegated
}

// IsBuiltinGateway reports whether the proxy is a builtin gateway.
func (d *Dataplane) IsBuiltinGateway() bool {
	return d.Networking != nil && d.Networking.Gateway != nil && d.Networking.Gateway.Type == GatewayBuiltin
}

// ProxyType is the kuma.io/proxy-type label value: "gateway" for builtin gateways, else "sidecar".
func (d *Dataplane) ProxyType() string {
	if d.IsBuiltinGateway() {
		return "gateway"
	}
	return "sidecar"
}

// SpecLabels implements resources.SpecLabeler.
func (d *Dataplane) SpecLabels() map[string]string {
	labels := map[string]string{
		resources.LabelProxyType:           d.ProxyType(),
		resources.LabelListenerZoneIngress: "",
		resources.LabelListenerZoneEgress:  "",
	}
	if d.Networking != nil {
		for _, l := range d.Networking.Listeners {
			switch l.Type {
			case ListenerZoneIngress:
				labels[resources.LabelListenerZoneIngress] = "enabled"
			case ListenerZoneEgress:
				labels[resources.LabelListenerZoneEgress] = "enabled"
			}
		}
	}
	return labels
}

// SectionName is the inbound's name, or its port when it has none.
func (i *Inbound) SectionName() string {
	if i.Name != "" {
		return i.Name
	}
	return strconv.Itoa(int(i.Port))
}

// Service is the inbound's kuma.io/service tag.
func (i *Inbound) Service() string { return i.Tags[resources.TagService] }

// SectionName is the listener's name, or its port when it has none.
func (l *Listener) SectionName() string {
	if l.Name != "" {
		return l.Name
	}
	return strconv.Itoa(int(l.Port))
}

// InboundInterface is where an inbound listens and where it forwards to.
type InboundInterface struct {
	DataplaneIP   string
	DataplanePort uint32
	WorkloadIP    string
	WorkloadPort  uint32
}

// InboundInterface resolves the defaults of an inbound (address, serviceAddress, servicePort).
func (n *DataplaneNetworking) InboundInterface(i *Inbound) InboundInterface {
	iface := InboundInterface{DataplaneIP: n.Address, DataplanePort: i.Port, WorkloadIP: i.ServiceAddress, WorkloadPort: i.ServicePort}
	if i.Address != "" {
		iface.DataplaneIP = i.Address
	}
	if iface.WorkloadIP == "" {
		iface.WorkloadIP = iface.DataplaneIP
	}
	if iface.WorkloadPort == 0 {
		iface.WorkloadPort = i.Port
	}
	return iface
}

// usesInbound reports whether address:port collides with an inbound (either side of it).
func (n *DataplaneNetworking) usesInbound(address net.IP, port uint32) bool {
	for i := range n.Inbound {
		iface := n.InboundInterface(&n.Inbound[i])
		if port == iface.DataplanePort && overlap(address, net.ParseIP(iface.DataplaneIP)) {
			return true
		}
		if port == iface.WorkloadPort && overlap(address, net.ParseIP(iface.WorkloadIP)) {
			return true
		}
	}
	return false
}

// usesOutbound reports whether address:port collides with an outbound listener.
func (n *DataplaneNetworking) usesOutbound(address net.IP, port uint32) bool {
	for _, o := range n.Outbound {
		ip := o.Address
		if ip == "" {
			ip = "127.0.0.1"
		}
		if port == o.Port && overlap(address, net.ParseIP(ip)) {
			return true
		}
	}
	return false
}

func overlap(a, b net.IP) bool {
	if a.IsUnspecified() || b.IsUnspecified() {
		return true
	}
	return a.Equal(b)
}
