// Package crds renders the kuma.io/v1alpha1 CustomResourceDefinitions of jetmesh's resource
// types, in Kuma 2.14's shape, so Kuma's Kubernetes manifests apply unchanged: the same
// group, kinds, plurals, short names, scopes and printer columns; the legacy types (Mesh,
// Dataplane, ZoneIngress, VirtualOutbound, ...) with a top-level "mesh" and a free-form
// spec, the targetRef policies with a structural schema built from their Go types. Secrets
// and Configs are Kubernetes Secrets and ConfigMaps there, not CRDs.
package crds

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/resources"
)

// Group and Version of every CRD.
const (
	Group   = "kuma.io"
	Version = "v1alpha1"
)

// notCRDs are the types Kubernetes mode keeps in Kubernetes' own kinds.
var notCRDs = map[string]bool{"Secret": true, "GlobalSecret": true, "Config": true}

// namespacedLegacy are the legacy (non-plugin) types that live in a namespace, as in Kuma:
// the proxies and their insights; every other legacy type is cluster-scoped.
var namespacedLegacy = map[string]bool{
	"Dataplane": true, "DataplaneInsight": true, "ZoneIngress": true, "ZoneIngressInsight": true,
	"ZoneEgress": true, "ZoneEgressInsight": true,
}

// CRD is one CustomResourceDefinition as a document (apiextensions.k8s.io/v1).
type CRD = map[string]any

// All returns the CRDs of the registry's types, sorted by name.
func All(reg *resources.Registry) ([]CRD, error) {
	var out []CRD
	for _, d := range reg.All() {
		if notCRDs[d.Name] {
			continue
		}
		c, err := For(d)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b CRD) int { return strings.Compare(name(a), name(b)) })
	return out, nil
}

func name(c CRD) string { return c["metadata"].(map[string]any)["name"].(string) }

// Plural is the CRD plural of a type: kumactl's plural without dashes ("virtualoutbounds").
func Plural(d *resources.Descriptor) string {
	p := d.PluralName
	if p == "" {
		p = strings.ToLower(d.Name) + "s"
	}
	return strings.ReplaceAll(p, "-", "")
}

// Singular is the CRD singular of a type.
func Singular(d *resources.Descriptor) string { return strings.ToLower(d.Name) }

// Scope is the CRD scope of a type.
func Scope(d *resources.Descriptor) string {
	if d.Plugin || namespacedLegacy[d.Name] {
		return "Namespaced"
	}
	return "Cluster"
}

// For returns the CRD of one type.
func For(d *resources.Descriptor) (CRD, error) {
	plural := Plural(d)
	names := map[string]any{
		"kind": d.Name, "listKind": d.Name + "List", "plural": plural, "singular": Singular(d),
		"categories": []any{"kuma"},
	}
	if d.ShortName != "" && d.Name != "VirtualOutbound" {
		names["shortNames"] = []any{d.ShortName}
	}
	props := map[string]any{
		"apiVersion": map[string]any{"type": "string", "description": "APIVersion of this object (kuma.io/v1alpha1)."},
		"kind":       map[string]any{"type": "string", "description": "Kind of this object."},
		"metadata":   map[string]any{"type": "object"},
	}
	version := map[string]any{"name": Version, "served": true, "storage": true}
	if d.Plugin {
		spec, err := Schema(reflect.TypeOf(d.NewSpec()))
		if err != nil {
			return nil, fmt.Errorf("crd %s: %w", d.Name, err)
		}
		spec["description"] = "Spec is the specification of the Kuma " + d.Name + " resource."
		props["spec"] = spec
		if d.TargetRef {
			version["additionalPrinterColumns"] = []any{
				map[string]any{"jsonPath": ".spec.targetRef.kind", "name": "TargetRef Kind", "type": "string"},
				map[string]any{"jsonPath": ".spec.targetRef.name", "name": "TargetRef Name", "type": "string"},
			}
		}
	} else {
		props["mesh"] = map[string]any{"type": "string",
			"description": "Mesh is the name of the Kuma mesh this resource belongs to. It may be omitted for cluster-scoped resources."}
		props["spec"] = map[string]any{"x-kubernetes-preserve-unknown-fields": true,
			"description": "Spec is the specification of the Kuma " + d.Name + " resource."}
		if d.Name == "Dataplane" {
			version["additionalPrinterColumns"] = []any{
				map[string]any{"jsonPath": ".mesh", "name": "Mesh", "type": "string"},
				map[string]any{"jsonPath": ".spec.networking.address", "name": "Address", "type": "string"},
				map[string]any{"jsonPath": ".metadata.ownerReferences[0].name", "name": "Owner", "type": "string"},
				map[string]any{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
			}
		}
	}
	version["schema"] = map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": props}}
	return CRD{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + Group},
		"spec": map[string]any{
			"group":    Group,
			"names":    names,
			"scope":    Scope(d),
			"versions": []any{version},
		},
	}, nil
}

var (
	marshaler     = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	rawMessage    = reflect.TypeFor[json.RawMessage]()
)

// Schema is the structural OpenAPI v3 schema of a Go type as encoding/json writes it. A type
// with its own JSON encoding is a string when it encodes its zero value as one (durations),
// an int-or-string when its name says so (IntOrString, Percentage), and free-form otherwise;
// so are interfaces and json.RawMessage.
func Schema(t reflect.Type) (map[string]any, error) {
	return schema(t, map[reflect.Type]bool{})
}

func schema(t reflect.Type, seen map[reflect.Type]bool) (map[string]any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage || t.Kind() == reflect.Interface {
		return map[string]any{"x-kubernetes-preserve-unknown-fields": true}, nil
	}
	if reflect.PointerTo(t).Implements(marshaler) || t.Implements(marshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return customSchema(t), nil
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Uint, reflect.Uint32:
		return map[string]any{"type": "integer", "format": "int64"}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return map[string]any{"type": "integer", "format": "int32"}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}, nil
		}
		items, err := schema(t.Elem(), seen)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		values, err := schema(t.Elem(), seen)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": values}, nil
	case reflect.Struct:
		if seen[t] {
			// A recursive type: Kubernetes schemas cannot refer back, so the inner level is free-form.
			return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}, nil
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		if err := structProps(t, props, seen); err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "properties": props}, nil
	}
	return nil, fmt.Errorf("no schema for %s (%s)", t, t.Kind())
}

// structProps adds a struct's JSON fields, flattening embedded structs as encoding/json does.
func structProps(t reflect.Type, props map[string]any, seen map[reflect.Type]bool) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && tag == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := structProps(ft, props, seen); err != nil {
					return err
				}
				continue
			}
		}
		if tag == "" {
			tag = f.Name
		}
		s, err := schema(f.Type, seen)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		props[tag] = s
	}
	return nil
}

// customSchema is the schema of a type with its own JSON encoding.
func customSchema(t reflect.Type) map[string]any {
	n := t.Name()
	switch {
	case strings.Contains(n, "IntOrString") || n == "Percentage":
		return map[string]any{"x-kubernetes-int-or-string": true}
	case n == "Duration" || n == "Timestamp":
		return map[string]any{"type": "string"}
	}
	if v, ok := reflect.New(t).Interface().(json.Marshaler); ok {
		if b, err := v.MarshalJSON(); err == nil && len(b) > 0 && b[0] == '"' {
			return map[string]any{"type": "string"}
		}
	}
	return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
}

// Write writes every CRD as one multi-document YAML stream (kubectl apply -f).
func Write(w io.Writer, reg *resources.Registry) error {
	all, err := All(reg)
	if err != nil {
		return err
	}
	for _, c := range all {
		b, err := yaml.Marshal(c)
		if err != nil {
			return fmt.Errorf("crd %s: %w", name(c), err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}
