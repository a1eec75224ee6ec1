package generate

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
)

// Names of system resources (Kuma's pkg/xds/envoy/names, legacy naming).
const (
	AdminName          = "kuma:envoy:admin"
	ReadinessName      = "kuma:readiness"
	defaultOutboundIP  = "127.0.0.1"
	loopbackIP         = "127.0.0.1"
	kumaTagsHeader     = "x-kuma-tags"
	tagsMetadataKey    = "io.kuma.tags"
	lbMetadataKey      = "envoy.lb"
	tsMatchMetadataKey = "envoy.transport_socket_match"
	// serviceLessPort is Kuma's TCPPortReserved: an inbound on it only marks the proxy as
	// part of the mesh and gets no listener.
	serviceLessPort = 49151
	// defaultRouteName is the name Kuma's MeshHTTPRoute plugin gives the catch-all route:
	// base64(sha256(`[{"path":{"value":"/","type":"PathPrefix"}}]`)), the hash of its matches.
	defaultRouteName = "9Zuf5Tg79OuZcQITwBbQykxAk2u4fRKrwYn3//AL4Yo="
)

// InboundListenerName is "inbound:<address>:<port>".
func InboundListenerName(address string, port uint32) string {
	return "inbound:" + address + ":" + strconv.FormatUint(uint64(port), 10)
}

// LocalClusterName is "localhost:<servicePort>", the cluster pointing at the workload. Two
// inbounds with the same service port share it, as in Kuma.
func LocalClusterName(servicePort uint32) string {
	return "localhost:" + strconv.FormatUint(uint64(servicePort), 10)
}

// InboundRouteName is "inbound:<service>".
func InboundRouteName(service string) string { return "inbound:" + service }

// OutboundListenerName is "outbound:<address>:<port>".
func OutboundListenerName(address string, port uint32) string {
	return "outbound:" + address + ":" + strconv.FormatUint(uint64(port), 10)
}

// OutboundRouteName is "outbound:<service>".
func OutboundRouteName(service string) string { return "outbound:" + service }

// ClusterName names the cluster (and ClusterLoadAssignment) of an outbound: its
// kuma.io/service when that is its only tag, else "<service>-<16 hex digits>" where the hex is
// the start of sha256 over the sorted key/value pairs (Kuma's DestinationClusterName), so the
// names match Kuma's for the same tags.
func ClusterName(tags map[string]string) string {
	service := tags[resources.TagService]
	if len(tags) <= 1 {
		return service
	}
	h := sha256.New()
	for _, k := range sortedKeys(tags) {
		h.Write([]byte(k))
		h.Write([]byte(tags[k]))
	}
	return fmt.Sprintf("%s-%x", service, h.Sum(nil)[:8])
}

// ServiceSpiffeID is the SPIFFE ID Kuma's builtin CA puts in a service's certificates.
func ServiceSpiffeID(mesh, service string) string { return "spiffe://" + mesh + "/" + service }

// kumaID is the URI SAN Kuma's builtin CA adds for every other tag of a dataplane.
func kumaID(key, value string) string { return "kuma://" + key + "/" + value }

// SanitizeMetric makes a name usable in Envoy stats names, as Kuma's SanitizeMetric does: every
// character outside [a-zA-Z0-9_-] becomes '_'.
func SanitizeMetric(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		default:
			return '_'
		}
	}, name)
}

// altStatName is Kuma's AltStatNameConfigurer: set only when sanitizing changes the name.
func altStatName(name string) string {
	if s := SanitizeMetric(name); s != name {
		return s
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
