// Package dpapi is the contract between the control plane and the dataplane agent on the
// agent's dynamic-configuration socket (Kuma 2.14's pkg/dns/dpapi and the socket kuma-dp
// polls): where it is, and the documents served on it. Both sides import it, so they cannot
// drift apart; it has no dependencies.
package dpapi

import "path/filepath"

// DNSPath is where the DNS table is served.
const DNSPath = "/dns"

// DNSRecord is one name of the table and the virtual IPs it resolves to: IPv4 addresses for
// A queries, IPv6 ones (often IPv4-mapped, ::ffff:f000:1) for AAAA queries.
type DNSRecord struct {
	Name string   `json:"name"`
	IPs  []string `json:"ips"`
}

// DNSTable is the document served at DNSPath (Kuma's dpapi.DNSProxyConfig).
type DNSTable struct {
	Records     []DNSRecord       `json:"records"`
	TTL         int               `json:"ttl"`
	ExtraLabels map[string]string `json:"extraLabels,omitempty"`
}

// SocketPath is the dynamic-configuration socket in an agent's work directory. Kuma trims
// the path to 98 bytes before ".sock", for unix socket path limits.
func SocketPath(workdir string) string {
	p := filepath.Join(workdir, "kuma-mesh-metric-config")
	return p[:min(len(p), 98)] + ".sock"
}
