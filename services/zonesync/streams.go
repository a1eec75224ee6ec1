// Package zonesync replicates the event log between a global control plane and its zones with
// JetStream itself, in place of Kuma's KDS: zones join the global's NATS server as leafnodes
// (TLS, one token-authenticated link per zone, allowed only the subjects of its own
// replication), and each side mirrors the other's streams across JetStream domains.
//
//	global domain "global":  JETMESH_GLOBAL (meshes, policies, zones; written here)
//	                         JETMESH_ZONE_<z> (mirror of zone z's log: its dataplanes, ...)
//	                         JETMESH_ZONE_PROXIES (sourced: every zone's ingresses/egresses)
//	zone domain "<z>":       JETMESH_ZONE_<z> (written here)
//	                         JETMESH_GLOBAL, JETMESH_ZONE_PROXIES (mirrors of the global's)
//
// A mirror keeps the origin's sequence numbers, so "how far behind is this replica" is a
// subtraction, and a replicated event is applied exactly once by the read model's per-stream
// sequence. Optimistic concurrency holds where a resource is written: at its origin.
package zonesync

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/services/natsd"
)

// Stream names and the global's JetStream domain.
const (
	GlobalDomain  = "global"
	GlobalStream  = "JETMESH_GLOBAL"
	ProxiesStream = "JETMESH_ZONE_PROXIES"
)

// ZoneStream is the stream holding a zone's resources, in the zone's domain and (mirrored)
// in the global's.
func ZoneStream(zone string) string { return "JETMESH_ZONE_" + events.EncodeToken(zone) }

// zoneName is what a federated zone may be called: a DNS label, because it becomes a
// JetStream domain, a NATS subject token and the suffix of its resources' names on the global.
var zoneName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateZoneName reports why a name cannot be a federated zone's.
func ValidateZoneName(name string) error {
	if name == GlobalDomain || !zoneName.MatchString(name) {
		return fmt.Errorf("zone name %q: must be a DNS label (lower-case letters, digits and '-', at most 63) and not %q",
			name, GlobalDomain)
	}
	return nil
}

// linkPrefix is the subject space of one zone's replication traffic.
func linkPrefix(zone string) string { return "jm.link." + zone }

// Grant is what a zone's leafnode link may carry: the consumer requests of its mirrors of the
// two global streams a zone replicates (create, info, delete; no other stream of the global,
// so not another zone's log), requests from the global into the zone's own domain, the
// replies and flow control of both, and deliveries under the zone's own link prefix. No event
// subject (jm.global.>, jm.zone.>) is in it, so the link cannot write into any stream of the
// global, and it is disjoint from every other zone's link.
func Grant(zone string) natsd.LeafGrant {
	subjects := []string{
		"$JS." + zone + ".API.>",
		"$JSC.R.>",
		"$JS.FC.>",
		"$JS.ACK.>",
		linkPrefix(zone) + ".>",
		"_INBOX.>",
	}
	for _, stream := range []string{GlobalStream, ProxiesStream} {
		api := "$JS." + GlobalDomain + ".API.CONSUMER."
		subjects = append(subjects, api+"CREATE."+stream, api+"CREATE."+stream+".>",
			api+"INFO."+stream+".>", api+"DELETE."+stream+".>")
	}
	return natsd.LeafGrant{Subjects: subjects}
}

// globalMirror is the config of a zone's mirror of one of the global's streams.
func globalMirror(zone, stream string) jsstore.Config {
	cfg := jsstore.DefaultConfig()
	cfg.Stream = stream
	cfg.Mirror = &jetstream.StreamSource{Name: stream, External: &jetstream.ExternalStream{
		APIPrefix: "$JS." + GlobalDomain + ".API", DeliverPrefix: linkPrefix(zone) + ".down",
	}}
	return cfg
}

// zoneMirror is the config of the global's mirror of a zone's log.
func zoneMirror(zone string) jsstore.Config {
	cfg := jsstore.DefaultConfig()
	cfg.Stream = ZoneStream(zone)
	cfg.Mirror = &jetstream.StreamSource{Name: ZoneStream(zone), External: &jetstream.ExternalStream{
		APIPrefix: "$JS." + zone + ".API", DeliverPrefix: linkPrefix(zone) + ".up",
	}}
	return cfg
}

// proxyTypes are the zone resources every other zone needs: the entry points of cross-zone
// traffic.
var proxyTypes = []string{"ZoneIngress", "ZoneEgress"}

// proxiesConfig is the global's aggregate of every zone's ingresses and egresses, sourced
// from its mirrors of the zones' logs.
func proxiesConfig(zones []string) jsstore.Config {
	cfg := jsstore.DefaultConfig()
	cfg.Stream = ProxiesStream
	zones = slices.Compact(slices.Sorted(slices.Values(zones)))
	for _, z := range zones {
		for _, typ := range proxyTypes {
			cfg.Sources = append(cfg.Sources, &jetstream.StreamSource{
				Name: ZoneStream(z), FilterSubject: events.TypeWildcard(events.ZoneScope(z), typ),
			})
		}
	}
	// The stream must exist before any zone does (zones mirror it), and a stream needs a
	// subject or a source: this subject is never published to.
	cfg.Subjects = []string{"jm.none.proxies"}
	return cfg
}
