package kumaapi

// Mesh is a Mesh in Kuma's legacy REST shape (spec fields inline).
type Mesh struct {
	Type string   `json:"type"`
	Name string   `json:"name"`
	MTLS *MeshTLS `json:"mtls,omitempty"`
}

// MeshTLS is a mesh's mtls section.
type MeshTLS struct {
	EnabledBackend string      `json:"enabledBackend"`
	Backends       []CABackend `json:"backends"`
}

// CABackend is one mTLS CA backend.
type CABackend struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// BuiltinMTLS is mTLS with Kuma's builtin CA, which MeshTrafficPermissions need to take effect.
func BuiltinMTLS() *MeshTLS {
	return &MeshTLS{EnabledBackend: "ca-1", Backends: []CABackend{{Name: "ca-1", Type: "builtin"}}}
}

// Dataplane is a Dataplane in Kuma's legacy REST shape.
type Dataplane struct {
	Type       string     `json:"type"`
	Mesh       string     `json:"mesh"`
	Name       string     `json:"name"`
	Networking Networking `json:"networking"`
}

// Networking is a dataplane's networking section.
type Networking struct {
	Address  string     `json:"address"`
	Inbound  []Inbound  `json:"inbound,omitempty"`
	Outbound []Outbound `json:"outbound,omitempty"`
}

// Inbound is one inbound interface.
type Inbound struct {
	Port        uint32            `json:"port"`
	ServicePort uint32            `json:"servicePort,omitempty"`
	Tags        map[string]string `json:"tags"`
}

// Outbound is one outbound (a kuma.io/service tag, 2.x style).
type Outbound struct {
	Port uint32            `json:"port"`
	Tags map[string]string `json:"tags"`
}

// Policy is a targetRef policy in the v1alpha1 REST shape.
type Policy struct {
	Type string `json:"type"`
	Mesh string `json:"mesh"`
	Name string `json:"name"`
	Spec any    `json:"spec"`
}

// ServiceTag is Kuma's service tag.
const ServiceTag = "kuma.io/service"

// MeshTrafficPermission allows traffic to the service's proxies from a (possibly fictitious)
// service, using the 2.x `from` form every 2.x control plane accepts. The source service name
// ends up in the proxies' RBAC rules, which is what makes the change observable in the
// received listeners.
func MeshTrafficPermission(mesh, name, service, fromService string) Policy {
	subset := func(svc string) map[string]any {
		return map[string]any{"kind": "MeshSubset", "tags": map[string]string{ServiceTag: svc}}
	}
	return Policy{Type: "MeshTrafficPermission", Mesh: mesh, Name: name, Spec: map[string]any{
		"targetRef": subset(service),
		"from":      []any{map[string]any{"targetRef": subset(fromService), "default": map[string]any{"action": "Allow"}}},
	}}
}

// ZoneIngress is a ZoneIngress in Kuma's legacy REST shape: other zones reach this zone's
// services at its advertised address and port.
type ZoneIngress struct {
	Type       string                `json:"type"`
	Name       string                `json:"name"`
	Networking ZoneIngressNetworking `json:"networking"`
	// AvailableServices are computed by the zone control plane (read only).
	AvailableServices []AvailableService `json:"availableServices,omitempty"`
}

// AvailableService is a service a zone ingress offers other zones.
type AvailableService struct {
	Mesh      string            `json:"mesh"`
	Tags      map[string]string `json:"tags"`
	Instances uint32            `json:"instances"`
}

// ZoneIngressNetworking is a zone ingress's networking section.
type ZoneIngressNetworking struct {
	Address           string `json:"address"`
	Port              uint32 `json:"port"`
	AdvertisedAddress string `json:"advertisedAddress"`
	AdvertisedPort    uint32 `json:"advertisedPort"`
}
