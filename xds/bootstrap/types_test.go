package bootstrap

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jetmesh/jetmesh/resources/core"
)

// A request as kuma-dp 2.14 sends it (its shape, indented with one space).
const kumaDPRequest = `{
 "mesh": "demo",
 "name": "sample",
 "proxyType": "dataplane",
 "dataplaneToken": "token",
 "dataplaneResource": "{\"type\":\"Dataplane\",\"mesh\":\"demo\",\"name\":\"sample\"}",
 "version": {
  "kumaDp": {"version": "2.14.3", "gitTag": "v2.14.3", "gitCommit": "deadbeef", "buildDate": "2026-01-01T00:00:00Z"},
  "envoy": {"version": "1.38.2", "build": "x/1.38.2/Clean/RELEASE/BoringSSL", "kumaDpCompatible": true}
 },
 "caCert": "",
 "dynamicMetadata": {"test": "value"},
 "otelEnv": {"present": true},
 "dnsPort": 15054,
 "readinessPort": 9902,
 "appProbeProxyDisabled": true,
 "operatingSystem": "linux",
 "features": ["feature-tcp-accesslog-via-named-pipe"],
 "resources": {"maxHeapSizeBytes": 1024},
 "workdir": "/tmp",
 "metricsResources": {"certPath": "/tmp/cert.pem", "keyPath": "/tmp/key.pem"},
 "systemCaPath": "",
 "dataplaneConfig": {"ipFamilyMode": "dualstack"},
 "ipv6Enabled": true,
 "spireResources": {"socketPath": "/run/spire.sock"}
}`

func TestRequestWireNames(t *testing.T) {
	var r Request
	if err := json.Unmarshal([]byte(kumaDPRequest), &r); err != nil {
		t.Fatal(err)
	}
	if !r.AppProbeProxyEnabled || r.Version.Envoy.Version != "1.38.2" || r.Resources.MaxHeapSizeBytes != 1024 ||
		r.SpireResources.SocketPath != "/run/spire.sock" || r.MetricsResources.KeyPath != "/tmp/key.pem" ||
		r.DNSPort != 15054 || string(r.TransparentProxy) != `{"ipFamilyMode": "dualstack"}` {
		t.Errorf("decoded %+v", r)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(kumaDPRequest), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-kuma-dp +ours):\n%s", diff)
	}
}

func TestResponseWire(t *testing.T) {
	r := Response{Bootstrap: []byte("admin: {}\n")}
	r.KumaSidecarConfiguration.Networking.Address = "127.0.0.1"
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"bootstrap":"YWRtaW46IHt9Cg==","kumaSidecarConfiguration":{"networking":{"corefileTemplate":null,"address":"127.0.0.1"},"metrics":{"aggregate":null}}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestParseProxyID(t *testing.T) {
	for _, tc := range []struct {
		id, mesh, name string
		bad            bool
	}{
		{id: "default.backend-1", mesh: "default", name: "backend-1"},
		{id: ".ingress-1", mesh: "", name: "ingress-1"},
		{id: "mesh.name.namespace", mesh: "mesh", name: "name.namespace"},
		{id: "", bad: true},
		{id: "nodot", bad: true},
		{id: "mesh.", bad: true},
	} {
		mesh, name, err := ParseProxyID(tc.id)
		if tc.bad != (err != nil) || mesh != tc.mesh || name != tc.name {
			t.Errorf("ParseProxyID(%q) = %q, %q, %v", tc.id, mesh, name, err)
		}
		if !tc.bad && ProxyID(mesh, name) != tc.id {
			t.Errorf("ProxyID(%q, %q) = %q", mesh, name, ProxyID(mesh, name))
		}
	}
}

func TestServiceName(t *testing.T) {
	dp := &core.Dataplane{Networking: &core.DataplaneNetworking{Inbound: []core.Inbound{
		{Tags: map[string]string{"kuma.io/service": "web"}},
		{Tags: map[string]string{"kuma.io/service": "api"}},
	}}}
	gw := &core.Dataplane{Networking: &core.DataplaneNetworking{Gateway: &core.Gateway{Tags: map[string]string{"kuma.io/service": "edge"}}}}
	for _, tc := range []struct {
		dp   *core.Dataplane
		want string
	}{{dp, "api"}, {gw, "edge"}, {&core.Dataplane{}, ServiceUnknown}, {nil, ServiceUnknown}} {
		if got := ServiceName(tc.dp); got != tc.want {
			t.Errorf("ServiceName = %q, want %q", got, tc.want)
		}
	}
}

func TestCheckCA(t *testing.T) {
	if err := CheckCA(testCA(t)); err != nil {
		t.Errorf("CA: %v", err)
	}
	if err := CheckCA([]byte("nope")); !errors.Is(err, ErrBadCertificate) {
		t.Errorf("garbage: %v", err)
	}
	leaf, err := os.ReadFile("testdata/leaf.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCA(leaf); !errors.Is(err, ErrNotCA) {
		t.Errorf("leaf: %v", err)
	}
}

func TestNewParamsPrecedence(t *testing.T) {
	req := Request{Name: "n", Mesh: "m", CaCert: "REQ-CA", Features: []string{"a"}}
	s := ServerParams{XDSHost: "override", XDSPort: 5678, AdminPort: 9901, CACert: []byte("SERVER-CA"), HDS: true}
	p := NewParams(req, "requested-host", s, Proxy{AdminPort: 1234})
	if p.XDSHost != "override" || string(p.CACert) != "REQ-CA" || p.AdminPort != 1234 || !p.HDS || p.ProxyType != ProxyTypeDataplane {
		t.Errorf("params %+v", p)
	}
	req.Features[0] = "changed"
	if !slices.Equal(p.Features, []string{"a"}) {
		t.Error("NewParams must not alias the request's features")
	}
}
