package policies_test

// mTLS end to end with grpc-go's own xDS client: the control plane creates the mesh CA, issues
// identities, and delivers them over ADS as SDS secrets; an agent (here the test) writes them
// to the files of grpc-go's file_watcher certificate providers, and grpc-go's xDS credentials
// do the handshake the CDS resource describes (gRFC A29).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"github.com/jetmesh/jetmesh/services/ca"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/xds/generate"
)

const mtlsMesh = `{"type":"Mesh","name":"default","mtls":{"enabledBackend":"ca-1",
 "backends":[{"name":"ca-1","type":"builtin","dpCert":{"rotation":{"expiration":"1h"}}}]}}`

// identityFiles is what a file_watcher provider reads; certs lists every identity
// certificate the agent wrote, oldest first.
type identityFiles struct {
	cert, key, ca string
	mu            *sync.Mutex
	certs         *[]*x509.Certificate
}

func (f identityFiles) written() []*x509.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*x509.Certificate(nil), (*f.certs)...)
}

// fetchIdentity is the agent of nodeID: it opens an ADS stream (announcing itself as a gRPC
// agent, so the CP serves the grpc-go flavour), asks for the mesh's SDS secrets, writes them
// to files and returns once both are there. It keeps the stream, ACKing and rewriting the
// files on every push (rotation), until the test ends.
func fetchIdentity(t *testing.T, cp *cptest.CP, nodeID string) identityFiles {
	t.Helper()
	pemCA, err := os.ReadFile(cp.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	conn, err := grpc.NewClient(cp.DPAddress, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{generate.IdentitySecretName("default"), generate.MeshCASecretName("default")}
	req := &discovery.DiscoveryRequest{Node: &corev3.Node{Id: nodeID, UserAgentName: "gRPC Go agent"},
		TypeUrl: resourcev3.SecretType, ResourceNames: names}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := identityFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), ca: filepath.Join(dir, "ca.pem"),
		mu: &sync.Mutex{}, certs: &[]*x509.Certificate{}}
	ready := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		got := map[string]bool{}
		for {
			resp, err := stream.Recv()
			if err != nil {
				select {
				case ready <- fmt.Errorf("SDS for %s: %w", nodeID, err):
				default:
				}
				return
			}
			if err := files.store(resp, names, got); err != nil {
				ready <- err
				return
			}
			if got[names[0]] && got[names[1]] {
				select {
				case ready <- nil:
				default:
				}
			}
			req.VersionInfo, req.ResponseNonce, req.Node = resp.GetVersionInfo(), resp.GetNonce(), nil
			if stream.Send(req) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no SDS secrets for %s", nodeID)
	}
	return files
}

// store writes the secrets of one SDS response to the files. The key is written before the
// certificate, so a watcher never pairs a new certificate with the old key for long.
func (f identityFiles) store(resp *discovery.DiscoveryResponse, names []string, got map[string]bool) error {
	for _, a := range resp.GetResources() {
		var s tlsv3.Secret
		if err := a.UnmarshalTo(&s); err != nil {
			return err
		}
		switch s.GetName() {
		case names[0]:
			c := s.GetTlsCertificate()
			chain := c.GetCertificateChain().GetInlineBytes()
			if err := writeFile(f.key, c.GetPrivateKey().GetInlineBytes()); err != nil {
				return err
			}
			if err := writeFile(f.cert, chain); err != nil {
				return err
			}
			if b, _ := pem.Decode(chain); b != nil {
				if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
					f.mu.Lock()
					*f.certs = append(*f.certs, cert)
					f.mu.Unlock()
				}
			}
		case names[1]:
			if err := writeFile(f.ca, s.GetValidationContext().GetTrustedCa().GetInlineBytes()); err != nil {
				return err
			}
		default:
			continue
		}
		got[s.GetName()] = true
	}
	return nil
}

func writeFile(path string, b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%s: empty secret", path)
	}
	return os.WriteFile(path, b, 0o600)
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if len(b) == 0 {
		t.Fatalf("%s: empty secret", path)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// peers records the URI SANs of the clients a backend served.
type peers struct {
	testpb.UnimplementedTestServiceServer
	mu   sync.Mutex
	uris []string
}

func (p *peers) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if pr, ok := peer.FromContext(ctx); ok {
		if ti, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			p.mu.Lock()
			for _, u := range ti.State.PeerCertificates[0].URIs {
				p.uris = append(p.uris, u.String())
			}
			p.mu.Unlock()
		}
	}
	return &testpb.SimpleResponse{ServerId: "backend-1"}, nil
}

// backendIdentity registers dataplane backend-1 on a fresh loopback port and returns the
// listener and the identity files the CP issued to it.
func backendIdentity(t *testing.T, cp *cptest.CP) (net.Listener, identityFiles) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	put(t, cp, "/meshes/default/dataplanes/backend-1", fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":"backend-1",
 "networking":{"address":"127.0.0.1","inbound":[{"port":%d,"tags":{"kuma.io/service":"backend","kuma.io/protocol":"grpc"}}]}}`,
		ln.Addr().(*net.TCPAddr).Port))
	files := fetchIdentity(t, cp, "default.backend-1")
	return ln, files
}

// mtlsBackend registers dataplane backend-1 and serves on its port with the identity the CP
// issued to it, requiring a client certificate from the mesh CA. It returns the address.
func mtlsBackend(t *testing.T, cp *cptest.CP) (*peers, string) {
	t.Helper()
	ln, files := backendIdentity(t, cp)
	cert, err := tls.LoadX509KeyPair(files.cert, files.key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(files.ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	p := &peers{}
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})))
	testpb.RegisterTestServiceServer(s, p)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return p, ln.Addr().String()
}

// mtlsClient dials xds:///backend with xDS credentials whose certificate providers read files.
func mtlsClient(t *testing.T, cp *cptest.CP, files identityFiles) testpb.TestServiceClient {
	t.Helper()
	provider := func(cert, key string) string {
		return fmt.Sprintf(`{"plugin_name":"file_watcher","config":{"certificate_file":%q,"private_key_file":%q,"ca_certificate_file":%q,"refresh_interval":"1s"}}`,
			cert, key, files.ca)
	}
	bootstrap := fmt.Sprintf(`{
 "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": %q}}], "server_features": ["xds_v3"]}],
 "node": {"id": "default.client"},
 "certificate_providers": {%q: %s, %q: %s}}`, cp.DPAddress, cp.CACertFile,
		generate.GRPCIdentityProvider, provider(files.cert, files.key), generate.GRPCCAProvider, provider(files.cert, files.key))
	builder, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("xds:///backend", grpc.WithTransportCredentials(creds), grpc.WithResolvers(builder))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

func TestMTLSHandshakeWithGRPCXDSClient(t *testing.T) {
	cp := cptest.Start(t, t.TempDir(), cptest.BareDefaultMesh()) // without the initial MeshRetry, a refusal is seen as itself
	put(t, cp, "/meshes/default", mtlsMesh)
	backend, addr := mtlsBackend(t, cp)
	put(t, cp, "/meshes/default/dataplanes/client", clientDataplane)

	// A client with the identity the mesh CA issued to its dataplane gets through, and the
	// backend sees its SPIFFE id.
	good := mtlsClient(t, cp, fetchIdentity(t, cp, "default.client"))
	eventually(t, "an RPC over mTLS", func() bool { _, err := call(good, 0); return err == nil })
	backend.mu.Lock()
	uris := append([]string(nil), backend.uris...)
	backend.mu.Unlock()
	if len(uris) == 0 || uris[0] != "spiffe://default/client" {
		t.Fatalf("backend saw client URIs %v, want spiffe://default/client first", uris)
	}

	// A client whose certificate comes from another CA (same mesh name) is refused.
	other, err := ca.NewRoot("default", 2048, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(other, ca.Identity{Mesh: "default", Tags: map[string][]string{"kuma.io/service": {"client"}}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	forged := identityFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), ca: fetchIdentity(t, cp, "default.client").ca}
	write(t, forged.cert, leaf.CertPEM)
	write(t, forged.key, leaf.KeyPEM)
	bad := mtlsClient(t, cp, forged)
	backend.mu.Lock()
	seen := len(backend.uris)
	backend.mu.Unlock()
	// The refusal is the server's TLS alert ("unknown certificate authority"); with TLS 1.3
	// the client may finish its side of the handshake first and see only the closed
	// connection ("broken pipe"). Either way the RPC fails as Unavailable and never reaches
	// the backend.
	for range 3 {
		_, err := call(bad, 0)
		if err == nil {
			t.Fatal("a client with a certificate from another CA got through")
		}
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("forged identity refused for another reason: %v", err)
		}
	}
	backend.mu.Lock()
	reached := len(backend.uris) - seen
	backend.mu.Unlock()
	if reached != 0 {
		t.Fatalf("%d RPCs with a forged identity reached the backend", reached)
	}

	// A client without any certificate is refused by the backend's TLS.
	pemCA, _ := os.ReadFile(forged.ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := call(testpb.NewTestServiceClient(conn), 0); err == nil {
		t.Fatal("a client without a certificate got through")
	}
}

// xdsBackend is an xDS-enabled grpc-go server for dataplane backend-1: its listener (mTLS and
// MeshTrafficPermission's RBAC) comes from the CP, its certificates from files the SDS
// secrets were written to.
func xdsBackend(t *testing.T, cp *cptest.CP) {
	t.Helper()
	ln, files := backendIdentity(t, cp)
	provider := fmt.Sprintf(`{"plugin_name":"file_watcher","config":{"certificate_file":%q,"private_key_file":%q,"ca_certificate_file":%q,"refresh_interval":"1s"}}`,
		files.cert, files.key, files.ca)
	bootstrap := fmt.Sprintf(`{
 "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": %q}}], "server_features": ["xds_v3"]}],
 "node": {"id": "default.backend-1"},
 "server_listener_resource_name_template": %q,
 "certificate_providers": {%q: %s, %q: %s}}`, cp.DPAddress, cp.CACertFile, generate.GRPCServerListenerTemplate,
		generate.GRPCIdentityProvider, provider, generate.GRPCCAProvider, provider)
	creds, err := xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := xds.NewGRPCServer(grpc.Creds(creds), xds.BootstrapContentsForTesting([]byte(bootstrap)))
	if err != nil {
		t.Fatal(err)
	}
	testpb.RegisterTestServiceServer(s, &peers{})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
}

// With an xDS-enabled grpc-go server as the backend, MeshTrafficPermission is enforced on the
// client's SPIFFE id: allowed, then denied by a policy change, then allowed again.
func TestMeshTrafficPermissionOnGRPCXDSServer(t *testing.T) {
	cp := cptest.Start(t, t.TempDir(), cptest.BareDefaultMesh()) // without the initial MeshRetry, a refusal is seen as itself
	put(t, cp, "/meshes/default", mtlsMesh)
	mtp := func(action string) string {
		return fmt.Sprintf(`{"type":"MeshTrafficPermission","mesh":"default","name":"backend-access","spec":{
 "targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}},
 {"targetRef":{"kind":"MeshService","name":"client"},"default":{"action":%q}}]}}`, action)
	}
	put(t, cp, "/meshes/default/meshtrafficpermissions/backend-access", mtp("Allow"))
	xdsBackend(t, cp)
	put(t, cp, "/meshes/default/dataplanes/client", clientDataplane)
	c := mtlsClient(t, cp, fetchIdentity(t, cp, "default.client"))
	eventually(t, "an allowed RPC over mTLS", func() bool { _, err := call(c, 0); return err == nil })

	put(t, cp, "/meshes/default/meshtrafficpermissions/backend-access", mtp("Deny"))
	eventually(t, "the deny to reach the server", func() bool {
		_, err := call(c, 0)
		return status.Code(err) == codes.PermissionDenied
	})
	put(t, cp, "/meshes/default/meshtrafficpermissions/backend-access", mtp("Allow"))
	eventually(t, "the allow to reach the server", func() bool { _, err := call(c, 0); return err == nil })
}

// Identity certificates rotate under running traffic: with 10s certificates the CP pushes new
// ones at 4/5 of their lifetime, the agents rewrite the provider files, a connection opened
// before keeps working, and a connection opened after the first certificates expired (so it
// can only succeed with the rotated ones, on both sides) works too.
func TestIdentityRotationKeepsTrafficFlowing(t *testing.T) {
	cp := cptest.Start(t, t.TempDir(), cptest.BareDefaultMesh()) // without the initial MeshRetry, a refusal is seen as itself
	put(t, cp, "/meshes/default", `{"type":"Mesh","name":"default","mtls":{"enabledBackend":"ca-1",
 "backends":[{"name":"ca-1","type":"builtin","dpCert":{"rotation":{"expiration":"10s"}}}]}}`)
	put(t, cp, "/meshes/default/meshtrafficpermissions/allow-all", `{"type":"MeshTrafficPermission","mesh":"default",
 "name":"allow-all","spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"action":"Allow"}}]}}`)
	xdsBackend(t, cp)
	put(t, cp, "/meshes/default/dataplanes/client", clientDataplane)
	files := fetchIdentity(t, cp, "default.client")
	first := files.written()[0]
	before := mtlsClient(t, cp, files)
	eventually(t, "an RPC over mTLS", func() bool { _, err := call(before, 0); return err == nil })

	deadline := time.Now().Add(40 * time.Second)
	for len(files.written()) < 2 || !time.Now().After(first.NotAfter) {
		if time.Now().After(deadline) {
			t.Fatalf("no rotation past %v: %d certificates written", first.NotAfter, len(files.written()))
		}
		if _, err := call(before, 0); err != nil {
			t.Fatalf("the long-lived connection failed during rotation: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // pace of the running traffic
	}
	rotated := files.written()[1]
	if rotated.SerialNumber.Cmp(first.SerialNumber) == 0 || !rotated.NotAfter.After(first.NotAfter) {
		t.Fatalf("rotated certificate %v (until %v) is not newer than %v (until %v)", rotated.SerialNumber, rotated.NotAfter,
			first.SerialNumber, first.NotAfter)
	}
	if _, err := call(before, 0); err != nil {
		t.Fatalf("the long-lived connection failed after rotation: %v", err)
	}
	after := mtlsClient(t, cp, files)
	eventually(t, "an RPC on a new connection after the first certificates expired", func() bool {
		_, err := call(after, 0)
		return err == nil
	})
}
