package dnsproxy

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/jetmesh/jetmesh/xds/dpapi"
)

// Path is where the control plane serves the DNS table on the dynamic-configuration
// socket (Kuma 2.14's pkg/dns/dpapi PATH).
const Path = dpapi.DNSPath

// Record is one name of the table and the virtual IPs it resolves to.
type Record = dpapi.DNSRecord

// Table is the JSON document the control plane serves at Path (Kuma's dpapi.DNSProxyConfig).
type Table = dpapi.DNSTable

// entry is what a name resolves to; answers are built per query so they carry the name
// exactly as the client spelled it (resolvers using 0x20 case randomisation check that).
type entry struct {
	v4, v6 []netip.Addr
}

// table maps lower-case fully qualified names to entries.
type table struct {
	names map[string]*entry
	ttl   uint32
}

// parseTable decodes the control plane's JSON. Invalid addresses are logged and skipped
// rather than failing the whole table: one bad record must not take every name down.
func parseTable(r io.Reader, log *slog.Logger) (*table, error) {
	var doc Table
	dec := json.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode the DNS table: %w", err)
	}
	t := &table{names: make(map[string]*entry, len(doc.Records)), ttl: uint32(max(doc.TTL, 0))} // #nosec G115 -- clamped to >= 0
	for _, rec := range doc.Records {
		if rec.Name == "" {
			continue
		}
		name := dns.CanonicalName(rec.Name)
		e := t.names[name]
		if e == nil {
			// A name with no usable address still exists: it answers NODATA, not NXDOMAIN.
			e = &entry{}
			t.names[name] = e
		}
		for _, s := range rec.IPs {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				log.Warn("skipping an invalid address in the DNS table", "name", rec.Name, "ip", s)
				continue
			}
			// Decided by family, not by spelling: "::ffff:240.0.0.1" is an IPv6 address the
			// control plane put there for AAAA queries.
			if ip.Is4() {
				e.v4 = append(e.v4, ip)
			} else {
				e.v6 = append(e.v6, ip)
			}
		}
	}
	return t, nil
}

// answers builds the answer section for a question about a name in the table.
func (e *entry) answers(q dns.Question, ttl uint32) []dns.RR {
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	var out []dns.RR
	switch q.Qtype {
	case dns.TypeA:
		for _, ip := range e.v4 {
			out = append(out, &dns.A{Hdr: hdr(dns.TypeA), A: ip.AsSlice()})
		}
	case dns.TypeAAAA:
		for _, ip := range e.v6 {
			out = append(out, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip.AsSlice()})
		}
	}
	return out
}

// underDomain reports whether the canonical name is domain itself or below it.
func underDomain(name, domain string) (below, apex bool) {
	if domain == "" {
		return false, false
	}
	if name == domain {
		return false, true
	}
	return strings.HasSuffix(name, "."+domain), false
}
