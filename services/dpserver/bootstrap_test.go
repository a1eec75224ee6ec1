package dpserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/dpagent"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

func fetcher(t *testing.T, cp *cptest.CP) *dpagent.Fetcher {
	t.Helper()
	cfg := dpagent.DefaultConfig()
	cfg.CPAddress = "https://" + cp.DPAddress
	cfg.CACertFile = cp.CACertFile
	cfg.RetryBackoff = 20 * time.Millisecond
	cfg.RetryMaxDuration = 20 * time.Second
	f, err := dpagent.NewFetcher(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decodeBootstrap(t *testing.T, resp *bootstrap.Response) *bootstrapv3.Bootstrap {
	t.Helper()
	b, err := bootstrap.Unmarshal(resp.Bootstrap)
	if err != nil {
		t.Fatalf("bootstrap YAML: %v", err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("bootstrap does not validate: %v", err)
	}
	return b
}

// jetmesh-dp's fetcher gets a valid bootstrap from the real DP server: inline (direct mode)
// and, after waiting for the Dataplane to be applied, by name (indirect mode).
func TestBootstrapFromTheDPServer(t *testing.T) {
	cp := cptest.Start(t, "")
	ctx := context.Background()

	resp, err := fetcher(t, cp).Fetch(ctx, bootstrap.Request{
		Mesh: "default", Name: "web-1", ProxyType: "dataplane", DataplaneResource: dataplane("web-1", 18080, "web"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := decodeBootstrap(t, resp)
	if b.GetNode().GetId() != "default.web-1" || b.GetNode().GetCluster() != "web" {
		t.Fatalf("node %v", b.GetNode())
	}
	if resp.KumaSidecarConfiguration.Networking.Address != "127.0.0.1" {
		t.Fatalf("sidecar configuration %+v", resp.KumaSidecarConfiguration)
	}
	ads := b.GetStaticResources().GetClusters()
	found := false
	for _, c := range ads {
		if c.GetName() == bootstrap.ADSClusterName {
			sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
			found = strings.HasSuffix(cp.DPAddress, ":"+itoa(sa.GetPortValue()))
		}
	}
	if !found {
		t.Fatalf("ads_cluster does not point at the DP server %s", cp.DPAddress)
	}

	// Indirect mode: the first attempts get an empty 404 and the fetcher retries until the
	// Dataplane exists.
	done := make(chan error, 1)
	go func() {
		resp, err := fetcher(t, cp).Fetch(ctx, bootstrap.Request{Mesh: "default", Name: "late", ProxyType: "dataplane"})
		if err == nil && resp == nil {
			err = io.ErrUnexpectedEOF
		}
		done <- err
	}()
	put(t, cp, "/meshes/default/dataplanes/late", dataplane("late", 18081, "late"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("indirect fetch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("indirect fetch did not finish")
	}
}

func TestBootstrapErrors(t *testing.T) {
	cp := cptest.Start(t, "")
	pem, _ := os.ReadFile(cp.CACertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	post := func(body, accept string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodPost, "https://"+cp.DPAddress+"/bootstrap", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, _, body := post(`{"mesh":"default","name":"nobody","proxyType":"dataplane"}`, "application/json"); code != 404 || body != "" {
		t.Fatalf("unknown dataplane: %d %q (want an empty 404 so kuma-dp retries)", code, body)
	}
	if code, _, body := post(`{"mesh":"default","name":"x","dataplaneResource":"{\"type\":\"Dataplane\",\"mesh\":\"default\",\"name\":\"x\",\"networking\":{\"address\":\"127.0.0.1\",\"inbound\":[{\"port\":0}]}}"}`, ""); code != 422 || !strings.Contains(body, "port") {
		t.Fatalf("invalid inline dataplane: %d %q", code, body)
	}
	if code, _, _ := post(`not json`, ""); code != 422 {
		t.Fatalf("garbage: %d", code)
	}
	if code, _, body := post(`{"mesh":"default","name":"x","caCert":"not a pem"}`, ""); code != 400 {
		t.Fatalf("bad caCert: %d %q", code, body)
	}
	put(t, cp, "/meshes/default/dataplanes/yaml", dataplane("yaml", 18082, "y"))
	if code, ct, body := post(`{"mesh":"default","name":"yaml","proxyType":"dataplane"}`, ""); code != 200 || ct != "text/x-yaml" || !strings.Contains(body, "default.yaml") {
		t.Fatalf("YAML bootstrap: %d %s %.200s", code, ct, body)
	}
}

func itoa(n uint32) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}
