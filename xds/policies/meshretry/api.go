// Package meshretry is the MeshRetry policy: how a proxy retries failed requests and
// connections to the destinations of its outbounds. api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshretry/api/v1alpha1), validate.go its validation, configurer.go
// what it does to Envoy resources.
package meshretry

import (
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshRetry",
	WsPath:       "meshretries",
	SingularName: "meshretry",
	PluralName:   "meshretries",
	ShortName:    "mr",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	PolicyRefs:   resources.PolicyRefs{To: true},
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshRetry.
type Spec struct {
	// TargetRef selects the proxies whose outbound traffic retries; absent means the mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	To        *[]To                `json:"to,omitempty"`
}

// To is one group of destinations and the retry policy towards them.
type To = rules.Item[Conf]

// Conf holds one retry policy per protocol; the outbound's protocol picks one.
type Conf struct {
	TCP  *TCP  `json:"tcp,omitempty"`
	HTTP *HTTP `json:"http,omitempty"`
	GRPC *GRPC `json:"grpc,omitempty"`
}

// TCP retries connection attempts.
type TCP struct {
	// MaxConnectAttempt is how many times a connection is attempted (at least 1).
	MaxConnectAttempt *uint32 `json:"maxConnectAttempt,omitempty"`
}

// HTTPRetryOn is a condition under which an HTTP request is retried: one of the named
// conditions, an HTTP status code ("503") or an HTTP method ("HttpMethodGet").
type HTTPRetryOn string

// HTTP retry conditions, and the Envoy retry_on value of each.
var httpRetryOn = map[HTTPRetryOn]string{
	"5xx": "5xx", "GatewayError": "gateway-error", "Reset": "reset", "Retriable4xx": "retriable-4xx",
	"ConnectFailure": "connect-failure", "EnvoyRatelimited": "envoy-ratelimited", "RefusedStream": "refused-stream",
	"Http3PostConnectFailure": "http3-post-connect-failure",
}

// httpMethodPrefix starts the conditions that make a request method retriable.
const httpMethodPrefix = "HttpMethod"

var httpMethods = map[HTTPRetryOn]string{
	"HttpMethodConnect": "CONNECT", "HttpMethodDelete": "DELETE", "HttpMethodGet": "GET", "HttpMethodHead": "HEAD",
	"HttpMethodOptions": "OPTIONS", "HttpMethodPatch": "PATCH", "HttpMethodPost": "POST", "HttpMethodPut": "PUT",
	"HttpMethodTrace": "TRACE",
}

// HTTP is the retry policy of http outbounds.
type HTTP struct {
	// NumRetries is the number of retries (0 disables retrying).
	NumRetries *uint32 `json:"numRetries,omitempty"`
	// PerTryTimeout bounds each attempt.
	PerTryTimeout *targetref.Duration `json:"perTryTimeout,omitempty"`
	// BackOff spaces retries (exponential with jitter).
	BackOff *BackOff `json:"backOff,omitempty"`
	// RateLimitedBackOff spaces retries by what rate limiting response headers say.
	RateLimitedBackOff *RateLimitedBackOff `json:"rateLimitedBackOff,omitempty"`
	// RetryOn lists the conditions that trigger a retry.
	RetryOn *[]HTTPRetryOn `json:"retryOn,omitempty"`
	// RetriableResponseHeaders make responses with these headers retriable.
	RetriableResponseHeaders *[]targetref.HeaderMatch `json:"retriableResponseHeaders,omitempty"`
	// RetriableRequestHeaders limit retries to requests with these headers.
	RetriableRequestHeaders *[]targetref.HeaderMatch `json:"retriableRequestHeaders,omitempty"`
	// HostSelection picks hosts for retries.
	HostSelection *[]Predicate `json:"hostSelection,omitempty"`
	// HostSelectionMaxAttempts bounds the attempts to pick a host.
	HostSelectionMaxAttempts *int64 `json:"hostSelectionMaxAttempts,omitempty"`
}

// GRPCRetryOn is a gRPC status under which a call is retried.
type GRPCRetryOn string

// gRPC retry conditions in the order of Kuma's schema enum, and their Envoy values.
var (
	grpcRetryOnOrder = []GRPCRetryOn{"Canceled", "DeadlineExceeded", "Internal", "ResourceExhausted", "Unavailable"}
	// Kuma maps Canceled to "canceled", a value Envoy and grpc-go do not know (they spell it
	// "cancelled", as Kuma's own default does); we send the spelling that works.
	grpcRetryOn = map[GRPCRetryOn]string{"Canceled": "cancelled", "DeadlineExceeded": "deadline-exceeded",
		"Internal": "internal", "ResourceExhausted": "resource-exhausted", "Unavailable": "unavailable"}
)

// GRPC is the retry policy of grpc outbounds.
type GRPC struct {
	NumRetries         *uint32             `json:"numRetries,omitempty"`
	PerTryTimeout      *targetref.Duration `json:"perTryTimeout,omitempty"`
	BackOff            *BackOff            `json:"backOff,omitempty"`
	RateLimitedBackOff *RateLimitedBackOff `json:"rateLimitedBackOff,omitempty"`
	RetryOn            *[]GRPCRetryOn      `json:"retryOn,omitempty"`
}

// BackOff is an exponential back-off between retries.
type BackOff struct {
	BaseInterval *targetref.Duration `json:"baseInterval,omitempty"`
	MaxInterval  *targetref.Duration `json:"maxInterval,omitempty"`
}

// RateLimitedBackOff takes the back-off from response headers.
type RateLimitedBackOff struct {
	ResetHeaders *[]ResetHeader      `json:"resetHeaders,omitempty"`
	MaxInterval  *targetref.Duration `json:"maxInterval,omitempty"`
}

// PredicateType is a host selection predicate.
type PredicateType string

// Host selection predicates.
const (
	OmitPreviousHosts      PredicateType = "OmitPreviousHosts"
	OmitHostsWithTags      PredicateType = "OmitHostsWithTags"
	OmitPreviousPriorities PredicateType = "OmitPreviousPriorities"
)

// Predicate is one host selection predicate.
type Predicate struct {
	PredicateType   PredicateType      `json:"predicate"`
	Tags            *map[string]string `json:"tags,omitempty"`
	UpdateFrequency int32              `json:"updateFrequency"`
}

// RateLimitFormat is how a reset header carries its interval.
type RateLimitFormat string

// Reset header formats.
const (
	Seconds       RateLimitFormat = "Seconds"
	UnixTimestamp RateLimitFormat = "UnixTimestamp"
)

// ResetHeader names a response header holding the time to wait before retrying.
type ResetHeader struct {
	Name   targetref.HeaderName `json:"name"`
	Format RateLimitFormat      `json:"format"`
}

// GetTo returns the to items or nil.
func (s *Spec) GetTo() []To {
	if s.To == nil {
		return nil
	}
	return *s.To
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshRetry.
func (s *Spec) Warnings() []string { return targetref.TopLevelDeprecations(s.TargetRef) }

// Policy converts a stored MeshRetry for the rules framework.
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	p := rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef}
	p.To = s.GetTo()
	return p
}
