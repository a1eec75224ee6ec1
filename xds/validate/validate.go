// Package validate checks Envoy configuration messages the way Envoy does: with their
// protoc-gen-validate rules, including the messages packed in Any fields (typed configs).
package validate

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Deep runs ValidateAll on m and, recursively, on every message found in its Any fields
// (filters, protocol options, RBAC actions, access loggers...), which ValidateAll alone does
// not look into. Any whose type is not linked into the binary is an error: Envoy would not
// know it either. The result joins one error per failing message (errors.Join).
func Deep(m proto.Message) error {
	var errs []error
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, err)
		}
	}
	walkAnys(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().FullName()), func(path string, a *anypb.Any) {
		inner, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: unpack %s: %w", path, a.GetTypeUrl(), err))
			return
		}
		if err := Deep(inner); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", path, a.GetTypeUrl(), err))
		}
	})
	return errors.Join(errs...)
}

// walkAnys calls fn for every populated Any field (singular, repeated or map value) below m;
// it does not descend into the Anys themselves (Deep does, after unpacking).
func walkAnys(m protoreflect.Message, path string, fn func(string, *anypb.Any)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		fn(path, a)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					walkAnys(mv.Message(), fmt.Sprintf("%s[%v]", p, k.Interface()), fn)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					walkAnys(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), fn)
				}
			}
		case fd.Message() != nil:
			walkAnys(v.Message(), p, fn)
		}
		return true
	})
}
