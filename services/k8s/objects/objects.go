// Package objects converts between kuma.io/v1alpha1 Kubernetes objects and jetmesh resources,
// as Kuma 2.14's Kubernetes store does. In Kubernetes mode the objects are inputs: each change
// becomes an event with the resource From returns. To writes a resource back as an object
// for the ones users expect to see in Kubernetes, such as the Dataplanes of injected Pods.
//
// Names: a namespaced object "web" in namespace "demo" is the resource "web.demo"; a
// cluster-scoped one keeps its name. The mesh is the object's top-level "mesh" for the legacy
// types (Mesh, Dataplane, ZoneIngress, VirtualOutbound, ...), and its kuma.io/mesh label for
// the targetRef policies, "default" when unset. Labels are the object's, plus
// kuma.io/display-name (the object's name, or its kuma.io/display-name annotation) and, for
// namespaced objects, k8s.kuma.io/namespace.
package objects

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/k8s/crds"
)

// APIVersion of every object.
const APIVersion = crds.Group + "/" + crds.Version

// defaultMesh is the mesh of an object that names none.
const defaultMesh = "default"

// labelMesh is the label targetRef policies name their mesh with.
const labelMesh = "kuma.io/mesh"

// Object is a Kubernetes object as decoded JSON (apiVersion, kind, metadata, mesh, spec).
type Object = map[string]any

// From converts an object of a kuma.io kind into the resource it stands for, validated as an
// API write would be. The error says which object and why.
func From(reg *resources.Registry, obj Object) (*resources.Resource, error) {
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	at := fmt.Sprintf("%s %s", kind, name)
	if ns != "" {
		at = fmt.Sprintf("%s %s/%s", kind, ns, name)
	}
	if v, _ := obj["apiVersion"].(string); v != APIVersion {
		return nil, fmt.Errorf("%s: apiVersion %q: want %s", at, v, APIVersion)
	}
	desc, ok := reg.ByName(kind)
	if !ok {
		return nil, fmt.Errorf("%s: unknown kind", at)
	}
	if name == "" {
		return nil, fmt.Errorf("%s: metadata.name is empty", at)
	}
	namespaced := crds.Scope(desc) == "Namespaced"
	if namespaced != (ns != "") {
		return nil, fmt.Errorf("%s: a %s object must %sbe namespaced", at, crds.Scope(desc), map[bool]string{true: "", false: "not "}[namespaced])
	}
	labels := map[string]string{}
	for k, v := range stringMap(md["labels"]) {
		labels[k] = v
	}
	labels[resources.LabelDisplayName] = name
	if dn, ok := stringMap(md["annotations"])[resources.LabelDisplayName]; ok {
		labels[resources.LabelDisplayName] = dn
	}
	coreName := name
	if namespaced {
		coreName = name + "." + ns
		labels[resources.LabelKubeNamespace] = ns
	}
	doc := map[string]any{"type": desc.Name, "name": coreName, "labels": labels}
	if desc.Scope == resources.ScopeMesh {
		mesh := defaultMesh
		if desc.Plugin {
			if m := labels[labelMesh]; m != "" {
				mesh = m
			}
		} else if m, _ := obj["mesh"].(string); m != "" {
			mesh = m
		}
		doc["mesh"] = mesh
	}
	spec, _ := obj["spec"].(map[string]any)
	if desc.Plugin {
		doc["spec"] = spec
		if spec == nil {
			doc["spec"] = map[string]any{}
		}
	} else {
		for k, v := range spec {
			if _, meta := doc[k]; meta {
				return nil, fmt.Errorf("%s: spec.%s is not a spec field", at, k)
			}
			doc[k] = v
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	r, err := resources.DecodeAs(desc, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if err := r.Spec.Validate().OrNil(); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	return r, nil
}

// To converts a resource into the object that shows it in namespace (for namespaced kinds;
// the resource's name then ends in ".<namespace>", which the object's name drops). The
// labels this package adds on the way in are not written back.
func To(r *resources.Resource, namespace string) (Object, error) {
	desc := r.Desc
	namespaced := crds.Scope(desc) == "Namespaced"
	name := r.Meta.Name
	md := map[string]any{}
	if namespaced {
		if namespace == "" {
			return nil, fmt.Errorf("%s %s: a namespaced kind needs a namespace", desc.Name, name)
		}
		name = strings.TrimSuffix(name, "."+namespace)
		md["namespace"] = namespace
	}
	md["name"] = name
	labels := maps.Clone(r.Meta.Labels)
	delete(labels, resources.LabelKubeNamespace)
	if labels[resources.LabelDisplayName] == name {
		delete(labels, resources.LabelDisplayName)
	}
	if desc.Plugin && desc.Scope == resources.ScopeMesh && r.Meta.Mesh != defaultMesh {
		if labels == nil {
			labels = map[string]string{}
		}
		labels[labelMesh] = r.Meta.Mesh
	}
	if len(labels) > 0 {
		md["labels"] = labels
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", desc.Name, name, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("%s %s: %w", desc.Name, name, err)
	}
	obj := Object{"apiVersion": APIVersion, "kind": desc.Name, "metadata": md}
	if desc.Plugin {
		obj["spec"] = fields["spec"]
		return obj, nil
	}
	if desc.Scope == resources.ScopeMesh {
		obj["mesh"] = r.Meta.Mesh
	}
	spec := map[string]any{}
	for k, v := range fields {
		switch k {
		case "type", "mesh", "name", "labels", "creationTime", "modificationTime", "kri", "status":
		default:
			spec[k] = v
		}
	}
	obj["spec"] = spec
	return obj, nil
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}
