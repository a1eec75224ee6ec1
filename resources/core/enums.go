package core

// Protobuf enums of the core types. The zero value of each Go type is the proto default (the
// first enum value), stored as "" so that, like jsonpb, we never print it; String names it.

// CAMode is CertificateAuthorityBackend.Mode.
type CAMode string

// CAMode values.
const (
	CAModeStrict     CAMode = ""
	CAModePermissive CAMode = "PERMISSIVE"
)

var caModeNames = []string{"STRICT", "PERMISSIVE"}

// UnmarshalJSON implements json.Unmarshaler.
func (m *CAMode) UnmarshalJSON(b []byte) error {
	s, err := decodeEnum(b, caModeNames, "kuma.mesh.v1alpha1.CertificateAuthorityBackend.Mode")
	*m = CAMode(s)
	return err
}

func (m CAMode) String() string { return enumName(string(m), caModeNames) }

// MeshServicesMode is Mesh.MeshServices.Mode.
type MeshServicesMode string

// MeshServicesMode values.
const (
	MeshServicesDisabled          MeshServicesMode = ""
	MeshServicesEverywhere        MeshServicesMode = "Everywhere"
	MeshServicesReachableBackends MeshServicesMode = "ReachableBackends"
	MeshServicesExclusive         MeshServicesMode = "Exclusive"
)

var meshServicesModeNames = []string{"Disabled", "Everywhere", "ReachableBackends", "Exclusive"}

// UnmarshalJSON implements json.Unmarshaler.
func (m *MeshServicesMode) UnmarshalJSON(b []byte) error {
	s, err := decodeEnum(b, meshServicesModeNames, "kuma.mesh.v1alpha1.Mesh.MeshServices.Mode")
	*m = MeshServicesMode(s)
	return err
}

func (m MeshServicesMode) String() string { return enumName(string(m), meshServicesModeNames) }

// InboundState is Dataplane.Networking.Inbound.State.
type InboundState string

// InboundState values.
const (
	InboundReady    InboundState = ""
	InboundNotReady InboundState = "NotReady"
	InboundIgnored  InboundState = "Ignored"
)

var inboundStateNames = []string{"Ready", "NotReady", "Ignored"}

// UnmarshalJSON implements json.Unmarshaler.
func (s *InboundState) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, inboundStateNames, "kuma.mesh.v1alpha1.Dataplane.Networking.Inbound.State")
	*s = InboundState(v)
	return err
}

func (s InboundState) String() string { return enumName(string(s), inboundStateNames) }

// GatewayType is Dataplane.Networking.Gateway.GatewayType.
type GatewayType string

// GatewayType values.
const (
	GatewayDelegated GatewayType = ""
	GatewayBuiltin   GatewayType = "BUILTIN"
)

var gatewayTypeNames = []string{"DELEGATED", "BUILTIN"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *GatewayType) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, gatewayTypeNames, "kuma.mesh.v1alpha1.Dataplane.Networking.Gateway.GatewayType")
	*t = GatewayType(v)
	return err
}

func (t GatewayType) String() string { return enumName(string(t), gatewayTypeNames) }

// IPFamilyMode is Dataplane.Networking.TransparentProxying.IpFamilyMode.
type IPFamilyMode string

// IPFamilyMode values.
const (
	IPFamilyUnspecified IPFamilyMode = ""
	IPFamilyDualStack   IPFamilyMode = "DualStack"
	IPFamilyIPv4        IPFamilyMode = "IPv4"
	IPFamilyIPv6        IPFamilyMode = "IPv6"
)

var ipFamilyModeNames = []string{"UnSpecified", "DualStack", "IPv4", "IPv6"}

// UnmarshalJSON implements json.Unmarshaler.
func (m *IPFamilyMode) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, ipFamilyModeNames, "kuma.mesh.v1alpha1.Dataplane.Networking.TransparentProxying.IpFamilyMode")
	*m = IPFamilyMode(v)
	return err
}

func (m IPFamilyMode) String() string { return enumName(string(m), ipFamilyModeNames) }

// ListenerType is Dataplane.Networking.Listener.Type.
type ListenerType string

// ListenerType values.
const (
	ListenerUnspecified ListenerType = ""
	ListenerZoneIngress ListenerType = "ZoneIngress"
	ListenerZoneEgress  ListenerType = "ZoneEgress"
)

var listenerTypeNames = []string{"Unspecified", "ZoneIngress", "ZoneEgress"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *ListenerType) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, listenerTypeNames, "kuma.mesh.v1alpha1.Dataplane.Networking.Listener.Type")
	*t = ListenerType(v)
	return err
}

func (t ListenerType) String() string { return enumName(string(t), listenerTypeNames) }

// ListenerState is Dataplane.Networking.Listener.State.
type ListenerState string

// ListenerState values.
const (
	ListenerReady    ListenerState = ""
	ListenerNotReady ListenerState = "NotReady"
)

var listenerStateNames = []string{"Ready", "NotReady"}

// UnmarshalJSON implements json.Unmarshaler.
func (s *ListenerState) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, listenerStateNames, "kuma.mesh.v1alpha1.Dataplane.Networking.Listener.State")
	*s = ListenerState(v)
	return err
}

func (s ListenerState) String() string { return enumName(string(s), listenerStateNames) }
