package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Meta holds the fields every resource has.
type Meta struct {
	Mesh             string // empty for global-scoped types
	Name             string
	CreationTime     time.Time
	ModificationTime time.Time
	Labels           map[string]string
}

// Resource is one resource: a descriptor, meta fields and a typed spec.
type Resource struct {
	Desc *Descriptor
	Meta Meta
	Spec Spec
}

// fields the server owns: kumactl sends them back on PUT and they are ignored.
var readOnlyFields = map[string]bool{
	"creationTime": true, "modificationTime": true, "kri": true, "snis": true, "status": true,
}

// MarshalJSON renders the resource exactly as Kuma's REST API does: type, mesh, name,
// creationTime, modificationTime, labels, kri, then either the spec fields inline (legacy
// types) or "spec" (plugin types).
func (r *Resource) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	w := fieldWriter{buf: &buf}
	w.field("type", r.Desc.Name)
	if r.Desc.Scope == ScopeMesh {
		w.field("mesh", r.Meta.Mesh)
	}
	w.field("name", r.Meta.Name)
	w.field("creationTime", r.Meta.CreationTime.UTC().Format(time.RFC3339Nano))
	w.field("modificationTime", r.Meta.ModificationTime.UTC().Format(time.RFC3339Nano))
	if len(r.Meta.Labels) > 0 {
		w.field("labels", r.Meta.Labels)
	}
	if kri := r.KRI(); kri != "" {
		w.field("kri", kri)
	}
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return nil, fmt.Errorf("marshal %s spec: %w", r.Desc.Name, err)
	}
	if r.Desc.Plugin {
		w.raw("spec", spec)
	} else if err := w.inline(spec); err != nil {
		return nil, fmt.Errorf("marshal %s spec: %w", r.Desc.Name, err)
	}
	if w.err != nil {
		return nil, w.err
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// KRI is the Kuma resource identifier, for every type that has a short name, global-scoped
// ones included ("kri_zi____zone-ingress-1_"). The name part is the display name, falling back
// to the name, as Kuma's kri.FromResourceMetaE does.
func (r *Resource) KRI() string {
	if r.Desc.ShortName == "" {
		return ""
	}
	mesh := ""
	if r.Desc.Scope == ScopeMesh {
		mesh = r.Meta.Mesh
	}
	name := r.Meta.Labels[LabelDisplayName]
	if name == "" {
		name = r.Meta.Name
	}
	return strings.Join([]string{"kri", r.Desc.ShortName, mesh, r.Meta.Labels[LabelZone],
		r.Meta.Labels[LabelKubeNamespace], name, ""}, "_")
}

type fieldWriter struct {
	buf *bytes.Buffer
	n   int
	err error
}

func (w *fieldWriter) raw(name string, v []byte) {
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.n++
	k, _ := json.Marshal(name)
	w.buf.Write(k)
	w.buf.WriteByte(':')
	w.buf.Write(v)
}

func (w *fieldWriter) field(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.raw(name, b)
}

// inline copies an object's fields into the enclosing object, keeping their order.
func (w *fieldWriter) inline(obj []byte) error {
	obj = bytes.TrimSpace(obj)
	if bytes.Equal(obj, []byte("null")) || bytes.Equal(obj, []byte("{}")) {
		return nil
	}
	if len(obj) < 2 || obj[0] != '{' {
		return fmt.Errorf("spec is not a JSON object")
	}
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.buf.Write(obj[1 : len(obj)-1])
	return nil
}

// DecodeError is a client mistake in a resource document (HTTP 400).
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads one resource from JSON or YAML in Kuma's REST shape. The descriptor comes from
// the document's "type" through the registry. Server-owned fields are ignored; unknown fields
// are rejected, as Kuma's protojson decoding does.
func (reg *Registry) Decode(doc []byte) (*Resource, error) {
	js, err := toJSON(doc)
	if err != nil {
		return nil, &DecodeError{fmt.Errorf("parse resource: %w", err)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil {
		return nil, &DecodeError{fmt.Errorf("parse resource: %w", err)}
	}
	if fields == nil {
		return nil, &DecodeError{fmt.Errorf("parse resource: expected an object")}
	}
	var typ string
	if err := unmarshalField(fields, "type", &typ); err != nil {
		return nil, err
	}
	if typ == "" {
		return nil, &DecodeError{fmt.Errorf("parse resource: field \"type\" is required")}
	}
	desc, ok := reg.ByName(typ)
	if !ok {
		return nil, &DecodeError{fmt.Errorf("parse resource: unknown type %q", typ)}
	}
	return decodeFields(desc, fields)
}

// DecodeAs reads a resource of a known type from JSON or YAML.
func DecodeAs(desc *Descriptor, doc []byte) (*Resource, error) {
	js, err := toJSON(doc)
	if err != nil {
		return nil, &DecodeError{fmt.Errorf("parse %s: %w", desc.Name, err)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil || fields == nil {
		return nil, &DecodeError{fmt.Errorf("parse %s: expected a JSON object", desc.Name)}
	}
	return decodeFields(desc, fields)
}

// decodeFields builds a resource from the top-level fields of its document; it consumes them.
func decodeFields(desc *Descriptor, fields map[string]json.RawMessage) (*Resource, error) {
	r := &Resource{Desc: desc, Spec: desc.NewSpec()}
	var typ string
	for _, f := range []struct {
		name string
		dst  any
	}{{"type", &typ}, {"mesh", &r.Meta.Mesh}, {"name", &r.Meta.Name}, {"labels", &r.Meta.Labels}} {
		if err := unmarshalField(fields, f.name, f.dst); err != nil {
			return nil, err
		}
		delete(fields, f.name)
	}
	if typ != "" && typ != desc.Name {
		return nil, &DecodeError{fmt.Errorf("parse resource: type %q, expected %q", typ, desc.Name)}
	}
	// Times are server-owned but kept when present so replicated or replayed copies round-trip.
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"creationTime", &r.Meta.CreationTime}, {"modificationTime", &r.Meta.ModificationTime}} {
		if raw, ok := fields[f.name]; ok {
			_ = json.Unmarshal(raw, f.dst)
		}
	}
	for k := range readOnlyFields {
		delete(fields, k)
	}
	var spec []byte
	if desc.Plugin {
		spec = fields["spec"]
		delete(fields, "spec")
		if len(fields) > 0 {
			return nil, &DecodeError{fmt.Errorf("parse %s: unknown field %q", desc.Name, firstKey(fields))}
		}
		if len(spec) == 0 {
			spec = []byte("{}")
		}
	} else {
		var err error
		if spec, err = json.Marshal(fields); err != nil {
			return nil, &DecodeError{err}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r.Spec); err != nil {
		return nil, &DecodeError{fmt.Errorf("parse %s spec: %w", desc.Name, err)}
	}
	return r, nil
}

// toJSON accepts JSON or YAML. JSON objects skip the YAML conversion: every event the
// projections replay is JSON, and the conversion dominated the cost of applying one.
func toJSON(doc []byte) ([]byte, error) {
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return t, nil
	}
	return yaml.YAMLToJSON(doc)
}

func unmarshalField(fields map[string]json.RawMessage, name string, dst any) error {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return &DecodeError{fmt.Errorf("parse resource: field %q: %w", name, err)}
	}
	return nil
}

func firstKey(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}
