package meshproxypatch

import (
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/targetref"
)

// Kuma's messages.
const (
	msgFilterBefore = "must be defined. You need to pick a filter before which this one will be added"
	msgFilterAfter  = "must be defined. You need to pick a filter after which this one will be added"
)

var (
	topLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.MeshService,
		targetref.MeshServiceSubset, targetref.MeshGateway, targetref.Dataplane}
	roleTopLevelKinds = []targetref.Kind{targetref.Mesh, targetref.MeshSubset, targetref.Dataplane,
		targetref.MeshService, targetref.MeshServiceSubset}
)

// Validate implements resources.Spec with Kuma's checks: exactly one modification per entry,
// operations the resource kind supports, values that are valid Envoy resources, JSON patches
// that are well formed. Paths start at "spec".
func (s *Spec) Validate() resources.ValidationError {
	var v resources.ValidationError
	spec := resources.FieldPath("spec")
	if s.TargetRef != nil {
		v.AddErrorAt(spec.Field("targetRef"), targetref.ValidateSchema(*s.TargetRef))
		if v.HasViolations() {
			return v
		}
		v.AddErrorAt(spec.Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{SupportedKinds: topLevelKinds}))
	}
	mods := spec.Field("default").Field("appendModifications")
	if len(deref(s.Default.AppendModifications)) == 0 {
		v.AddViolation(mods, "must not be empty")
	}
	for i, m := range deref(s.Default.AppendModifications) {
		v.AddErrorAt(mods.Index(i), validateModification(m))
	}
	return v
}

// ValidateMeta implements resources.MetaValidator: producer, consumer and workload-owner
// policies may not target gateways.
func (s *Spec) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	role := meta.Labels[resources.LabelPolicyRole]
	if s.TargetRef == nil || role == "" || role == "system" {
		return v
	}
	v.AddErrorAt(resources.FieldPath("spec").Field("targetRef"), targetref.Validate(*s.TargetRef, targetref.Options{SupportedKinds: roleTopLevelKinds}))
	return v
}

func validateModification(m Modification) resources.ValidationError {
	var v resources.ValidationError
	n := 0
	for _, set := range []bool{m.Cluster != nil, m.Listener != nil, m.VirtualHost != nil, m.NetworkFilter != nil, m.HTTPFilter != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		v.AddViolation(resources.Root(), fmt.Sprintf("exactly one modification can be defined at a time. Currently, %d modifications are defined", n))
	case m.Cluster != nil:
		c := m.Cluster
		v.Add(validateResourceMod("cluster", c.Operation, c.Match != nil, c.Value, deref(c.JSONPatches), &clusterv3.Cluster{}))
	case m.Listener != nil:
		l := m.Listener
		v.Add(validateResourceMod("listener", l.Operation, l.Match != nil, l.Value, deref(l.JSONPatches), &listenerv3.Listener{}))
	case m.VirtualHost != nil:
		h := m.VirtualHost
		// A virtual host is added to route configurations the match selects, so only its
		// name may not be matched.
		v.Add(validateResourceMod("virtualHost", h.Operation, h.Match != nil && h.Match.Name != nil, h.Value, deref(h.JSONPatches), &routev3.VirtualHost{}))
	case m.NetworkFilter != nil:
		f := m.NetworkFilter
		var name *string
		if f.Match != nil {
			name = f.Match.Name
		}
		v.Add(validateFilterMod("networkFilter", f.Operation, name, f.Value, deref(f.JSONPatches), &listenerv3.Filter{}))
	case m.HTTPFilter != nil:
		f := m.HTTPFilter
		var name *string
		if f.Match != nil {
			name = f.Match.Name
		}
		v.Add(validateFilterMod("httpFilter", f.Operation, name, f.Value, deref(f.JSONPatches), &hcmv3.HttpFilter{}))
	}
	return v
}

// validateResourceMod checks a cluster, listener or virtual host modification. matched says
// whether the match (for virtual hosts, its name) is set, which Add forbids.
func validateResourceMod(kind string, op Operation, matched bool, value *string, patches []JSONPatch, msg proto.Message) resources.ValidationError {
	var v resources.ValidationError
	p := resources.FieldPath(kind)
	switch op {
	case OpAdd:
		if matched {
			at := p.Field("match")
			if kind == "virtualHost" {
				at = at.Field("name")
			}
			v.AddViolation(at, "must not be defined")
		}
		v.Add(validateValue(p.Field("value"), value, msg))
	case OpPatch:
		v.Add(validatePatch(p, value, patches, msg))
	case OpRemove:
		if value != nil {
			v.AddViolation(p.Field("value"), "must not be defined")
		}
	default:
		v.AddViolation(p.Field("operation"), operationsMsg(OpAdd, OpPatch, OpRemove))
	}
	return v
}

func validateFilterMod(kind string, op Operation, name, value *string, patches []JSONPatch, msg proto.Message) resources.ValidationError {
	var v resources.ValidationError
	p := resources.FieldPath(kind)
	switch op {
	case OpAddFirst, OpAddLast:
		v.Add(validateValue(p.Field("value"), value, msg))
	case OpAddBefore, OpAddAfter:
		if name == nil {
			m := msgFilterBefore
			if op == OpAddAfter {
				m = msgFilterAfter
			}
			v.AddViolation(p.Field("match").Field("name"), m)
		}
		v.Add(validateValue(p.Field("value"), value, msg))
	case OpPatch:
		if name == nil {
			v.AddViolation(p.Field("match").Field("name"), targetref.MustBeDefined)
		}
		v.Add(validatePatch(p, value, patches, msg))
	case OpRemove:
		if value != nil {
			v.AddViolation(p.Field("value"), "must not be defined")
		}
	default:
		v.AddViolation(p.Field("operation"), operationsMsg(OpAddFirst, OpAddLast, OpAddBefore, OpAddAfter, OpPatch, OpRemove))
	}
	return v
}

// validateValue checks that a value is a complete, valid Envoy resource of msg's type.
func validateValue(p resources.Path, value *string, msg proto.Message) resources.ValidationError {
	var v resources.ValidationError
	if value == nil {
		v.AddViolation(p, targetref.MustBeDefined)
		return v
	}
	if err := FromYAML(*value, msg, true); err != nil {
		v.AddViolation(p, "native Envoy resource is not valid: "+err.Error())
	}
	return v
}

func validatePatch(p resources.Path, value *string, patches []JSONPatch, msg proto.Message) resources.ValidationError {
	var v resources.ValidationError
	switch {
	case value != nil && len(patches) > 0:
		v.AddViolation(p, p.String()+" must have only one type defined: value, jsonPatches")
	case value != nil:
		// A patch value is partial: it must parse, not be complete.
		if err := FromYAML(*value, msg, false); err != nil {
			v.AddViolation(p.Field("value"), "native Envoy resource is not valid: "+err.Error())
		}
	case len(patches) > 0:
		v.Add(validateJSONPatches(p.Field("jsonPatches"), patches))
	default:
		v.AddViolation(p, p.String()+" must have exactly one defined: value, jsonPatches")
	}
	return v
}

func validateJSONPatches(p resources.Path, patches []JSONPatch) resources.ValidationError {
	var v resources.ValidationError
	for i, jp := range patches {
		at := p.Index(i)
		switch jp.Op {
		case "add", "remove", "replace", "move", "copy":
		default:
			v.AddViolation(at.Field("op"), `"op" must be one of ["add", "remove", "replace", "move", "copy"]`)
		}
		moveCopy := jp.Op == "move" || jp.Op == "copy"
		switch {
		case moveCopy && jp.From == nil:
			v.AddViolation(at.Field("from"), `"from" must not be empty when "op" is one of ["move", "copy"]`)
		case !moveCopy && jp.From != nil:
			v.AddViolation(at.Field("from"), `"from" is allowed only when "op" is one of ["move", "copy"]`)
		}
		addReplace := jp.Op == "add" || jp.Op == "replace"
		switch {
		case addReplace && jp.Value == nil:
			v.AddViolation(at.Field("value"), `"value" must not be empty when "op" is one of ["add", "replace"]`)
		case !addReplace && jp.Value != nil:
			v.AddViolation(at.Field("value"), `"value" is allowed only when "op" is one of ["add", "replace"]`)
		}
		switch {
		case jp.Path == nil:
			v.AddViolation(at.Field("path"), targetref.MustBeDefined)
		case (*jp.Path == "" || *jp.Path == "/") && jp.Op == "remove":
			v.AddViolation(at.Field("path"), "root path cannot be removed")
		}
	}
	return v
}

func operationsMsg(ops ...Operation) string {
	quoted := make([]string, len(ops))
	for i, op := range ops {
		quoted[i] = fmt.Sprintf("%q", op)
	}
	return "invalid operation. Available operations: " + strings.Join(quoted, ", ")
}
