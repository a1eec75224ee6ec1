// Package vips allocates the virtual IPs that transparent proxying gives every service of a
// mesh (Kuma's "<service>.mesh" names), and keeps them as state in the log: one Config
// resource per mesh, kuma-<mesh>-dns-vips, holding Kuma's serialized table. The global CP (or
// a standalone one) allocates, so every zone receives the same addresses with the global's
// log, and a restart reads them back instead of reallocating.
package vips

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Kuma's Config name for a mesh's table: kuma-<mesh>-dns-vips.
const (
	configPrefix = "kuma-"
	configSuffix = "-dns-vips"
)

// ConfigName is the name of the Config holding mesh's table.
func ConfigName(mesh string) string { return configPrefix + mesh + configSuffix }

// MeshOf returns the mesh whose table a Config of this name holds.
func MeshOf(configName string) (string, bool) {
	if !strings.HasPrefix(configName, configPrefix) || !strings.HasSuffix(configName, configSuffix) ||
		len(configName) <= len(configPrefix)+len(configSuffix) {
		return "", false
	}
	return configName[len(configPrefix) : len(configName)-len(configSuffix)], true
}

// EntryType says where a hostname comes from, with Kuma's numbering (it is serialized).
type EntryType int

// Entry types.
const (
	Service EntryType = iota // a kuma.io/service value: "<service>.<domain>"
	Host                     // an external service's host
	FQDN                     // a name a VirtualOutbound generates
)

// Entry is one hostname the table gives an address to (Kuma's HostnameEntry).
type Entry struct {
	Type EntryType
	Name string
}

// MarshalText writes Kuma's "<type>:<name>" map key.
func (e Entry) MarshalText() ([]byte, error) {
	return []byte(strconv.Itoa(int(e.Type)) + ":" + e.Name), nil
}

// UnmarshalText reads Kuma's "<type>:<name>" map key.
func (e *Entry) UnmarshalText(b []byte) error {
	t, name, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(t)
	if !ok || err != nil || n < int(Service) || n > int(FQDN) || name == "" {
		return fmt.Errorf("hostname entry %q: want <type>:<name>", b)
	}
	e.Type, e.Name = EntryType(n), name
	return nil
}

func (e Entry) compare(o Entry) int {
	if e.Type != o.Type {
		return int(e.Type) - int(o.Type)
	}
	return strings.Compare(e.Name, o.Name)
}

// Outbound is one port and tag set a hostname leads to (Kuma's OutboundEntry; its JSON has
// Go's field names, as Kuma's does). Port 0 means the table's default VIP port.
type Outbound struct {
	Port   uint32
	TagSet map[string]string
	Origin string
}

// VirtualOutbound is a hostname's address and outbounds.
type VirtualOutbound struct {
	Address   string     `json:"address,omitempty"`
	Outbounds []Outbound `json:"outbounds,omitempty"`
}

// Table is one mesh's virtual outbounds by hostname.
type Table map[Entry]VirtualOutbound

// Decode reads a table from a Config's document.
func Decode(doc string) (Table, error) {
	t := Table{}
	if strings.TrimSpace(doc) == "" {
		return t, nil
	}
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return nil, fmt.Errorf("decode virtual IPs: %w", err)
	}
	return t, nil
}

// Encode writes the table as a Config's document; equal tables encode to equal documents.
func (t Table) Encode() (string, error) {
	b, err := json.Marshal(t) // encoding/json sorts map keys
	return string(b), err
}

// Entries returns the table's hostnames in a stable order.
func (t Table) Entries() []Entry {
	return slices.SortedFunc(maps.Keys(t), Entry.compare)
}

// Name is one DNS name and the address it resolves to.
type Name struct {
	Name    string
	Address string
}

// Names returns the DNS names of the table: a service entry answers to
// "<service>.<domain>" and, when the service has underscores, to the RFC 1123 form with dots
// in their place ("echo-server_echo-example_svc_1010" -> "echo-server.echo-example.svc.1010");
// host and FQDN entries answer to their own name. Sorted by name.
func (t Table) Names(domain string) []Name {
	var out []Name
	for _, e := range t.Entries() {
		vo := t[e]
		if vo.Address == "" {
			continue
		}
		for _, n := range entryNames(e, domain) {
			out = append(out, Name{Name: n, Address: vo.Address})
		}
	}
	slices.SortFunc(out, func(a, b Name) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func entryNames(e Entry, domain string) []string {
	if e.Type != Service {
		return []string{e.Name}
	}
	names := []string{e.Name + "." + domain}
	if dotted := strings.ReplaceAll(e.Name, "_", ".") + "." + domain; dotted != names[0] {
		names = append(names, dotted)
	}
	return names
}

// VIPOutbound is an outbound listener a transparent proxy gets for a virtual IP.
type VIPOutbound struct {
	Address string
	Port    uint32
	Tags    map[string]string
}

// Outbounds returns the outbounds the table gives a transparent proxy, as Kuma builds them:
// every service entry on its address at port (the default VIP port, 80) and at its own port
// when it has one; host and FQDN entries on each of their ports. Sorted by address and port.
func (t Table) Outbounds(port uint32) []VIPOutbound {
	var out []VIPOutbound
	seen := map[string]bool{}
	add := func(addr string, p uint32, tags map[string]string) {
		k := addr + ":" + strconv.FormatUint(uint64(p), 10)
		if p == 0 || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, VIPOutbound{Address: addr, Port: p, Tags: tags})
	}
	for _, e := range t.Entries() {
		vo := t[e]
		if vo.Address == "" || len(vo.Outbounds) == 0 {
			continue
		}
		for _, ob := range vo.Outbounds {
			add(vo.Address, ob.Port, ob.TagSet)
		}
		if e.Type == Service || e.Type == Host {
			add(vo.Address, port, vo.Outbounds[0].TagSet)
		}
	}
	slices.SortFunc(out, func(a, b VIPOutbound) int {
		if c := strings.Compare(a.Address, b.Address); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}
