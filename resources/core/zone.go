package core

import "github.com/jetmesh/jetmesh/resources"

// Zone is the spec of a Zone (kuma.system.v1alpha1.Zone) as the global CP records it.
type Zone struct {
	// Enabled is a BoolValue: absent means enabled. Use IsEnabled.
	Enabled *bool `json:"enabled,omitempty"`
}

// IsEnabled reports whether the zone may exchange resources with the global CP.
func (z *Zone) IsEnabled() bool { return z.Enabled == nil || *z.Enabled }

// Validate implements resources.Spec; Kuma has no rule on a Zone's spec (its name is checked
// like every name, and warned about by MetaWarnings).
func (z *Zone) Validate() resources.ValidationError { return resources.ValidationError{} }

// MetaWarnings implements resources.MetaWarner: Kuma deprecates Zone names that are not RFC
// 1035 labels.
func (z *Zone) MetaWarnings(meta resources.Meta) []string {
	return dns1035NameWarning("Zone", meta)
}

// Secret is the spec of a Secret and of a GlobalSecret (kuma.system.v1alpha1.Secret). Data is
// a BytesValue, so its JSON is a base64 string: {"type":"Secret",...,"data":"dGVzdA=="}.
type Secret struct {
	Data []byte `json:"data,omitempty"`
}

// Validate implements resources.Spec. Kuma 2.14 accepts a Secret without data (it has no
// validator for secrets), and so do we.
func (s *Secret) Validate() resources.ValidationError { return resources.ValidationError{} }

// Config is the spec of a Config (kuma.system.v1alpha1.Config): one document, as a string.
type Config struct {
	Config string `json:"config,omitempty"`
}

// Validate implements resources.Spec; what the document holds is its writer's business.
func (c *Config) Validate() resources.ValidationError { return resources.ValidationError{} }
