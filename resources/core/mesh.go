package core

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jetmesh/jetmesh/resources"
)

// Mesh is the spec of a Mesh (Kuma's kuma.mesh.v1alpha1.Mesh). Fields are in proto declaration
// order, which is the order jsonpb prints them in.
type Mesh struct {
	MTLS                        *MeshMTLS     `json:"mtls,omitempty"`
	Tracing                     *Tracing      `json:"tracing,omitempty"`
	Logging                     *Logging      `json:"logging,omitempty"`
	Metrics                     *Metrics      `json:"metrics,omitempty"`
	Networking                  *MeshNetwork  `json:"networking,omitempty"`
	Routing                     *Routing      `json:"routing,omitempty"`
	Constraints                 *Constraints  `json:"constraints,omitempty"`
	SkipCreatingInitialPolicies []string      `json:"skipCreatingInitialPolicies,omitempty"`
	MeshServices                *MeshServices `json:"meshServices,omitempty"`
}

// MeshMTLS is the mesh's mTLS section.
type MeshMTLS struct {
	EnabledBackend string      `json:"enabledBackend,omitempty"`
	Backends       []CABackend `json:"backends,omitempty"`
	SkipValidation bool        `json:"skipValidation,omitempty"`
}

// CA backend types Kuma ships.
const (
	CABuiltin  = "builtin"
	CAProvided = "provided"
)

// CABackend is a certificate authority (Kuma's CertificateAuthorityBackend).
type CABackend struct {
	Name      string     `json:"name,omitempty"`
	Type      string     `json:"type,omitempty"`
	DpCert    *DpCert    `json:"dpCert,omitempty"`
	Conf      Struct     `json:"conf,omitempty"`
	Mode      CAMode     `json:"mode,omitempty"`
	RootChain *RootChain `json:"rootChain,omitempty"`
}

// DpCert configures the dataplane certificates a CA issues.
type DpCert struct {
	Rotation       *DpCertRotation `json:"rotation,omitempty"`
	RequestTimeout *Duration       `json:"requestTimeout,omitempty"`
}

// DpCertRotation says how long dataplane certificates live ("1d", "10h", Kuma's own format).
type DpCertRotation struct {
	Expiration string `json:"expiration,omitempty"`
}

// RootChain configures fetching the CA root chain.
type RootChain struct {
	RequestTimeout *Duration `json:"requestTimeout,omitempty"`
}

// Tracing is the mesh's tracing section.
type Tracing struct {
	DefaultBackend string           `json:"defaultBackend,omitempty"`
	Backends       []TracingBackend `json:"backends,omitempty"`
}

// Tracing backend types.
const (
	TracingZipkin  = "zipkin"
	TracingDatadog = "datadog"
)

// TracingBackend is one tracing backend.
type TracingBackend struct {
	Name     string   `json:"name,omitempty"`
	Sampling *float64 `json:"sampling,omitempty"`
	Type     string   `json:"type,omitempty"`
	Conf     Struct   `json:"conf,omitempty"`
}

// ZipkinConfig is the conf of a zipkin tracing backend.
type ZipkinConfig struct {
	URL               string `json:"url,omitempty"`
	TraceID128Bit     bool   `json:"traceId128bit,omitempty"`
	APIVersion        string `json:"apiVersion,omitempty"`
	SharedSpanContext *bool  `json:"sharedSpanContext,omitempty"`
}

// DatadogConfig is the conf of a datadog tracing backend.
type DatadogConfig struct {
	Address      string `json:"address,omitempty"`
	Port         uint32 `json:"port,omitempty"`
	SplitService bool   `json:"splitService,omitempty"`
}

// Logging is the mesh's logging section.
type Logging struct {
	DefaultBackend string           `json:"defaultBackend,omitempty"`
	Backends       []LoggingBackend `json:"backends,omitempty"`
}

// Logging backend types.
const (
	LoggingTCP  = "tcp"
	LoggingFile = "file"
)

// LoggingBackend is one access log backend.
type LoggingBackend struct {
	Name   string `json:"name,omitempty"`
	Format string `json:"format,omitempty"`
	Type   string `json:"type,omitempty"`
	Conf   Struct `json:"conf,omitempty"`
}

// MeshNetwork is the mesh's networking section.
type MeshNetwork struct {
	Outbound *MeshOutbound `json:"outbound,omitempty"`
}

// MeshOutbound configures outbound traffic; Passthrough is a BoolValue (absent means true).
type MeshOutbound struct {
	Passthrough *bool `json:"passthrough,omitempty"`
}

// Routing is the mesh's routing section.
type Routing struct {
	LocalityAwareLoadBalancing             bool `json:"localityAwareLoadBalancing,omitempty"`
	ZoneEgress                             bool `json:"zoneEgress,omitempty"`
	DefaultForbidMeshExternalServiceAccess bool `json:"defaultForbidMeshExternalServiceAccess,omitempty"`
}

// Constraints restricts which proxies may join the mesh.
type Constraints struct {
	DataplaneProxy *DataplaneProxyConstraints `json:"dataplaneProxy,omitempty"`
}

// DataplaneProxyConstraints lists tag requirements and restrictions for proxies.
type DataplaneProxyConstraints struct {
	Requirements []TagRule `json:"requirements,omitempty"`
	Restrictions []TagRule `json:"restrictions,omitempty"`
}

// TagRule is a tag selector in Constraints.
type TagRule struct {
	Tags map[string]string `json:"tags,omitempty"`
}

// MeshServices says where MeshService resources are generated and used.
type MeshServices struct {
	Mode MeshServicesMode `json:"mode,omitempty"`
}

// MTLSEnabled reports whether the mesh has an enabled mTLS backend.
func (m *Mesh) MTLSEnabled() bool { return m.MTLS != nil && m.MTLS.EnabledBackend != "" }

// maxMTLSBackends is how many CA backends Kuma allows on a mesh.
const maxMTLSBackends = 1

// Validate implements resources.Spec with the rules of Kuma's MeshResource.Validate and the
// structural part of its mesh manager's CA backend checks.
func (m *Mesh) Validate() resources.ValidationError {
	var v resources.ValidationError
	v.AddErrorAt(resources.FieldPath("mtls"), m.validateMTLS())
	v.AddErrorAt(resources.FieldPath("logging"), validateLogging(m.Logging))
	v.AddErrorAt(resources.FieldPath("tracing"), validateTracing(m.Tracing))
	v.AddErrorAt(resources.FieldPath("metrics"), validateMetrics(m.Metrics))
	v.AddErrorAt(resources.FieldPath("constraints"), validateConstraints(m.Constraints))
	if m.Routing != nil && m.Routing.ZoneEgress && !m.MTLSEnabled() {
		v.AddViolation(resources.FieldPath("mtls"), "has to be set when zoneEgress enabled")
	}
	v.Add(m.validateCABackends())
	return v
}

func (m *Mesh) validateMTLS() resources.ValidationError {
	var v resources.ValidationError
	if m.MTLS == nil {
		return v
	}
	backends := resources.FieldPath("backends")
	if len(m.MTLS.Backends) > maxMTLSBackends {
		v.AddViolation(backends, fmt.Sprintf("cannot have more than %d backends", maxMTLSBackends))
	}
	used := map[string]bool{}
	for i, b := range m.MTLS.Backends {
		if used[b.Name] {
			v.AddViolation(backends.Index(i).Field("name"), fmt.Sprintf("%q name is already used for another backend", b.Name))
		}
		used[b.Name] = true
		if b.DpCert != nil {
			expiration := ""
			if b.DpCert.Rotation != nil {
				expiration = b.DpCert.Rotation.Expiration
			}
			if _, err := ParseKumaDuration(expiration); err != nil {
				// Kuma reports this one without the backend index.
				v.AddViolation(resources.FieldPath("dpcert").Field("rotation").Field("expiration"), "has to be a valid format")
			}
		}
	}
	if m.MTLS.EnabledBackend != "" && !used[m.MTLS.EnabledBackend] {
		v.AddViolation(resources.FieldPath("enabledBackend"), "has to be set to one of the backends in the mesh")
	}
	return v
}

// validateCABackends is the part of Kuma's mesh manager check that needs no other resources:
// the backend type must be an installed CA plugin, and a provided CA needs cert and key.
func (m *Mesh) validateCABackends() resources.ValidationError {
	var v resources.ValidationError
	if m.MTLS == nil {
		return v
	}
	backends := resources.FieldPath("mtls").Field("backends")
	for i, b := range m.MTLS.Backends {
		switch b.Type {
		case CABuiltin:
		case CAProvided:
			if !m.MTLS.SkipValidation {
				v.AddErrorAt(backends.Index(i).Field("conf"), validateProvidedCA(b.Conf))
			}
		default:
			v.AddViolation(backends.Index(i).Field("type"), "could not find installed plugin for this type")
			return v
		}
	}
	return v
}

// ProvidedCAConfig is the conf of a "provided" CA backend.
type ProvidedCAConfig struct {
	Cert *DataSource `json:"cert,omitempty"`
	Key  *DataSource `json:"key,omitempty"`
}

// BuiltinCAConfig is the conf of a "builtin" CA backend.
type BuiltinCAConfig struct {
	CACert *struct {
		RSABits    *uint32 `json:"RSAbits,omitempty"`
		Expiration string  `json:"expiration,omitempty"`
	} `json:"caCert,omitempty"`
}

// DataSource is Kuma's one-of data source (a secret name, a file, inline bytes or an inline string).
type DataSource struct {
	Secret       *string `json:"secret,omitempty"`
	File         *string `json:"file,omitempty"`
	Inline       *[]byte `json:"inline,omitempty"`
	InlineString *string `json:"inlineString,omitempty"`
}

func validateProvidedCA(conf Struct) resources.ValidationError {
	var v resources.ValidationError
	var cfg ProvidedCAConfig
	if err := conf.Decode(&cfg); err != nil {
		v.AddViolation(resources.Root(), "could not convert backend config: "+err.Error())
		return v
	}
	for _, f := range []struct {
		name string
		ds   *DataSource
	}{{"cert", cfg.Cert}, {"key", cfg.Key}} {
		if f.ds == nil {
			v.AddViolation(resources.FieldPath(f.name), "has to be defined")
			continue
		}
		v.AddErrorAt(resources.FieldPath(f.name), validateDataSource(f.ds))
	}
	return v
}

func validateDataSource(ds *DataSource) resources.ValidationError {
	var v resources.ValidationError
	switch {
	case ds.Secret != nil:
		if *ds.Secret == "" {
			v.AddViolation(resources.FieldPath("secret"), "cannot be empty")
		}
	case ds.Inline != nil:
		if len(*ds.Inline) == 0 {
			v.AddViolation(resources.FieldPath("inline"), "cannot be empty")
		}
	case ds.File != nil:
		if *ds.File == "" {
			v.AddViolation(resources.FieldPath("file"), "cannot be empty")
		}
	case ds.InlineString != nil:
	default:
		v.AddViolation(resources.Root(), "data source has to be chosen. Available sources: secret, file, inline")
	}
	return v
}

func validateLogging(l *Logging) resources.ValidationError {
	if l == nil {
		return resources.ValidationError{}
	}
	return validateBackends(l.Backends, func(b LoggingBackend) string { return b.Name }, validateLoggingBackend,
		l.DefaultBackend, "logging")
}

// validateBackends checks a mesh section's named backends: each one, unique names, and that
// the default names one of them (logging and tracing share these rules).
func validateBackends[B any](backends []B, name func(B) string, validate func(B) resources.ValidationError,
	defaultBackend, kind string) resources.ValidationError {
	var v resources.ValidationError
	used := map[string]bool{}
	for i, b := range backends {
		at := resources.FieldPath("backends").Index(i)
		v.AddErrorAt(at, validate(b))
		if used[name(b)] {
			v.AddViolation(at.Field("name"), fmt.Sprintf("%q name is already used for another backend", name(b)))
		}
		used[name(b)] = true
	}
	if defaultBackend != "" && !used[defaultBackend] {
		v.AddViolation(resources.FieldPath("defaultBackend"), fmt.Sprintf("has to be set to one of the %s backend in mesh", kind))
	}
	return v
}

func validateLoggingBackend(b LoggingBackend) resources.ValidationError {
	var v resources.ValidationError
	if b.Name == "" {
		v.AddViolation(resources.FieldPath("name"), "cannot be empty")
	}
	// Kuma reports conf problems under "config", not "conf".
	switch b.Type {
	case LoggingFile:
		var cfg struct {
			Path string `json:"path"`
		}
		if err := b.Conf.Decode(&cfg); err != nil {
			v.AddViolation(resources.FieldPath("config"), fmt.Sprintf("could not parse config: %s", err))
		} else if cfg.Path == "" {
			v.AddViolation(resources.FieldPath("config").Field("path"), "cannot be empty")
		}
	case LoggingTCP:
		var cfg struct {
			Address string `json:"address"`
		}
		switch err := b.Conf.Decode(&cfg); {
		case err != nil:
			v.AddViolation(resources.FieldPath("config"), fmt.Sprintf("could not parse config: %s", err))
		case cfg.Address == "":
			v.AddViolation(resources.FieldPath("config").Field("address"), "cannot be empty")
		default:
			if host, port, err := net.SplitHostPort(cfg.Address); host == "" || port == "" || err != nil {
				v.AddViolation(resources.FieldPath("config").Field("address"), "has to be in format of HOST:PORT")
			}
		}
	default:
		v.AddViolation(resources.FieldPath("type"),
			fmt.Sprintf("unknown backend type. Available backends: %q, %q", LoggingTCP, LoggingFile))
	}
	return v
}

func validateTracing(t *Tracing) resources.ValidationError {
	if t == nil {
		return resources.ValidationError{}
	}
	return validateBackends(t.Backends, func(b TracingBackend) string { return b.Name }, validateTracingBackend,
		t.DefaultBackend, "tracing")
}

func validateTracingBackend(b TracingBackend) resources.ValidationError {
	var v resources.ValidationError
	if b.Name == "" {
		v.AddViolation(resources.FieldPath("name"), "cannot be empty")
	}
	if b.Sampling != nil && (*b.Sampling < 0 || *b.Sampling > 100) {
		v.AddViolation(resources.FieldPath("sampling"), "has to be in [0.0 - 100.0] range")
	}
	config := resources.FieldPath("config")
	switch b.Type {
	case TracingZipkin:
		var cfg ZipkinConfig
		if err := b.Conf.Decode(&cfg); err != nil {
			v.AddViolation(config, fmt.Sprintf("could not parse config: %s", err))
			break
		}
		switch cfg.APIVersion {
		case "", "httpJsonV1", "httpJson", "httpProto":
		default:
			v.AddViolation(config.Field("apiVersion"),
				"has invalid value. "+resources.AllowedValuesHint("httpJsonV1", "httpJson", "httpProto"))
		}
		if cfg.URL == "" {
			v.AddViolation(config.Field("url"), "cannot be empty")
			break
		}
		if u, err := url.ParseRequestURI(cfg.URL); err != nil {
			v.AddViolation(config.Field("url"), "invalid URL")
		} else if u.Port() == "" {
			v.AddViolation(config.Field("url"), "port has to be explicitly specified")
		}
	case TracingDatadog:
		var cfg DatadogConfig
		if err := b.Conf.Decode(&cfg); err != nil {
			v.AddViolation(config, fmt.Sprintf("could not parse config: %s", err))
			break
		}
		if cfg.Address == "" {
			v.AddViolation(config.Field("address"), "cannot be empty")
		}
		v.Add(resources.ValidatePort(config.Field("port"), cfg.Port))
	default:
		v.AddViolation(resources.FieldPath("type"),
			fmt.Sprintf("unknown backend type. Available backends: %q, %q", TracingZipkin, TracingDatadog))
	}
	return v
}

func validateMetrics(m *Metrics) resources.ValidationError {
	var v resources.ValidationError
	if m == nil {
		return v
	}
	used := map[string]bool{}
	for i, b := range m.Backends {
		at := resources.FieldPath("backends").Index(i)
		if used[b.Name] {
			v.AddViolation(at.Field("name"), fmt.Sprintf("%q name is already used for another backend", b.Name))
		}
		v.Add(validateMetricsBackend(at, &b))
		used[b.Name] = true
	}
	if m.EnabledBackend != "" && !used[m.EnabledBackend] {
		v.AddViolation(resources.FieldPath("enabledBackend"), "has to be set to one of the backends in the mesh")
	}
	return v
}

func validateConstraints(c *Constraints) resources.ValidationError {
	var v resources.ValidationError
	if c == nil || c.DataplaneProxy == nil {
		return v
	}
	dp := resources.FieldPath("dataplaneProxy")
	opts := resources.TagsOptions{RequireAtLeastOne: true}
	for i, r := range c.DataplaneProxy.Requirements {
		v.Add(resources.ValidateSelector(dp.Field("requirements").Index(i).Field("tags"), r.Tags, opts))
	}
	for i, r := range c.DataplaneProxy.Restrictions {
		v.Add(resources.ValidateSelector(dp.Field("restrictions").Index(i).Field("tags"), r.Tags, opts))
	}
	return v
}

// ValidateMeta implements resources.MetaValidator: the checks Kuma's mesh manager makes with
// the mesh name (its length, and the secret names a builtin CA derives from it).
func (m *Mesh) ValidateMeta(meta resources.Meta) resources.ValidationError {
	var v resources.ValidationError
	if len(meta.Name) > 63 {
		v.AddViolation(resources.FieldPath("name"), "cannot be longer than 63 characters")
	}
	if m.MTLS == nil {
		return v
	}
	// Kuma reports these at "mtls.backends.name", without an index.
	at := resources.FieldPath("mtls").Field("backends").Field("name")
	for _, b := range m.MTLS.Backends {
		if b.Type != CABuiltin {
			continue
		}
		secret := fmt.Sprintf("%s.ca-builtin-cert-%s", meta.Name, b.Name)
		if len(secret) > 255 {
			v.AddViolation(at, "Backend name is too long. Max length: 255")
		}
		if !isDNSName(secret) || strings.ToLower(secret) != secret {
			v.AddViolation(at, fmt.Sprintf("%q name must be valid dns name", b.Name))
		}
	}
	return v
}

// MetaWarnings implements resources.MetaWarner: Kuma deprecates Mesh names that are not RFC 1035
// labels.
func (m *Mesh) MetaWarnings(meta resources.Meta) []string {
	return dns1035NameWarning("Mesh", meta)
}

func dns1035NameWarning(typ string, meta resources.Meta) []string {
	name := meta.Labels[resources.LabelDisplayName]
	if name == "" {
		name = meta.Name
	}
	errs := resources.IsDNS1035Label(name)
	if len(errs) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Invalid %s resource name: '%s'. It does not conform to the DNS format (RFC 1035). "+
		"This is deprecated. Errors: %s", typ, name, strings.Join(errs, "; "))}
}

var kumaDurationRegexp = regexp.MustCompile(`^(\d+)(y|w|d|h|m|s|ms)$`)

// ParseKumaDuration parses Kuma's own duration format used by CA settings: "0" or a number and
// one unit of y, w, d, h, m, s or ms ("1d", "720h").
func ParseKumaDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	m := kumaDurationRegexp.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("not a valid duration string: %q", s)
	}
	n, _ := strconv.Atoi(m[1])
	ms := int64(n)
	switch m[2] {
	case "y":
		ms *= 1000 * 60 * 60 * 24 * 365
	case "w":
		ms *= 1000 * 60 * 60 * 24 * 7
	case "d":
		ms *= 1000 * 60 * 60 * 24
	case "h":
		ms *= 1000 * 60 * 60
	case "m":
		ms *= 1000 * 60
	case "s":
		ms *= 1000
	}
	return Duration(ms * 1e6), nil
}
