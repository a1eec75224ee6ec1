package core_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

type validationCase struct {
	name string
	doc  string // YAML, without type/mesh/name
	want []v
}

// v is a violation in a table (resources.Violation, with short field names).
type v struct{ Field, Message string }

func violationsOf(err resources.ValidationError) []v {
	var out []v
	for _, x := range err.Violations {
		out = append(out, v{x.Field, x.Message})
	}
	return out
}

// runValidation decodes each case as a resource of desc and compares the spec's violations.
// Many cases and messages are Kuma 2.14's own validator test cases.
func runValidation(t *testing.T, desc *resources.Descriptor, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			head := "type: " + desc.Name + "\nname: x\n"
			if desc.Scope == resources.ScopeMesh {
				head += "mesh: default\n"
			}
			r, err := resources.DecodeAs(desc, []byte(head+dedent(tc.doc)))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got := violationsOf(r.Spec.Validate())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// dedent removes the indentation of the first non-empty line from every line.
func dedent(s string) string {
	lines := strings.Split(strings.TrimLeft(s, "\n"), "\n")
	if len(lines) == 0 {
		return s
	}
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		if len(l) >= indent {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

const validInbound = `
    networking:
      address: 192.168.0.1
      inbound:
        - port: 8080
          tags:
            kuma.io/service: backend`

func TestDataplaneValidation(t *testing.T) {
	runValidation(t, core.DataplaneType, []validationCase{
		{"valid sidecar", validInbound, nil},
		{"valid: domain name address", `
            networking:
              address: backend.example.com
              inbound:
                - port: 8080`, nil},
		{"valid: 2.14 inbound without tags", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  name: http`, nil},
		{"valid: outbound-only", `
            networking:
              address: 192.168.0.1
              outbound:
                - port: 3333
                  tags:
                    kuma.io/service: redis`, nil},
		{"valid: delegated gateway", `
            networking:
              address: 192.168.0.1
              gateway:
                tags:
                  kuma.io/service: gateway`, nil},
		{"missing networking", ``, []v{{"networking", "must be defined"}}},
		{"empty address", `
            networking:
              inbound:
                - port: 8080`, []v{{"networking.address", "address can't be empty"}}},
		{"wildcard address", `
            networking:
              address: 0.0.0.0`, []v{{"networking.address", "must not be 0.0.0.0 or ::"}}},
		{"invalid address", `
            networking:
              address: "!@#"`, []v{{"networking.address", "address has to be valid IP address or domain name"}}},
		{"inbound ports out of range", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 0
                  servicePort: 70000
                  tags:
                    kuma.io/service: backend
                - port: 65536
                  tags:
                    kuma.io/service: backend`, []v{
			{"networking.inbound[0].port", "port must be in the range [1, 65535]"},
			{"networking.inbound[0].servicePort", "port must be in the range [1, 65535]"},
			{"networking.inbound[1].port", "port must be in the range [1, 65535]"},
		}},
		{"inbound tags without kuma.io/service", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  tags:
                    version: v1`, []v{{`networking.inbound[0].tags["kuma.io/service"]`, "tag has to exist"}}},
		{"inbound tag charset and empty value", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  tags:
                    kuma.io/service: backend
                    inv@lidT/gN%me: x
                    version: ""
                    invalidTagValue: inv@lid`, []v{
			{`networking.inbound[0].tags["inv@lidT/gN%me"]`, "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"},
			{`networking.inbound[0].tags["invalidTagValue"]`, "tag value must consist of alphanumeric characters, dots, dashes and underscores"},
			{`networking.inbound[0].tags["version"]`, "tag value must be non-empty"},
		}},
		{"inbound protocol tag empty", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  tags:
                    kuma.io/service: backend
                    kuma.io/protocol: ""`, []v{
			{`networking.inbound[0].tags["kuma.io/protocol"]`, `tag "kuma.io/protocol" has an invalid value "". Allowed values: grpc, http, http2, kafka, tcp`},
			{`networking.inbound[0].tags["kuma.io/protocol"]`, "tag value must be non-empty"},
		}},
		{"inbound protocol field", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  protocol: quic`, []v{
			{"networking.inbound[0].protocol", `has an invalid value "quic". Allowed values: grpc, http, http2, kafka, tcp`},
		}},
		{"inbound addresses", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  address: not-an-ip
                  serviceAddress: also-not
                - port: 8081
                  serviceAddress: 192.168.0.1`, []v{
			{"networking.inbound[0].serviceAddress", "serviceAddress has to be valid IP address"},
			{"networking.inbound[0].address", "address has to be valid IP address"},
			{"networking.inbound[1].serviceAddress", "serviceAddress and servicePort has to differ from address and port"},
		}},
		{"service probe", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  serviceProbe:
                    timeout: 1s
                    interval: "0"
                    healthyThreshold: 5
                    unhealthyThreshold: 0
                    tcp: {}`, []v{
			{"networking.inbound[0].serviceProbe.interval", "must have a positive value"},
			{"networking.inbound[0].serviceProbe.unhealthyThreshold", "must have a positive value"},
		}},
		{"admin port equal to inbound", `
            networking:
              address: 192.168.0.1
              admin:
                port: 8080
              inbound:
                - port: 8080
                  servicePort: 7777
                  address: 127.0.0.1`, []v{{"networking.admin.port", "must differ from inbound"}}},
		{"admin port equal to outbound", `
            networking:
              address: 192.168.0.1
              admin:
                port: 3333
              outbound:
                - port: 3333
                  tags:
                    kuma.io/service: redis`, []v{{"networking.admin.port", "must differ from outbound"}}},
		{"admin port on another interface", `
            networking:
              address: 192.168.0.1
              admin:
                port: 8080
              inbound:
                - port: 8080
                  servicePort: 7777`, nil},
		{"outbound without service", `
            networking:
              address: 192.168.0.1
              outbound:
                - port: 3333
                - port: 0
                  address: bad
                  tags:
                    version: v1`, []v{
			{"networking.outbound[0].tags", `mandatory tag "kuma.io/service" is missing`},
			{"networking.outbound[1].port", "port must be in the range [1, 65535]"},
			{"networking.outbound[1].address", "address has to be valid IP address"},
			{"networking.outbound[1].tags", `mandatory tag "kuma.io/service" is missing`},
		}},
		{"empty backendRef", `
            networking:
              address: 192.168.0.1
              outbound:
                - port: 3333
                  backendRef: {}`, []v{
			{"networking.outbound[0].backendRef.kind", "invalid value. Available values are: MeshExternalService,MeshMultiZoneService,MeshService"},
			{"networking.outbound[0].backendRef", "either 'name' or 'labels' should be specified"},
			{"networking.outbound[0].backendRef.port", "port must be in the range [1, 65535]"},
		}},
		{"backendRef with tags", `
            networking:
              address: 192.168.0.1
              outbound:
                - port: 3333
                  tags:
                    kuma.io/service: xyz
                  backendRef:
                    kind: MeshService
                    name: xyz
                    port: 8080
                - port: 3334
                  backendRef:
                    kind: MeshExternalService
                    name: xyz`, []v{
			{"networking.outbound[0].backendRef", "both backendRef and tags/service cannot be defined"},
		}},
		{"reachable backends (Kuma's path typo kept)", `
            networking:
              address: 192.168.0.1
              transparentProxying:
                reachableBackends:
                  refs:
                  - kind: Something
                    name: first
                    labels:
                      kuma.io/test: test
                  - kind: MeshService
                    name: first$-.kuma
                  - kind: MeshService
                  - kind: MeshService
                    namespace: xyz`, []v{
			{"networking.transparentProxing.reachableBackends.refs[0].kind", "invalid value. Available values are: MeshExternalService,MeshMultiZoneService,MeshService"},
			{"networking.transparentProxing.reachableBackends.refs[0].labels", "labels cannot be defined when name is specified"},
			{"networking.transparentProxing.reachableBackends.refs[1].name", "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"},
			{"networking.transparentProxing.reachableBackends.refs[2].name", "name or labels are required"},
			{"networking.transparentProxing.reachableBackends.refs[3].name", "name is required, when namespace is defined"},
		}},
		{"delegated gateway with inbound", `
            networking:
              address: 192.168.0.1
              gateway:
                tags:
                  kuma.io/service: gateway
                  kuma.io/protocol: http
              inbound:
                - port: 8080`, []v{
			{"networking.inbound", "inbound cannot be defined for delegated gateways"},
			{`networking.gateway.tags["kuma.io/protocol"]`, `other values than tcp are not allowed, provided value "http"`},
		}},
		{"builtin gateway", `
            networking:
              address: 192.168.0.1
              gateway:
                type: BUILTIN
                tags:
                  version: v1
              outbound:
                - port: 3333
                  tags:
                    kuma.io/service: redis
              listeners:
                - type: ZoneIngress
                  address: 192.168.0.1
                  port: 10001
            probes:
              port: 9000`, []v{
			{"networking.outbound", "outbound cannot be defined for builtin gateways"},
			{"networking.listeners", "listeners cannot be defined for builtin gateways"},
			{"networking.probes", "probes cannot be defined for builtin gateways"},
			{"networking.gateway.tags", `mandatory tag "kuma.io/service" is missing`},
		}},
		{"probes", `
            networking:
              address: 192.168.0.1
            probes:
              endpoints:
                - inboundPort: 8080
                  inboundPath: /healthz
                  path: /8080/healthz
                - inboundPort: 0
                  inboundPath: healthz
                  path: ""`, []v{
			{"probes.port", "port must be in the range [1, 65535]"},
			{"probes.endpoints[1].inboundPort", "port must be in the range [1, 65535]"},
			{"probes.endpoints[1].inboundPath", "should be a valid URL Path"},
			{"probes.endpoints[1].path", "should be a valid URL Path"},
		}},
		{"metrics", `
            networking:
              address: 192.168.0.1
            metrics:
              type: prometheus
              conf:
                aggregate:
                - name: app
                  port: 123
                - name: app
                  port: 999`, []v{
			{"metrics.conf.aggregate[1].name", "duplicate entry: app, values have to be unique"},
		}},
		{"metrics type", `
            networking:
              address: 192.168.0.1
            metrics:
              type: custom-backend`, []v{{"metrics.type", `unknown backend type. Available backends: "prometheus"`}}},
		{"metrics skipMTLS with tls", `
            networking:
              address: 192.168.0.1
            metrics:
              type: prometheus
              conf:
                skipMTLS: true
                tls:
                  mode: providedTLS`, []v{{"metrics.conf", "skipMTLS and tls configuration cannot be defined together"}}},
		{"listeners", `
            networking:
              address: 192.168.0.1
              inbound:
                - port: 8080
                  name: http
              listeners:
                - port: 10001
                  name: http
                - type: ZoneIngress
                  address: 192.168.0.1
                  port: 8080
                - type: ZoneEgress
                  address: 192.168.0.1
                  port: 8080`, []v{
			{"networking.listeners[0].type", "type must be ZoneIngress or ZoneEgress"},
			{"networking.listeners[0].address", "address can't be empty"},
			{"networking.listeners[0].name", `name "http" must be unique across inbounds and listeners`},
			{"networking.listeners[1]", "address:port 192.168.0.1:8080 collides with an inbound listener"},
			{"networking.listeners[2]", "address:port 192.168.0.1:8080 is used by listeners of different types"},
			{"networking.listeners[2]", "address:port 192.168.0.1:8080 collides with an inbound listener"},
		}},
	})
}

func TestMeshValidation(t *testing.T) {
	runValidation(t, core.MeshType, []validationCase{
		{"empty mesh", ``, nil},
		{"builtin CA", `
            mtls:
              enabledBackend: ca-1
              backends:
                - name: ca-1
                  type: builtin`, nil},
		{"provided CA", `
            mtls:
              backends:
                - name: ca-1
                  type: provided
                  conf:
                    cert: {secret: my-cert}
                    key: {file: /etc/key.pem}`, nil},
		{"two backends of the same name", `
            mtls:
              backends:
                - name: backend-1
                  type: builtin
                - name: backend-1
                  type: builtin`, []v{
			{"mtls.backends", "cannot have more than 1 backends"},
			{"mtls.backends[1].name", `"backend-1" name is already used for another backend`},
		}},
		{"enabledBackend of unknown name", `
            mtls:
              enabledBackend: backend-2
              backends:
                - name: backend-1
                  type: builtin`, []v{{"mtls.enabledBackend", "has to be set to one of the backends in the mesh"}}},
		{"dpCert expiration", `
            mtls:
              backends:
                - name: backend-1
                  type: builtin
                  dpCert:
                    rotation:
                      expiration: 1u`, []v{{"mtls.dpcert.rotation.expiration", "has to be a valid format"}}},
		{"unknown CA type", `
            mtls:
              backends:
                - name: backend-1
                  type: vault`, []v{{"mtls.backends[0].type", "could not find installed plugin for this type"}}},
		{"provided CA without cert and key", `
            mtls:
              backends:
                - name: ca-1
                  type: provided
                  conf:
                    cert: {secret: ""}`, []v{
			{"mtls.backends[0].conf.cert.secret", "cannot be empty"},
			{"mtls.backends[0].conf.key", "has to be defined"},
		}},
		{"provided CA, validation skipped", `
            mtls:
              skipValidation: true
              backends:
                - name: ca-1
                  type: provided`, nil},
		{"logging", `
            logging:
              defaultBackend: nope
              backends:
                - name: ""
                  type: tcp
                  conf:
                    address: 127.0.0.1
                - name: file
                  type: file
                - name: file
                  type: syslog`, []v{
			{"logging.backends[0].name", "cannot be empty"},
			{"logging.backends[0].config.address", "has to be in format of HOST:PORT"},
			{"logging.backends[1].config.path", "cannot be empty"},
			{"logging.backends[2].type", `unknown backend type. Available backends: "tcp", "file"`},
			{"logging.backends[2].name", `"file" name is already used for another backend`},
			{"logging.defaultBackend", "has to be set to one of the logging backend in mesh"},
		}},
		{"tracing", `
            tracing:
              defaultBackend: nope
              backends:
                - name: zipkin
                  type: zipkin
                  sampling: 100.1
                  conf:
                    url: http://zipkin.local/api/v2/spans
                    apiVersion: httpXml
                - name: dd
                  type: datadog
                  conf:
                    port: 0
                - name: x
                  type: jaeger`, []v{
			{"tracing.backends[0].sampling", "has to be in [0.0 - 100.0] range"},
			{"tracing.backends[0].config.apiVersion", "has invalid value. Allowed values: httpJsonV1, httpJson, httpProto"},
			{"tracing.backends[0].config.url", "port has to be explicitly specified"},
			{"tracing.backends[1].config.address", "cannot be empty"},
			{"tracing.backends[1].config.port", "port must be in the range [1, 65535]"},
			{"tracing.backends[2].type", `unknown backend type. Available backends: "zipkin", "datadog"`},
			{"tracing.defaultBackend", "has to be set to one of the tracing backend in mesh"},
		}},
		{"metrics", `
            metrics:
              enabledBackend: nope
              backends:
                - name: prom
                  type: prometheus
                  conf:
                    envoy:
                      filterRegex: "(unclosed"
                - name: prom
                  type: statsd`, []v{
			{"metrics.backends[0].conf.envoy.filterRegex", "provided regexp isn't correct: error parsing regexp: missing closing ): `(unclosed`"},
			{"metrics.backends[1].name", `"prom" name is already used for another backend`},
			{"metrics.backends[1].type", `unknown backend type. Available backends: "prometheus"`},
			{"metrics.enabledBackend", "has to be set to one of the backends in the mesh"},
		}},
		{"constraints", `
            constraints:
              dataplaneProxy:
                requirements:
                  - tags: {}
                  - tags:
                      "": ""
                restrictions:
                  - tags:
                      "!@#$": "!@#$"`, []v{
			{"constraints.dataplaneProxy.requirements[0].tags", "must have at least one tag"},
			{"constraints.dataplaneProxy.requirements[1].tags", "tag name must be non-empty"},
			{`constraints.dataplaneProxy.requirements[1].tags[""]`, "tag value must be non-empty"},
			{`constraints.dataplaneProxy.restrictions[0].tags["!@#$"]`, "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"},
			{`constraints.dataplaneProxy.restrictions[0].tags["!@#$"]`, `tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"`},
		}},
		{"zone egress needs mTLS", `
            routing:
              zoneEgress: true`, []v{{"mtls", "has to be set when zoneEgress enabled"}}},
	})
}

func TestMeshMetaRules(t *testing.T) {
	m := &core.Mesh{MTLS: &core.MeshMTLS{Backends: []core.CABackend{{Name: "CA_1", Type: core.CABuiltin}}}}
	got := m.ValidateMeta(resources.Meta{Name: strings.Repeat("m", 64)})
	want := []v{
		{"name", "cannot be longer than 63 characters"},
		{"mtls.backends.name", `"CA_1" name must be valid dns name`},
	}
	if diff := cmp.Diff(want, violationsOf(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Kuma's put_meshes_04: a name that is not an RFC 1035 label is accepted with a warning.
	warnings := resources.Warnings(&resources.Resource{Desc: core.MeshType, Meta: resources.Meta{Name: "aa.a"}, Spec: &core.Mesh{}})
	wantWarning := []string{"Invalid Mesh resource name: 'aa.a'. It does not conform to the DNS format (RFC 1035). This is deprecated. Errors: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"}
	if diff := cmp.Diff(wantWarning, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if w := resources.Warnings(&resources.Resource{Desc: core.ZoneType, Meta: resources.Meta{Name: "zone-1"}, Spec: &core.Zone{}}); w != nil {
		t.Errorf("zone-1 warned: %v", w)
	}
}

func TestZoneIngressValidation(t *testing.T) {
	runValidation(t, core.ZoneIngressType, []validationCase{
		{"valid", `
            networking:
              address: 192.168.0.1
              advertisedAddress: 10.0.0.1
              port: 10001
              advertisedPort: 1234`, nil},
		{"no port", `
            networking:
              address: 192.168.0.1`, []v{{"networking.port", "port must be in the range [1, 65535]"}}},
		{"advertised address, port and available services", `
            networking:
              address: 192.168.0.1
              advertisedAddress: "!@#"
              port: 10001
              advertisedPort: 100000
            availableServices:
              - tags:
                  kuma.io/service: backend
              - tags:
                  version: v1
              - tags:
                  kuma.io/service: ""`, []v{
			{"networking.advertisedAddress.address", "address has to be valid IP address or domain name"},
			{"networking.advertisedPort", "port must be in the range [1, 65535]"},
			{"availableService[1].tags", `mandatory tag "kuma.io/service" is missing`},
			{`availableService[2].tags["kuma.io/service"]`, "tag value must be non-empty"},
		}},
		{"advertised pair incomplete", `
            networking:
              port: 10001
              advertisedPort: 1234`, []v{{"networking.advertisedAddress", "has to be defined with advertisedPort"}}},
		{"admin port equal to port", `
            networking:
              address: 127.0.0.1
              port: 10001
              admin:
                port: 10001`, []v{{"networking.admin.port", "must differ from port"}}},
		{"admin port equal to port on another interface", `
            networking:
              address: 192.168.0.1
              port: 10001
              admin:
                port: 10001`, nil},
	})
}

func TestZoneEgressValidation(t *testing.T) {
	runValidation(t, core.ZoneEgressType, []validationCase{
		{"valid", `
            networking:
              address: 192.168.0.1
              port: 10002`, nil},
		{"invalid", `
            networking:
              address: "0.0.0.0"
              port: 0
              admin:
                port: 0`, []v{
			{"networking.admin.port", "must differ from port"},
			{"networking.address.address", "must not be 0.0.0.0 or ::"},
			{"networking.port", "port must be in the range [1, 65535]"},
		}},
	})
}

func TestZoneAndSecretAcceptAnySpec(t *testing.T) {
	// Kuma 2.14 has no validator for these specs: a Secret without data is accepted.
	runValidation(t, core.ZoneType, []validationCase{{"disabled", "enabled: false", nil}})
	runValidation(t, core.SecretType, []validationCase{{"no data", "", nil}})
	runValidation(t, core.GlobalSecretType, []validationCase{{"data", "data: dGVzdA==", nil}})
	if z := (&core.Zone{}); !z.IsEnabled() {
		t.Error("a zone without enabled must be enabled")
	}
	off := false
	if z := (&core.Zone{Enabled: &off}); z.IsEnabled() {
		t.Error("enabled: false must disable the zone")
	}
}

func TestEnumsAcceptNumbersAndNames(t *testing.T) {
	r, err := resources.DecodeAs(core.DataplaneType, []byte(`{"mesh":"m","name":"d","networking":{"gateway":{"type":1},"inbound":[{"state":"Ready"},{"state":2}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	dp := r.Spec.(*core.Dataplane)
	if !dp.IsBuiltinGateway() || dp.Networking.Gateway.Type.String() != "BUILTIN" {
		t.Errorf("gateway type %q", dp.Networking.Gateway.Type)
	}
	if s := dp.Networking.Inbound[0].State; s != core.InboundReady || s.String() != "Ready" {
		t.Errorf("state %q", s)
	}
	if s := dp.Networking.Inbound[1].State; s != core.InboundIgnored {
		t.Errorf("state %q", s)
	}
}

func TestDurationsRenderLikeJSONPB(t *testing.T) {
	for in, want := range map[string]string{
		`"10s"`: `"10s"`, `"1m30s"`: `"90s"`, `"1.5s"`: `"1.500s"`, `"1us"`: `"0.000001s"`,
		`"1ns"`: `"0.000000001s"`, `"-2s"`: `"-2s"`, `"0"`: `"0s"`,
	} {
		var d core.Duration
		if err := d.UnmarshalJSON([]byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got, _ := d.MarshalJSON()
		if string(got) != want {
			t.Errorf("%s rendered %s, want %s", in, got, want)
		}
	}
}

func TestParseKumaDuration(t *testing.T) {
	for in, ok := range map[string]bool{"0": true, "1d": true, "10y": true, "30ms": true, "1h30m": false, "": false, "5": false} {
		if _, err := core.ParseKumaDuration(in); (err == nil) != ok {
			t.Errorf("ParseKumaDuration(%q) err = %v", in, err)
		}
	}
}

func TestSpecLabels(t *testing.T) {
	cases := []struct {
		spec resources.SpecLabeler
		want map[string]string
	}{
		{&core.Dataplane{}, map[string]string{resources.LabelProxyType: "sidecar", resources.LabelListenerZoneIngress: "", resources.LabelListenerZoneEgress: ""}},
		{&core.Dataplane{Networking: &core.DataplaneNetworking{Gateway: &core.Gateway{Type: core.GatewayBuiltin}}},
			map[string]string{resources.LabelProxyType: "gateway", resources.LabelListenerZoneIngress: "", resources.LabelListenerZoneEgress: ""}},
		{&core.Dataplane{Networking: &core.DataplaneNetworking{Gateway: &core.Gateway{}}},
			map[string]string{resources.LabelProxyType: "sidecar", resources.LabelListenerZoneIngress: "", resources.LabelListenerZoneEgress: ""}},
		{&core.ZoneIngress{}, map[string]string{resources.LabelProxyType: "zoneingress"}},
		{&core.ZoneEgress{}, map[string]string{resources.LabelProxyType: "zoneegress"}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, c.spec.SpecLabels()); diff != "" {
			t.Errorf("%T (-want +got):\n%s", c.spec, diff)
		}
	}
}
