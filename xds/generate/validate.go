package generate

import (
	"errors"
	"fmt"

	"github.com/jetmesh/jetmesh/xds/validate"
)

// Validate checks every resource with validate.Deep: its protoc-gen-validate rules
// (ValidateAll), and also every message packed in an Any inside it (filters, protocol
// options, RBAC actions...). Envoy NACKs what these rules reject, so a failure here is a bug
// in this package.
func Validate(r *Resources) error {
	var errs []error
	for typeURL, rs := range r.ByType() {
		for _, m := range rs {
			if err := validate.Deep(m); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", typeURL, resourceName(m), err))
			}
		}
	}
	return errors.Join(errs...)
}
