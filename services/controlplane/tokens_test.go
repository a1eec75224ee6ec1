package controlplane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func dpTLSClient(t *testing.T, cp *cptest.CP) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(cp.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool}
}

// bootstrap asks the DP server for a bootstrap with an inline dataplane and token.
func bootstrapWith(t *testing.T, cp *cptest.CP, name, token string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: dpTLSClient(t, cp)}}
	dp := fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,"networking":{"address":"127.0.0.1","inbound":[{"port":18080,"tags":{"kuma.io/service":"backend"}}]}}`, name)
	body := fmt.Sprintf(`{"mesh":"default","name":%q,"dataplaneToken":%q,"dataplaneResource":%q}`, name, token, dp)
	resp, err := client.Post("https://"+cp.DPAddress+"/bootstrap", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// adsWith opens an ADS stream as node with the token and returns the first response's error.
func adsWith(t *testing.T, cp *cptest.CP, nodeID, token string) error {
	t.Helper()
	conn, err := grpc.NewClient(cp.DPAddress, grpc.WithTransportCredentials(credentials.NewTLS(dpTLSClient(t, cp))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", token)
	}
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: &corev3.Node{Id: nodeID}, TypeUrl: resource.ListenerType}); err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// With dataplane tokens on, a proxy needs a token for its mesh and name, on /bootstrap and on
// its ADS stream; kumactl generate dataplane-token's request issues one.
func TestDataplaneTokens(t *testing.T) {
	cp := cptest.Start(t, "", func(c *controlplane.Config) { c.DPServer.Authn.DPProxy.Type = controlplane.AuthnDPToken })
	code, token := post(t, cp.URL+"/tokens/dataplane", `{"name":"backend-1","mesh":"default","tags":{},"type":"","workload":"","validFor":"1h0m0s"}`)
	if code != http.StatusOK || strings.Count(token, ".") != 2 {
		t.Fatalf("POST /tokens/dataplane = %d %q", code, token)
	}
	if code, body := bootstrapWith(t, cp, "backend-1", ""); code != http.StatusUnprocessableEntity || !strings.Contains(body, "Dataplane Token is required") {
		t.Errorf("bootstrap without a token = %d %s, want 422 with Kuma's message", code, body)
	}
	if code, body := bootstrapWith(t, cp, "frontend-1", token); code != http.StatusUnauthorized || !strings.Contains(body, "is different than in token") {
		t.Errorf("bootstrap with another dataplane's token = %d %s, want 401", code, body)
	}
	if code, body := bootstrapWith(t, cp, "backend-1", token+"x"); code != http.StatusUnauthorized {
		t.Errorf("bootstrap with a tampered token = %d %s, want 401", code, body)
	}
	if code, body := bootstrapWith(t, cp, "backend-1", token); code != http.StatusOK {
		t.Fatalf("bootstrap with its token = %d %s", code, body)
	}
	// ADS: the token travels as gRPC metadata "authorization".
	if err := adsWith(t, cp, "default.backend-1", ""); grpcstatus.Code(err) != codes.Unauthenticated {
		t.Errorf("ADS without a token: %v, want Unauthenticated", err)
	}
	if err := adsWith(t, cp, "default.frontend-1", token); grpcstatus.Code(err) != codes.Unauthenticated {
		t.Errorf("ADS with another dataplane's token: %v, want Unauthenticated", err)
	}
	req, _ := http.NewRequest(http.MethodPut, cp.URL+"/meshes/default/dataplanes/backend-1",
		strings.NewReader(`{"type":"Dataplane","mesh":"default","name":"backend-1","networking":{"address":"127.0.0.1","inbound":[{"port":18080,"tags":{"kuma.io/service":"backend"}}]}}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT dataplane: %v %v", err, resp)
	}
	if err := adsWith(t, cp, "default.backend-1", token); err != nil {
		t.Errorf("ADS with its token: %v", err)
	}
	code, body := post(t, cp.URL+"/tokens/dataplane", `{"mesh":"nope","name":"x"}`)
	if code != http.StatusBadRequest {
		t.Errorf("token for a mesh that does not exist = %d %s", code, body)
	}
	// The signing key is kept in the log as the mesh secret Kuma names it after.
	resp, err := http.Get(cp.URL + "/meshes/default/secrets/dataplane-token-signing-key-default-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("signing key secret: %d", resp.StatusCode)
	}
}
