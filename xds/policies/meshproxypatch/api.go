// Package meshproxypatch is the MeshProxyPatch policy, the escape hatch: modifications of the
// Envoy resources generated for a proxy (clusters, listeners, network filters, HTTP filters,
// virtual hosts), applied after every other policy. api.go is its API (Kuma 2.14's
// pkg/plugins/policies/meshproxypatch/api/v1alpha1), validate.go its validation, jsonpatch.go
// RFC 6902 patches, modify.go the modifications.
package meshproxypatch

import (
	"encoding/json"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
	"github.com/jetmesh/jetmesh/xds/policies/rules"
)

// Descriptor registers the type (see xds/policies.Descriptors).
var Descriptor = &resources.Descriptor{
	Name:         "MeshProxyPatch",
	WsPath:       "meshproxypatches",
	SingularName: "meshproxypatch",
	PluralName:   "meshproxypatches",
	ShortName:    "mpp",
	Scope:        resources.ScopeMesh,
	Plugin:       true,
	Policy:       true,
	TargetRef:    true,
	KDSFlags: resources.ConsumedByZone | resources.ConsumedByGlobal | resources.ProvidedByZone |
		resources.ProvidedByGlobal | resources.SyncedAcrossZones,
	NewSpec: func() resources.Spec { return &Spec{} },
}

// Spec is the spec of a MeshProxyPatch.
type Spec struct {
	// TargetRef selects the proxies the policy modifies; absent means the whole mesh.
	TargetRef *targetref.TargetRef `json:"targetRef,omitempty"`
	Default   Conf                 `json:"default"`
}

// Conf lists modifications. The list's JSON name starts with "append": policies that select
// a proxy concatenate their lists (least specific first) instead of replacing them.
type Conf struct {
	AppendModifications *[]Modification `json:"appendModifications,omitempty"`
}

// Modification changes one kind of resource; exactly one field is set.
type Modification struct {
	Cluster       *ClusterMod       `json:"cluster,omitempty"`
	Listener      *ListenerMod      `json:"listener,omitempty"`
	NetworkFilter *NetworkFilterMod `json:"networkFilter,omitempty"`
	HTTPFilter    *HTTPFilterMod    `json:"httpFilter,omitempty"`
	VirtualHost   *VirtualHostMod   `json:"virtualHost,omitempty"`
}

// Operation is what a modification does.
type Operation string

// Operations. Clusters, listeners and virtual hosts take Add, Remove and Patch; filters take
// the positional adds, Remove and Patch.
const (
	OpAdd       Operation = "Add"
	OpRemove    Operation = "Remove"
	OpPatch     Operation = "Patch"
	OpAddFirst  Operation = "AddFirst"
	OpAddLast   Operation = "AddLast"
	OpAddBefore Operation = "AddBefore"
	OpAddAfter  Operation = "AddAfter"
)

// JSONPatch is one RFC 6902 operation.
type JSONPatch struct {
	Op    string          `json:"op"`
	Path  *string         `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
	From  *string         `json:"from,omitempty"`
}

// ClusterMod adds, removes or patches clusters. Value is the Envoy resource in YAML (for
// Patch, the fields to merge in); JSONPatches patch the resource's JSON instead.
type ClusterMod struct {
	Match       *ClusterMatch `json:"match,omitempty"`
	Operation   Operation     `json:"operation"`
	Value       *string       `json:"value,omitempty"`
	JSONPatches *[]JSONPatch  `json:"jsonPatches,omitempty"`
}

// ClusterMatch selects clusters; absent fields match any.
type ClusterMatch struct {
	Origin *string `json:"origin,omitempty"`
	Name   *string `json:"name,omitempty"`
}

// ListenerMod adds, removes or patches listeners.
type ListenerMod struct {
	Match       *ListenerMatch `json:"match,omitempty"`
	Operation   Operation      `json:"operation"`
	Value       *string        `json:"value,omitempty"`
	JSONPatches *[]JSONPatch   `json:"jsonPatches,omitempty"`
}

// ListenerMatch selects listeners by origin, name and the tags in their metadata.
type ListenerMatch struct {
	Origin *string            `json:"origin,omitempty"`
	Name   *string            `json:"name,omitempty"`
	Tags   *map[string]string `json:"tags,omitempty"`
}

// NetworkFilterMod adds, removes or patches network filters of listeners' filter chains.
type NetworkFilterMod struct {
	Match       *NetworkFilterMatch `json:"match,omitempty"`
	Operation   Operation           `json:"operation"`
	Value       *string             `json:"value,omitempty"`
	JSONPatches *[]JSONPatch        `json:"jsonPatches,omitempty"`
}

// NetworkFilterMatch selects filters by name, in listeners selected by origin, name, tags.
type NetworkFilterMatch struct {
	Origin       *string            `json:"origin,omitempty"`
	Name         *string            `json:"name,omitempty"`
	ListenerName *string            `json:"listenerName,omitempty"`
	ListenerTags *map[string]string `json:"listenerTags,omitempty"`
}

// HTTPFilterMod adds, removes or patches HTTP filters of HTTP connection managers.
type HTTPFilterMod struct {
	Match       *HTTPFilterMatch `json:"match,omitempty"`
	Operation   Operation        `json:"operation"`
	Value       *string          `json:"value,omitempty"`
	JSONPatches *[]JSONPatch     `json:"jsonPatches,omitempty"`
}

// HTTPFilterMatch selects HTTP filters like NetworkFilterMatch selects network filters.
type HTTPFilterMatch struct {
	Origin       *string            `json:"origin,omitempty"`
	Name         *string            `json:"name,omitempty"`
	ListenerName *string            `json:"listenerName,omitempty"`
	ListenerTags *map[string]string `json:"listenerTags,omitempty"`
}

// VirtualHostMod adds, removes or patches virtual hosts of route configurations.
type VirtualHostMod struct {
	Match       *VirtualHostMatch `json:"match"`
	Operation   Operation         `json:"operation"`
	Value       *string           `json:"value,omitempty"`
	JSONPatches *[]JSONPatch      `json:"jsonPatches,omitempty"`
}

// VirtualHostMatch selects virtual hosts by origin, name and route configuration name.
type VirtualHostMatch struct {
	Origin                 *string `json:"origin,omitempty"`
	Name                   *string `json:"name,omitempty"`
	RouteConfigurationName *string `json:"routeConfigurationName,omitempty"`
}

// Warnings implements resources.Warner with Kuma 2.14's deprecations of MeshProxyPatch.
func (s *Spec) Warnings() []string { return targetref.TopLevelDeprecations(s.TargetRef) }

// Policy converts a stored MeshProxyPatch for the rules framework: its conf becomes a to item
// for the whole mesh, so policies are ordered and merged as Kuma's single-item rules (with
// appendModifications concatenated).
func Policy(meta resources.Meta, s *Spec) rules.Policy[Conf] {
	return rules.Policy[Conf]{Meta: meta, TargetRef: s.TargetRef,
		To: []rules.Item[Conf]{{TargetRef: targetref.TargetRef{Kind: targetref.Mesh}, Default: s.Default}}}
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
