package vips

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
)

// ErrExhausted means the CIDR has no free address left for a new hostname.
var ErrExhausted = errors.New("no free virtual IP left in the CIDR")

// Want is what a mesh's table should hold: every hostname with its outbounds (no address).
type Want map[Entry][]Outbound

// Allocate returns the tables of every mesh in want, given the tables as they are (prev):
// a hostname that keeps existing keeps its address, whatever else changes; a hostname no
// longer wanted releases its address; a new hostname gets the lowest free address of cidr
// (from the first, as Kuma's: 240.0.0.0 is a service's address), taken in (mesh, hostname) order so the result is a pure
// function of its inputs. Addresses are unique across meshes, as Kuma's are. An address of
// prev outside cidr (the CIDR was changed) is reallocated. New hostnames that find no free
// address are left out and reported with ErrExhausted; the rest is still allocated.
func Allocate(cidr netip.Prefix, prev map[string]Table, want map[string]Want) (map[string]Table, error) {
	cidr = cidr.Masked()
	used := map[netip.Addr]bool{}
	next := make(map[string]Table, len(want))
	type pending struct {
		mesh  string
		entry Entry
	}
	var todo []pending
	for _, mesh := range slices.Sorted(maps.Keys(want)) {
		t := Table{}
		next[mesh] = t
		for _, e := range slices.SortedFunc(maps.Keys(want[mesh]), Entry.compare) {
			old, had := prev[mesh][e]
			addr, err := netip.ParseAddr(old.Address)
			if had && err == nil && cidr.Contains(addr) && !used[addr] {
				used[addr] = true
				t[e] = VirtualOutbound{Address: old.Address, Outbounds: want[mesh][e]}
				continue
			}
			todo = append(todo, pending{mesh, e})
		}
	}
	var missing []string
	cursor := cidr.Addr()
	for _, p := range todo {
		for cursor.IsValid() && cidr.Contains(cursor) && used[cursor] {
			cursor = cursor.Next()
		}
		if !cursor.IsValid() || !cidr.Contains(cursor) {
			missing = append(missing, p.mesh+"/"+p.entry.Name)
			continue
		}
		used[cursor] = true
		next[p.mesh][p.entry] = VirtualOutbound{Address: cursor.String(), Outbounds: want[p.mesh][p.entry]}
	}
	if len(missing) > 0 {
		return next, fmt.Errorf("%w %s: %s", ErrExhausted, cidr, strings.Join(missing, ", "))
	}
	return next, nil
}

// Equal reports whether two tables hold the same hostnames, addresses and outbounds.
func Equal(a, b Table) bool {
	if len(a) != len(b) {
		return false
	}
	for e, va := range a {
		vb, ok := b[e]
		if !ok || va.Address != vb.Address || !reflect.DeepEqual(normalize(va.Outbounds), normalize(vb.Outbounds)) {
			return false
		}
	}
	return true
}

// normalize makes outbound lists comparable (nil and empty tag sets are equal).
func normalize(obs []Outbound) []Outbound {
	out := make([]Outbound, 0, len(obs))
	for _, o := range obs {
		if len(o.TagSet) == 0 {
			o.TagSet = nil
		}
		out = append(out, o)
	}
	return out
}
