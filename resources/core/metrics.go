package core

import (
	"fmt"
	"regexp"

	"github.com/jetmesh/jetmesh/resources"
)

// MetricsPrometheus is the only metrics backend type Kuma knows.
const MetricsPrometheus = "prometheus"

// Metrics is a Mesh's metrics section.
type Metrics struct {
	EnabledBackend string           `json:"enabledBackend,omitempty"`
	Backends       []MetricsBackend `json:"backends,omitempty"`
}

// MetricsBackend is one metrics backend (on a Mesh, or a Dataplane's override).
type MetricsBackend struct {
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	// Conf is the backend's configuration; for "prometheus" a PrometheusConfig.
	Conf Struct `json:"conf,omitempty"`
}

// PrometheusConfig is the conf of a prometheus metrics backend.
type PrometheusConfig struct {
	Port      uint32                `json:"port,omitempty"`
	Path      string                `json:"path,omitempty"`
	Tags      map[string]string     `json:"tags,omitempty"`
	SkipMTLS  *bool                 `json:"skipMTLS,omitempty"`
	Aggregate []PrometheusAggregate `json:"aggregate,omitempty"`
	Envoy     *PrometheusEnvoy      `json:"envoy,omitempty"`
	TLS       *PrometheusTLS        `json:"tls,omitempty"`
}

// PrometheusAggregate scrapes an application endpoint and merges it into Envoy's stats.
type PrometheusAggregate struct {
	Name    string `json:"name,omitempty"`
	Port    uint32 `json:"port,omitempty"`
	Path    string `json:"path,omitempty"`
	Enabled *bool  `json:"enabled,omitempty"`
	Address string `json:"address,omitempty"`
}

// PrometheusEnvoy filters Envoy's own stats.
type PrometheusEnvoy struct {
	FilterRegex string `json:"filterRegex,omitempty"`
	UsedOnly    *bool  `json:"usedOnly,omitempty"`
}

// PrometheusTLS says how the metrics endpoint is secured.
type PrometheusTLS struct {
	// Mode is activeMTLSBackend (the default, stored as ""), providedTLS or disabled.
	Mode PrometheusTLSMode `json:"mode,omitempty"`
}

// PrometheusTLSMode is PrometheusTlsConfig.Mode.
type PrometheusTLSMode string

// PrometheusTLSMode values.
const (
	PrometheusTLSActiveMTLSBackend PrometheusTLSMode = ""
	PrometheusTLSProvided          PrometheusTLSMode = "providedTLS"
	PrometheusTLSDisabled          PrometheusTLSMode = "disabled"
)

var prometheusTLSModeNames = []string{"activeMTLSBackend", "providedTLS", "disabled"}

// UnmarshalJSON implements json.Unmarshaler.
func (m *PrometheusTLSMode) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, prometheusTLSModeNames, "kuma.mesh.v1alpha1.PrometheusTlsConfig.Mode")
	*m = PrometheusTLSMode(v)
	return err
}

func (m PrometheusTLSMode) String() string { return enumName(string(m), prometheusTLSModeNames) }

// PrometheusConfig decodes the conf of a prometheus backend.
func (b MetricsBackend) PrometheusConfig() (PrometheusConfig, error) {
	var cfg PrometheusConfig
	err := b.Conf.Decode(&cfg)
	return cfg, err
}

func validatePrometheusConfig(conf Struct) resources.ValidationError {
	var v resources.ValidationError
	var cfg PrometheusConfig
	if err := conf.Decode(&cfg); err != nil {
		v.AddViolation(resources.Root(), fmt.Sprintf("could not parse config: %s", err))
		return v
	}
	if cfg.SkipMTLS != nil && cfg.TLS != nil && !skipMTLSMatchesTLS(cfg) {
		v.AddViolation(resources.Root(), "skipMTLS and tls configuration cannot be defined together")
		return v
	}
	if cfg.Envoy != nil {
		if _, err := regexp.Compile(cfg.Envoy.FilterRegex); err != nil {
			v.AddViolation(resources.FieldPath("envoy").Field("filterRegex"),
				fmt.Sprintf("provided regexp isn't correct: %s", err))
			return v
		}
	}
	used := map[string]bool{}
	for i, a := range cfg.Aggregate {
		if used[a.Name] {
			v.AddViolation(resources.FieldPath("aggregate").Index(i).Field("name"),
				fmt.Sprintf("duplicate entry: %s, values have to be unique", a.Name))
			continue
		}
		used[a.Name] = true
	}
	return v
}

func skipMTLSMatchesTLS(cfg PrometheusConfig) bool {
	return (!*cfg.SkipMTLS && cfg.TLS.Mode == PrometheusTLSActiveMTLSBackend) ||
		(*cfg.SkipMTLS && cfg.TLS.Mode == PrometheusTLSDisabled)
}

// validateMetricsBackendType checks a single backend (a Dataplane's metrics override).
func validateMetricsBackend(p resources.Path, b *MetricsBackend) resources.ValidationError {
	var v resources.ValidationError
	if b.Type != MetricsPrometheus {
		v.AddViolation(p.Field("type"), fmt.Sprintf("unknown backend type. Available backends: %q", MetricsPrometheus))
		return v
	}
	v.AddErrorAt(p.Field("conf"), validatePrometheusConfig(b.Conf))
	return v
}
