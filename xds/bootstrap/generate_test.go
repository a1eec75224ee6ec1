package bootstrap

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	fileaccesslogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/jetmesh/jetmesh/xds/validate"
)

var update = flag.Bool("update", false, "rewrite golden files")

func updateGolden() bool { return *update || os.Getenv("UPDATE_GOLDEN") == "1" }

func testCA(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testVersion = Version{
	KumaDp: KumaDpVersion{Version: "2.14.3", GitTag: "jetmesh-dp/dev", GitCommit: "abc123", BuildDate: "2026-01-02T03:04:05Z"},
	Envoy:  EnvoyVersion{Version: "1.38.2", Build: "rev/1.38.2/Clean/RELEASE/BoringSSL", KumaDpCompatible: true},
}

// goldenCases build their Params through NewParams, the way the control plane's handler does.
func goldenCases(t *testing.T) map[string]Params {
	ca := testCA(t)
	server := ServerParams{
		XDSPort: 5678, XDSConnectTimeout: time.Second, AdminAddress: "127.0.0.1", AdminPort: 9901,
		AdminAccessLogPath: "/dev/null", CACert: ca, HDS: true,
	}
	sidecar := Request{
		Mesh: "default", Name: "backend-1", ProxyType: "dataplane", DataplaneToken: "header.claims.sig",
		DataplaneResource: `{"type":"Dataplane","mesh":"default","name":"backend-1","networking":{"address":"192.168.0.2","inbound":[{"port":8000,"servicePort":80,"tags":{"kuma.io/service":"backend"}}]}}`,
		Version:           testVersion, DynamicMetadata: map[string]string{"HOST_IP": "10.0.0.7"},
		DNSPort: 15054, ReadinessPort: 9902, OperatingSystem: "linux",
		Features: []string{FeatureStrictInboundPorts, FeatureReusePort}, Workdir: "/tmp/jetmesh-dp-1",
		SystemCaPath: "/etc/ssl/certs/ca-certificates.crt", IPv6Enabled: true,
	}
	ingress := Request{
		Name: "ingress-1", ProxyType: "ingress", DataplaneToken: "zone.token.sig", Version: testVersion,
		ReadinessPort: 9902, Features: []string{FeatureReusePort}, Workdir: "/tmp/jetmesh-dp-2",
	}
	delta := sidecar
	delta.Features = []string{FeatureDeltaGRPC, FeatureStrictInboundPorts}
	noToken := sidecar
	noToken.DataplaneToken, noToken.DataplaneResource, noToken.DynamicMetadata = "", "", nil
	gateway := Request{
		Mesh: "default", Name: "edge-1", ProxyType: "dataplane", Version: testVersion,
		Resources: ProxyResources{MaxHeapSizeBytes: 1 << 30}, Workdir: "/tmp/jetmesh-dp-3",
	}
	noCA := server
	noCA.CACert = nil
	uds := server
	uds.AdminUnixSocket, uds.XDSHost = true, "cp.example.internal"
	return map[string]Params{
		"sidecar-token":     NewParams(sidecar, "localhost", server, Proxy{Service: "backend"}),
		"ingress":           NewParams(ingress, "10.1.2.3", server, Proxy{AdminPort: 9911}),
		"delta":             NewParams(delta, "10.1.2.3", server, Proxy{Service: "backend"}),
		"no-token":          NewParams(noToken, "localhost", noCA, Proxy{Service: "backend"}),
		"gateway":           NewParams(gateway, "localhost", server, Proxy{Service: "edge", BuiltinGateway: true}),
		"admin-unix-socket": NewParams(sidecar, "localhost", uds, Proxy{Service: "backend"}),
	}
}

func TestGenerateGolden(t *testing.T) {
	for name, p := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			b, err := Generate(p)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if err := validate.Deep(b); err != nil { // Envoy validates typed configs too
				t.Error(err)
			}
			got, err := Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden.yaml")
			if updateGolden() {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantYAML, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
			}
			want, err := Unmarshal(wantYAML)
			if err != nil {
				t.Fatalf("golden %s: %v", path, err)
			}
			if diff := cmp.Diff(want, b, protocmp.Transform()); diff != "" {
				t.Errorf("bootstrap differs from %s (-want +got; UPDATE_GOLDEN=1 rewrites):\n%s", path, diff)
			}
		})
	}
}

// TestValidatorSeesInsideAnys proves the validator is not vacuous: an invalid message packed
// in an Any deep inside a valid bootstrap is reported.
func TestValidatorSeesInsideAnys(t *testing.T) {
	b := mustGenerate(t, goldenCases(t)["sidecar-token"])
	bad, err := anypb.New(&fileaccesslogv3.FileAccessLog{}) // path is required
	if err != nil {
		t.Fatal(err)
	}
	b.Admin.AccessLog[0].ConfigType = &accesslogv3.AccessLog_TypedConfig{TypedConfig: bad}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("the outer bootstrap should be valid on its own: %v", err)
	}
	if errs := joined(validate.Deep(b)); len(errs) != 1 {
		t.Errorf("want one error from inside the Any, got %v", errs)
	}
}

// joined returns the errors err joins (errors.Join), or err alone.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

func TestGenerateDetails(t *testing.T) {
	cases := goldenCases(t)
	sidecar := mustGenerate(t, cases["sidecar-token"])
	md := sidecar.GetNode().GetMetadata().GetFields()
	for key, want := range map[string]string{
		MetadataAdminPort: "9901", MetadataAdminAddress: "127.0.0.1", MetadataProxyType: "dataplane",
		MetadataReadinessPort: "9902", MetadataDNSPort: "15054", MetadataWorkdir: "/tmp/jetmesh-dp-1",
	} {
		if got := md[key].GetStringValue(); got != want {
			t.Errorf("metadata %s = %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(md[MetadataDataplaneResource].GetStringValue(), `"name":"backend-1"`) {
		t.Errorf("metadata %s lacks the inline dataplane", MetadataDataplaneResource)
	}
	if _, ok := md["dataplane.token"]; ok {
		t.Error("the token must not be in node metadata")
	}
	if got := sidecar.GetNode().GetId(); got != "default.backend-1" {
		t.Errorf("node id %q", got)
	}
	ads := sidecar.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType() != corev3.ApiConfigSource_GRPC || ads.GetGrpcServices()[0].GetInitialMetadata()[0].GetValue() != "header.claims.sig" {
		t.Errorf("ads config %v", ads)
	}
	if got := mustGenerate(t, cases["delta"]).GetDynamicResources().GetAdsConfig().GetApiType(); got != corev3.ApiConfigSource_DELTA_GRPC {
		t.Errorf("delta api type %v", got)
	}
	ingress := mustGenerate(t, cases["ingress"])
	if got := ingress.GetNode().GetId(); got != ".ingress-1" {
		t.Errorf("ingress node id %q", got)
	}
	if ingress.GetNode().GetCluster() != "ingress" || ingress.GetHdsConfig() != nil {
		t.Errorf("ingress cluster %q, hds %v", ingress.GetNode().GetCluster(), ingress.GetHdsConfig())
	}
	if got := ingress.GetAdmin().GetAddress().GetSocketAddress().GetPortValue(); got != 9911 {
		t.Errorf("ingress admin port %d, want the resource's 9911", got)
	}
	if got := adsCluster(t, ingress).GetType(); got != clusterv3.Cluster_STATIC {
		t.Errorf("ads cluster for an IP host: %v, want STATIC", got)
	}
	noToken := mustGenerate(t, cases["no-token"])
	if md := noToken.GetDynamicResources().GetAdsConfig().GetGrpcServices()[0].GetInitialMetadata(); md != nil {
		t.Errorf("initial metadata without a token: %v", md)
	}
	if tc := upstreamTLSContext(t, noToken); tc.GetSni() != "localhost" || tc.GetCommonTlsContext().GetValidationContextSdsSecretConfig() != nil {
		t.Errorf("TLS without a CA: %v", tc)
	}
	if tc := upstreamTLSContext(t, sidecar); tc.GetCommonTlsContext().GetValidationContextSdsSecretConfig().GetName() != CPValidationContextName {
		t.Errorf("TLS with a CA: %v", tc)
	}
	plain := cases["sidecar-token"]
	plain.Plaintext = true
	if b := mustGenerate(t, plain); adsCluster(t, b).GetTransportSocket() != nil || b.GetStaticResources().GetSecrets() != nil {
		t.Error("a plaintext bootstrap has TLS settings")
	}
	uds := mustGenerate(t, cases["admin-unix-socket"])
	if got := uds.GetAdmin().GetAddress().GetPipe().GetPath(); got != "/tmp/jetmesh-dp-1/kuma-envoy-admin.sock" {
		t.Errorf("admin socket %q", got)
	}
}

func TestGenerateRejectsIncompleteParams(t *testing.T) {
	for name, p := range map[string]Params{
		"no name": {Mesh: "m", XDSHost: "h", XDSPort: 1},
		"no host": {Mesh: "m", Name: "n", XDSPort: 1},
		"no port": {Mesh: "m", Name: "n", XDSHost: "h"},
		"bad raw": {Mesh: "m", Name: "n", XDSHost: "h", XDSPort: 1, OtelEnv: []byte("[1]")},
	} {
		if _, err := Generate(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func mustGenerate(t *testing.T, p Params) *bootstrapv3.Bootstrap {
	t.Helper()
	b, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func adsCluster(t *testing.T, b *bootstrapv3.Bootstrap) *clusterv3.Cluster {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == ADSClusterName {
			return c
		}
	}
	t.Fatal("no ads_cluster")
	return nil
}

func upstreamTLSContext(t *testing.T, b *bootstrapv3.Bootstrap) *tlsv3.UpstreamTlsContext {
	t.Helper()
	tc := &tlsv3.UpstreamTlsContext{}
	if err := adsCluster(t, b).GetTransportSocket().GetTypedConfig().UnmarshalTo(tc); err != nil {
		t.Fatal(err)
	}
	return tc
}
