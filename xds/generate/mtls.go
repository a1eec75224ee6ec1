package generate

import (
	"maps"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	typematcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources"
)

// Identity is a proxy's mTLS material, issued by the mesh CA at the edge (the xDS projection):
// generation only places it in SDS secrets.
type Identity struct {
	// CertPEM and KeyPEM are the proxy's identity certificate (SPIFFE and kuma:// URI SANs)
	// and its private key.
	CertPEM []byte
	KeyPEM  []byte
	// CAPEM is the mesh CA's certificate, the trust anchor for peers.
	CAPEM []byte
}

// Certificate provider instance names a grpc-go client's bootstrap must define (plugin
// file_watcher): grpc-go does not speak SDS, it reads certificates from these instances.
const (
	GRPCIdentityProvider = "jetmesh-identity"
	GRPCCAProvider       = "jetmesh-mesh-ca"
)

// kumaALPN is the ALPN protocol Kuma sidecars offer to each other over mTLS.
var kumaALPN = []string{"kuma"}

// IdentitySecretName is the SDS secret holding a proxy's identity certificate (Kuma's
// "identity_cert:secret:<mesh>").
func IdentitySecretName(mesh string) string { return "identity_cert:secret:" + mesh }

// MeshCASecretName is the SDS secret holding the mesh CA (Kuma's "mesh_ca:secret:<mesh>").
func MeshCASecretName(mesh string) string { return "mesh_ca:secret:" + mesh }

// mtlsOn reports whether the proxy's traffic is mutual TLS.
func (g *generator) mtlsOn() bool { return g.p.Mesh.MTLSEnabled() }

// serverTransportSocket terminates mTLS on an inbound: a DownstreamTlsContext requiring a
// client certificate signed by the mesh CA whose URI SAN starts with "spiffe://<mesh>/";
// MeshTrafficPermission's RBAC then matches the exact SPIFFE ids.
func (g *generator) serverTransportSocket() *corev3.TransportSocket {
	if !g.mtlsOn() {
		return nil
	}
	mesh := g.p.Mesh.Name
	san := &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: &typematcherv3.StringMatcher{
		MatchPattern: &typematcherv3.StringMatcher_Prefix{Prefix: "spiffe://" + mesh + "/"}}}
	ctx := &tlsv3.DownstreamTlsContext{
		CommonTlsContext:         g.commonTLS([]*tlsv3.SubjectAltNameMatcher{san}),
		RequireClientCertificate: wrapperspb.Bool(true),
	}
	return g.tlsSocket(ctx)
}

// clientTransportSocket starts mTLS to a mesh service: SNI "<service>{mesh=<mesh>,<tags>}" (so
// a zone ingress can route the still-encrypted connection) and the peer must present the
// exact SPIFFE id "spiffe://<mesh>/<service>". grpc-go clients get certificate provider
// instances instead of SDS, and the older match_subject_alt_names grpc-go reads.
func (g *generator) clientTransportSocket(tags map[string]string) *corev3.TransportSocket {
	if !g.mtlsOn() {
		return nil
	}
	mesh := g.p.Mesh.Name
	service := tags[resources.TagService]
	subset := maps.Clone(tags)
	delete(subset, resources.TagService)
	exact := &typematcherv3.StringMatcher{MatchPattern: &typematcherv3.StringMatcher_Exact{Exact: ServiceSpiffeID(mesh, service)}}
	var common *tlsv3.CommonTlsContext
	if g.grpcClient {
		common = grpcCommonTLS(exact)
	} else {
		common = g.commonTLS([]*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: exact}})
		common.AlpnProtocols = kumaALPN
	}
	return g.tlsSocket(&tlsv3.UpstreamTlsContext{CommonTlsContext: common, Sni: SNI(mesh, service, subset)})
}

// commonTLS is Kuma's SDS form: the identity and the mesh CA come from ADS secrets.
func (g *generator) commonTLS(sans []*tlsv3.SubjectAltNameMatcher) *tlsv3.CommonTlsContext {
	mesh := g.p.Mesh.Name
	return &tlsv3.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsConfig(IdentitySecretName(mesh))},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sans},
				ValidationContextSdsSecretConfig: sdsConfig(MeshCASecretName(mesh)),
			},
		},
	}
}

// grpcCommonTLS is the form grpc-go accepts (gRFC A29): certificate provider plugin
// instances for identity and roots, the peer's SAN (clients only; nil on servers, which
// grpc-go refuses SAN matchers on) in match_subject_alt_names.
func grpcCommonTLS(san *typematcherv3.StringMatcher) *tlsv3.CommonTlsContext {
	vc := &tlsv3.CertificateValidationContext{
		CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: GRPCCAProvider},
	}
	if san != nil {
		//nolint:staticcheck // grpc-go reads only this deprecated field.
		vc.MatchSubjectAltNames = []*typematcherv3.StringMatcher{san}
	}
	return &tlsv3.CommonTlsContext{
		TlsCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: GRPCIdentityProvider},
		ValidationContextType:          &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc},
	}
}

func sdsConfig(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}}
}

func (g *generator) tlsSocket(ctx proto.Message) *corev3.TransportSocket {
	return &corev3.TransportSocket{
		Name:       wellknown.TransportSocketTLS,
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: g.pack(ctx)},
	}
}

// secrets adds the SDS secrets of a proxy with mTLS and an issued identity. Without an
// identity (the CA is not ready yet) the transport sockets still name the secrets and Envoy
// waits for them, as with Kuma.
func (g *generator) secrets() {
	id := g.p.Identity
	if !g.mtlsOn() || id == nil {
		return
	}
	mesh := g.p.Mesh.Name
	g.b.secrets.add(&tlsv3.Secret{Name: IdentitySecretName(mesh), Type: &tlsv3.Secret_TlsCertificate{
		TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: id.CertPEM}},
			PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: id.KeyPEM}},
		}}})
	g.b.secrets.add(&tlsv3.Secret{Name: MeshCASecretName(mesh), Type: &tlsv3.Secret_ValidationContext{
		ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: id.CAPEM}},
		}}})
}
