package resources

// Warner is implemented by specs that produce warnings on a successful PUT (Kuma's
// Deprecations: the API answers {"warnings":[...]} and kumactl prints "Warning: ...").
type Warner interface {
	Warnings() []string
}

// MetaWarner is implemented by specs whose warnings depend on the meta fields (Kuma warns when
// a Mesh or Zone name is not an RFC 1035 label).
type MetaWarner interface {
	MetaWarnings(meta Meta) []string
}

// Warnings collects every warning a resource produces, in Kuma's order (meta, then spec).
func Warnings(r *Resource) []string {
	var out []string
	if w, ok := r.Spec.(MetaWarner); ok {
		out = append(out, w.MetaWarnings(r.Meta)...)
	}
	if w, ok := r.Spec.(Warner); ok {
		out = append(out, w.Warnings()...)
	}
	return out
}
