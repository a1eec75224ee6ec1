package resources

import (
	"fmt"
	"sort"
)

// Registry holds the descriptors a control plane serves.
type Registry struct {
	byName map[string]*Descriptor
	byPath map[string]*Descriptor
	byArg  map[string]*Descriptor
	all    []*Descriptor
}

// NewRegistry builds a registry; it fails on an incomplete descriptor or a duplicate name.
func NewRegistry(descs ...*Descriptor) (*Registry, error) {
	r := &Registry{
		byName: map[string]*Descriptor{},
		byPath: map[string]*Descriptor{},
		byArg:  map[string]*Descriptor{},
	}
	for _, d := range descs {
		if err := d.Validate(); err != nil {
			return nil, err
		}
		if _, dup := r.byName[d.Name]; dup {
			return nil, fmt.Errorf("descriptor %q registered twice", d.Name)
		}
		if _, dup := r.byPath[d.WsPath]; dup && d.WsPath != "" {
			return nil, fmt.Errorf("descriptor %q: path %q registered twice", d.Name, d.WsPath)
		}
		r.byName[d.Name] = d
		if d.WsPath != "" { // internal types without a REST path (Config)
			r.byPath[d.WsPath] = d
		}
		for _, a := range []string{d.SingularName, d.PluralName, d.ShortName} {
			if a != "" {
				r.byArg[a] = d
			}
		}
		r.all = append(r.all, d)
	}
	sort.Slice(r.all, func(i, j int) bool { return r.all[i].Name < r.all[j].Name })
	return r, nil
}

// ByName finds a descriptor by Kuma type name.
func (r *Registry) ByName(name string) (*Descriptor, bool) {
	d, ok := r.byName[name]
	return d, ok
}

// ByPath finds a descriptor by REST collection path.
func (r *Registry) ByPath(path string) (*Descriptor, bool) {
	d, ok := r.byPath[path]
	return d, ok
}

// ByArg finds a descriptor by a kumactl-style argument (singular, plural or short name).
func (r *Registry) ByArg(arg string) (*Descriptor, bool) {
	d, ok := r.byArg[arg]
	return d, ok
}

// All returns every descriptor sorted by name.
func (r *Registry) All() []*Descriptor { return r.all }
