package core

import "github.com/jetmesh/jetmesh/resources"

// Insights are written by the control plane (Descriptor.Internal), never by users. Their JSON
// is jsonpb's: uint64 counters are quoted strings, timestamps have 0/3/6/9 fractional digits.

// DataplaneInsight is the status of a proxy's xDS streams and certificates (also used, without
// MTLS and OpenTelemetry, by ZoneIngressInsight and ZoneEgressInsight).
type DataplaneInsight struct {
	Subscriptions []DiscoverySubscription `json:"subscriptions,omitempty"`
	MTLS          *DataplaneInsightMTLS   `json:"mTLS,omitempty"`
	Metadata      Struct                  `json:"metadata,omitempty"`
	OpenTelemetry *OpenTelemetryInsight   `json:"openTelemetry,omitempty"`
}

// DataplaneInsightMTLS is the state of a proxy's certificate.
type DataplaneInsightMTLS struct {
	CertificateExpirationTime   *Timestamp `json:"certificateExpirationTime,omitempty"`
	LastCertificateRegeneration *Timestamp `json:"lastCertificateRegeneration,omitempty"`
	CertificateRegenerations    uint32     `json:"certificateRegenerations,omitempty"`
	IssuedBackend               string     `json:"issuedBackend,omitempty"`
	SupportedBackends           []string   `json:"supportedBackends,omitempty"`
}

// OpenTelemetryInsight reports the OpenTelemetry backends a proxy exports to.
type OpenTelemetryInsight struct {
	Backends []OpenTelemetryBackend `json:"backends,omitempty"`
}

// OpenTelemetryBackend is one backend and its signals.
type OpenTelemetryBackend struct {
	Name    string               `json:"name,omitempty"`
	Traces  *OpenTelemetrySignal `json:"traces,omitempty"`
	Logs    *OpenTelemetrySignal `json:"logs,omitempty"`
	Metrics *OpenTelemetrySignal `json:"metrics,omitempty"`
}

// OpenTelemetrySignal is the state of one signal.
type OpenTelemetrySignal struct {
	Enabled         bool     `json:"enabled,omitempty"`
	EnvAllowed      bool     `json:"envAllowed,omitempty"`
	EnvInputPresent bool     `json:"envInputPresent,omitempty"`
	State           string   `json:"state,omitempty"`
	OverrideKinds   []string `json:"overrideKinds,omitempty"`
	MissingFields   []string `json:"missingFields,omitempty"`
	BlockedReasons  []string `json:"blockedReasons,omitempty"`
}

// DiscoverySubscription is one xDS stream of a proxy to a control plane instance.
type DiscoverySubscription struct {
	ID                     string                       `json:"id,omitempty"`
	ControlPlaneInstanceID string                       `json:"controlPlaneInstanceId,omitempty"`
	ConnectTime            *Timestamp                   `json:"connectTime,omitempty"`
	DisconnectTime         *Timestamp                   `json:"disconnectTime,omitempty"`
	Status                 *DiscoverySubscriptionStatus `json:"status,omitempty"`
	Version                *DataplaneVersion            `json:"version,omitempty"`
	Generation             uint32                       `json:"generation,omitempty"`
}

// DiscoverySubscriptionStatus counts xDS responses, in total and per type.
type DiscoverySubscriptionStatus struct {
	LastUpdateTime *Timestamp     `json:"lastUpdateTime,omitempty"`
	Total          *ResponseStats `json:"total,omitempty"`
	CDS            *ResponseStats `json:"cds,omitempty"`
	EDS            *ResponseStats `json:"eds,omitempty"`
	LDS            *ResponseStats `json:"lds,omitempty"`
	RDS            *ResponseStats `json:"rds,omitempty"`
}

// ResponseStats counts responses sent, acknowledged and rejected (DiscoveryServiceStats and
// KDSServiceStats have the same shape).
type ResponseStats struct {
	ResponsesSent         Uint64 `json:"responsesSent,omitempty"`
	ResponsesAcknowledged Uint64 `json:"responsesAcknowledged,omitempty"`
	ResponsesRejected     Uint64 `json:"responsesRejected,omitempty"`
}

// DataplaneVersion is what kuma-dp reports about itself, Envoy and other dependencies.
type DataplaneVersion struct {
	KumaDp       *KumaDpVersion    `json:"kumaDp,omitempty"`
	Envoy        *EnvoyVersion     `json:"envoy,omitempty"`
	Dependencies map[string]string `json:"dependencies,omitempty"`
}

// KumaDpVersion is kuma-dp's build.
type KumaDpVersion struct {
	Version          string `json:"version,omitempty"`
	GitTag           string `json:"gitTag,omitempty"`
	GitCommit        string `json:"gitCommit,omitempty"`
	BuildDate        string `json:"buildDate,omitempty"`
	KumaCpCompatible bool   `json:"kumaCpCompatible,omitempty"`
}

// EnvoyVersion is Envoy's build.
type EnvoyVersion struct {
	Version          string `json:"version,omitempty"`
	Build            string `json:"build,omitempty"`
	KumaDpCompatible bool   `json:"kumaDpCompatible,omitempty"`
}

// Validate implements resources.Spec; insights are written by the control plane only.
func (d *DataplaneInsight) Validate() resources.ValidationError { return resources.ValidationError{} }

// ZoneIngressInsight is the status of a zone ingress's xDS streams.
type ZoneIngressInsight struct {
	Subscriptions []DiscoverySubscription `json:"subscriptions,omitempty"`
	Metadata      Struct                  `json:"metadata,omitempty"`
}

// Validate implements resources.Spec.
func (z *ZoneIngressInsight) Validate() resources.ValidationError { return resources.ValidationError{} }

// ZoneEgressInsight is the status of a zone egress's xDS streams.
type ZoneEgressInsight struct {
	Subscriptions []DiscoverySubscription `json:"subscriptions,omitempty"`
	Metadata      Struct                  `json:"metadata,omitempty"`
}

// Validate implements resources.Spec.
func (z *ZoneEgressInsight) Validate() resources.ValidationError { return resources.ValidationError{} }

// ZoneInsight is the status of a zone CP's connections to the global CP.
type ZoneInsight struct {
	Subscriptions     []KDSSubscription  `json:"subscriptions,omitempty"`
	EnvoyAdminStreams *EnvoyAdminStreams `json:"envoyAdminStreams,omitempty"`
	HealthCheck       *ZoneHealthCheck   `json:"healthCheck,omitempty"`
	KDSStreams        *KDSStreams        `json:"kdsStreams,omitempty"`
}

// EnvoyAdminStreams names the global instances holding each Envoy-admin stream.
type EnvoyAdminStreams struct {
	ConfigDumpGlobalInstanceID string `json:"configDumpGlobalInstanceId,omitempty"`
	StatsGlobalInstanceID      string `json:"statsGlobalInstanceId,omitempty"`
	ClustersGlobalInstanceID   string `json:"clustersGlobalInstanceId,omitempty"`
}

// ZoneHealthCheck is the last health check the zone sent.
type ZoneHealthCheck struct {
	Time *Timestamp `json:"time,omitempty"`
}

// KDSStreams describes each stream between the zone and the global CP.
type KDSStreams struct {
	Clusters     *KDSStream `json:"clusters,omitempty"`
	ConfigDump   *KDSStream `json:"configDump,omitempty"`
	Stats        *KDSStream `json:"stats,omitempty"`
	GlobalToZone *KDSStream `json:"globalToZone,omitempty"`
	ZoneToGlobal *KDSStream `json:"zoneToGlobal,omitempty"`
}

// KDSStream is one stream and the global instance that holds it.
type KDSStream struct {
	GlobalInstanceID string     `json:"globalInstanceId,omitempty"`
	ConnectTime      *Timestamp `json:"connectTime,omitempty"`
}

// KDSSubscription is one connection of a zone CP to a global CP instance.
type KDSSubscription struct {
	ID                string                 `json:"id,omitempty"`
	GlobalInstanceID  string                 `json:"globalInstanceId,omitempty"`
	ConnectTime       *Timestamp             `json:"connectTime,omitempty"`
	DisconnectTime    *Timestamp             `json:"disconnectTime,omitempty"`
	Status            *KDSSubscriptionStatus `json:"status,omitempty"`
	Version           *ZoneVersion           `json:"version,omitempty"`
	Generation        uint32                 `json:"generation,omitempty"`
	Config            string                 `json:"config,omitempty"`
	AuthTokenProvided bool                   `json:"authTokenProvided,omitempty"`
	ZoneInstanceID    string                 `json:"zoneInstanceId,omitempty"`
}

// KDSSubscriptionStatus counts responses in total and per resource type.
type KDSSubscriptionStatus struct {
	LastUpdateTime *Timestamp               `json:"lastUpdateTime,omitempty"`
	Total          *ResponseStats           `json:"total,omitempty"`
	Stat           map[string]ResponseStats `json:"stat,omitempty"`
}

// ZoneVersion is what a zone CP reports about itself.
type ZoneVersion struct {
	KumaCp *KumaCpVersion `json:"kumaCp,omitempty"`
}

// KumaCpVersion is a control plane's build.
type KumaCpVersion struct {
	Version                string `json:"version,omitempty"`
	GitTag                 string `json:"gitTag,omitempty"`
	GitCommit              string `json:"gitCommit,omitempty"`
	BuildDate              string `json:"buildDate,omitempty"`
	KumaCpGlobalCompatible bool   `json:"kumaCpGlobalCompatible,omitempty"`
}

// Validate implements resources.Spec.
func (z *ZoneInsight) Validate() resources.ValidationError { return resources.ValidationError{} }
