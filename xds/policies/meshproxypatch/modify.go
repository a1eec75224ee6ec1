package meshproxypatch

import (
	"fmt"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/xds/policies/patch"
	"github.com/jetmesh/jetmesh/xds/validate"
)

// OriginAdded is the origin of resources a modification adds (Kuma's name for it).
const OriginAdded = "proxy-template-modifications"

// tagsMetadataKey is where listeners carry their tags, which matches select by.
const tagsMetadataKey = "io.kuma.tags"

// Resources are the resources a MeshProxyPatch modifies, with their origins ("inbound",
// "outbound", "admin", ...), which matches select by.
type Resources struct {
	Listeners []*listenerv3.Listener
	Clusters  []*clusterv3.Cluster
	// Origin returns the origin of a generated listener or cluster.
	Origin func(proto.Message) string
	added  map[proto.Message]bool
}

func (r *Resources) origin(m proto.Message) string {
	if r.added[m] {
		return OriginAdded
	}
	if r.Origin == nil {
		return ""
	}
	return r.Origin(m)
}

// FromYAML reads an Envoy resource written in YAML (or JSON). With complete, it must also
// pass Envoy's validation rules, as a value that adds a resource must.
func FromYAML(s string, m proto.Message, complete bool) error {
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if err := protojson.Unmarshal(j, m); err != nil {
		return err
	}
	if complete {
		return validate.Deep(m)
	}
	return nil
}

// Apply runs the modifications in order. An error names the modification; the caller must
// not send the resources then (nor, if Apply succeeds, without validating them: a patch can
// produce any config).
func Apply(r *Resources, mods []Modification) error {
	for i, m := range mods {
		var err error
		switch {
		case m.Cluster != nil:
			err = r.cluster(*m.Cluster)
		case m.Listener != nil:
			err = r.listener(*m.Listener)
		case m.NetworkFilter != nil:
			err = r.networkFilter(*m.NetworkFilter)
		case m.HTTPFilter != nil:
			err = r.httpFilter(*m.HTTPFilter)
		case m.VirtualHost != nil:
			err = r.virtualHost(*m.VirtualHost)
		}
		if err != nil {
			return fmt.Errorf("meshproxypatch: modification %d: %w", i, err)
		}
	}
	return nil
}

func (r *Resources) markAdded(m proto.Message) {
	if r.added == nil {
		r.added = map[proto.Message]bool{}
	}
	r.added[m] = true
}

func (r *Resources) cluster(mod ClusterMod) error {
	matches := func(c *clusterv3.Cluster) bool {
		m := mod.Match
		return m == nil || (eq(m.Name, c.GetName()) && eq(m.Origin, r.origin(c)))
	}
	switch mod.Operation {
	case OpAdd:
		c := &clusterv3.Cluster{}
		if err := FromYAML(deref1(mod.Value), c, false); err != nil {
			return fmt.Errorf("cluster value: %w", err)
		}
		r.Clusters = slices.DeleteFunc(r.Clusters, func(x *clusterv3.Cluster) bool { return x.GetName() == c.GetName() })
		r.Clusters = append(r.Clusters, c)
		r.markAdded(c)
	case OpRemove:
		r.Clusters = slices.DeleteFunc(r.Clusters, matches)
	case OpPatch:
		for _, c := range r.Clusters {
			if matches(c) {
				if err := patchMessage(c, mod.Value, deref(mod.JSONPatches)); err != nil {
					return fmt.Errorf("cluster %s: %w", c.GetName(), err)
				}
			}
		}
	default:
		return fmt.Errorf("invalid operation %q", mod.Operation)
	}
	return nil
}

func (r *Resources) listenerMatches(l *listenerv3.Listener, name, origin *string, tags *map[string]string) bool {
	if !eq(name, l.GetName()) || !eq(origin, r.origin(l)) {
		return false
	}
	if tags == nil || len(*tags) == 0 {
		return true
	}
	have := map[string]string{}
	for k, v := range l.GetMetadata().GetFilterMetadata()[tagsMetadataKey].GetFields() {
		have[k] = v.GetStringValue()
	}
	for k, v := range *tags {
		if got, ok := have[k]; !ok || (v != "*" && got != v) {
			return false
		}
	}
	return true
}

func (r *Resources) listener(mod ListenerMod) error {
	matches := func(l *listenerv3.Listener) bool {
		m := mod.Match
		return m == nil || r.listenerMatches(l, m.Name, m.Origin, m.Tags)
	}
	switch mod.Operation {
	case OpAdd:
		l := &listenerv3.Listener{}
		if err := FromYAML(deref1(mod.Value), l, false); err != nil {
			return fmt.Errorf("listener value: %w", err)
		}
		r.Listeners = slices.DeleteFunc(r.Listeners, func(x *listenerv3.Listener) bool { return x.GetName() == l.GetName() })
		r.Listeners = append(r.Listeners, l)
		r.markAdded(l)
	case OpRemove:
		r.Listeners = slices.DeleteFunc(r.Listeners, matches)
	case OpPatch:
		for _, l := range r.Listeners {
			if matches(l) {
				if err := patchMessage(l, mod.Value, deref(mod.JSONPatches)); err != nil {
					return fmt.Errorf("listener %s: %w", l.GetName(), err)
				}
			}
		}
	default:
		return fmt.Errorf("invalid operation %q", mod.Operation)
	}
	return nil
}

func (r *Resources) networkFilter(mod NetworkFilterMod) error {
	m := mod.Match
	if m == nil {
		m = &NetworkFilterMatch{}
	}
	value := &listenerv3.Filter{}
	if mod.Value != nil {
		if err := FromYAML(*mod.Value, value, false); err != nil {
			return fmt.Errorf("network filter value: %w", err)
		}
	}
	for _, l := range r.Listeners {
		if !r.listenerMatches(l, m.ListenerName, m.Origin, m.ListenerTags) {
			continue
		}
		for _, fc := range l.GetFilterChains() {
			named := func(f *listenerv3.Filter) bool { return eq(m.Name, f.GetName()) }
			var err error
			fc.Filters, err = modifyList(fc.Filters, mod.Operation, value, named, m.Name != nil, func(f *listenerv3.Filter) error {
				return patchTypedConfig(f.GetTypedConfig(), mod.Value, deref(mod.JSONPatches), value.GetTypedConfig(),
					func(a *anypb.Any) { f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a} })
			})
			if err != nil {
				return fmt.Errorf("listener %s: %w", l.GetName(), err)
			}
		}
	}
	return nil
}

func (r *Resources) httpFilter(mod HTTPFilterMod) error {
	m := mod.Match
	if m == nil {
		m = &HTTPFilterMatch{}
	}
	value := &hcmv3.HttpFilter{}
	if mod.Value != nil {
		if err := FromYAML(*mod.Value, value, false); err != nil {
			return fmt.Errorf("http filter value: %w", err)
		}
	}
	for _, l := range r.Listeners {
		if !r.listenerMatches(l, m.ListenerName, m.Origin, m.ListenerTags) {
			continue
		}
		err := patch.HCM(l, func(h *hcmv3.HttpConnectionManager) error {
			named := func(f *hcmv3.HttpFilter) bool { return eq(m.Name, f.GetName()) }
			var err error
			h.HttpFilters, err = modifyList(h.HttpFilters, mod.Operation, value, named, m.Name != nil, func(f *hcmv3.HttpFilter) error {
				return patchTypedConfig(f.GetTypedConfig(), mod.Value, deref(mod.JSONPatches), value.GetTypedConfig(),
					func(a *anypb.Any) { f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: a} })
			})
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// modifyList applies a filter operation to a filter list. Positional adds without a match
// (AddBefore, AddAfter) or whose filter is absent change nothing, as in Kuma.
func modifyList[T proto.Message](list []T, op Operation, value T, matches func(T) bool, named bool, patchOne func(T) error) ([]T, error) {
	clone := func() T { return proto.Clone(value).(T) }
	switch op {
	case OpAddFirst:
		return slices.Insert(list, 0, clone()), nil
	case OpAddLast:
		return append(list, clone()), nil
	case OpAddBefore, OpAddAfter:
		i := slices.IndexFunc(list, matches)
		if !named || i < 0 {
			return list, nil
		}
		if op == OpAddAfter {
			i++
		}
		return slices.Insert(list, i, clone()), nil
	case OpRemove:
		return slices.DeleteFunc(list, matches), nil
	case OpPatch:
		for _, f := range list {
			if matches(f) {
				if err := patchOne(f); err != nil {
					return nil, err
				}
			}
		}
		return list, nil
	}
	return nil, fmt.Errorf("invalid operation %q", op)
}

func (r *Resources) virtualHost(mod VirtualHostMod) error {
	m := mod.Match
	if m == nil {
		m = &VirtualHostMatch{}
	}
	value := &routev3.VirtualHost{}
	if mod.Value != nil {
		if err := FromYAML(*mod.Value, value, false); err != nil {
			return fmt.Errorf("virtual host value: %w", err)
		}
	}
	for _, l := range r.Listeners {
		if !eq(m.Origin, r.origin(l)) {
			continue
		}
		// jetmesh inlines route configurations in their HTTP connection managers (no RDS),
		// so virtual hosts are found there.
		err := patch.HCM(l, func(h *hcmv3.HttpConnectionManager) error {
			rc := h.GetRouteConfig()
			if rc == nil || !eq(m.RouteConfigurationName, rc.GetName()) {
				return nil
			}
			matches := func(vh *routev3.VirtualHost) bool { return eq(m.Name, vh.GetName()) }
			switch mod.Operation {
			case OpAdd:
				rc.VirtualHosts = append(rc.VirtualHosts, proto.Clone(value).(*routev3.VirtualHost))
			case OpRemove:
				rc.VirtualHosts = slices.DeleteFunc(rc.VirtualHosts, matches)
			case OpPatch:
				for _, vh := range rc.VirtualHosts {
					if matches(vh) {
						if err := patchMessage(vh, mod.Value, deref(mod.JSONPatches)); err != nil {
							return fmt.Errorf("virtual host %s: %w", vh.GetName(), err)
						}
					}
				}
			default:
				return fmt.Errorf("invalid operation %q", mod.Operation)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// patchMessage patches m with a YAML value (merged: scalars replaced, lists appended,
// durations replaced whole, as Kuma's merge does) or with JSON patches on its JSON form.
func patchMessage(m proto.Message, value *string, patches []JSONPatch) error {
	if len(patches) > 0 {
		doc, err := protojson.Marshal(m)
		if err != nil {
			return fmt.Errorf("json patch: %w", err)
		}
		if doc, err = applyJSONPatches(doc, patches); err != nil {
			return err
		}
		out := m.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(doc, out); err != nil {
			return fmt.Errorf("json patch result: %w", err)
		}
		proto.Reset(m)
		proto.Merge(m, out)
		return nil
	}
	src := m.ProtoReflect().New().Interface()
	if err := FromYAML(deref1(value), src, false); err != nil {
		return fmt.Errorf("patch value: %w", err)
	}
	merge(m.ProtoReflect(), src.ProtoReflect())
	return nil
}

// patchTypedConfig patches a filter's typed config with the typed config of the patch value
// or with JSON patches on the config's JSON, and stores the result with store.
func patchTypedConfig(cfg *anypb.Any, value *string, patches []JSONPatch, valueCfg *anypb.Any, store func(*anypb.Any)) error {
	if cfg == nil {
		return fmt.Errorf("filter has no typed config")
	}
	m, err := cfg.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("typed config: %w", err)
	}
	if len(patches) > 0 {
		if err := patchMessage(m, nil, patches); err != nil {
			return err
		}
	} else if valueCfg != nil {
		src, err := valueCfg.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("patch typed config: %w", err)
		}
		if src.ProtoReflect().Descriptor() != m.ProtoReflect().Descriptor() {
			return fmt.Errorf("patch typed config is %s, the filter's is %s", src.ProtoReflect().Descriptor().FullName(), m.ProtoReflect().Descriptor().FullName())
		}
		merge(m.ProtoReflect(), src.ProtoReflect())
	}
	a, err := patch.Pack(m)
	if err != nil {
		return err
	}
	store(a)
	return nil
}

var durationName = (&durationpb.Duration{}).ProtoReflect().Descriptor().FullName()

// merge is proto.Merge except that durations are replaced, not merged field by field
// ("5s" over "1.5s" is 5s, not 5.5s), as in Kuma.
func merge(dst, src protoreflect.Message) {
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := dst.Mutable(fd).List()
			for i := 0; i < v.List().Len(); i++ {
				e := v.List().Get(i)
				if fd.Message() != nil {
					e = protoreflect.ValueOfMessage(proto.Clone(e.Message().Interface()).ProtoReflect())
				}
				l.Append(e)
			}
		case fd.IsMap():
			mm := dst.Mutable(fd).Map()
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Message() != nil {
					mv = protoreflect.ValueOfMessage(proto.Clone(mv.Message().Interface()).ProtoReflect())
				}
				mm.Set(k, mv)
				return true
			})
		case fd.Message() != nil && fd.Message().FullName() == durationName:
			dst.Set(fd, protoreflect.ValueOfMessage(proto.Clone(v.Message().Interface()).ProtoReflect()))
		case fd.Message() != nil:
			merge(dst.Mutable(fd).Message(), v.Message())
		default:
			dst.Set(fd, v)
		}
		return true
	})
}

func eq(want *string, got string) bool { return want == nil || *want == got }
