package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jetmesh/jetmesh/services/dpserver"
)

// requests records what the server received.
type requests struct {
	mu    sync.Mutex
	nodes []*core.Node
	nacks []string // "<type> <version> <nonce>"
	acks  map[string]string
}

// adsServer is go-control-plane's ADS server over TLS on a random loopback port.
func adsServer(t *testing.T, snap *cache.Snapshot) (string, *requests) {
	t.Helper()
	cert, err := dpserver.LoadOrCreateCert(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := cache.NewSnapshotCache(false, cache.IDHash{}, nil)
	if err := c.SetSnapshot(context.Background(), "demo.web-1", snap); err != nil {
		t.Fatal(err)
	}
	rec := &requests{acks: map[string]string{}}
	note := func(node *core.Node, typ, version, nonce, nack string) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if node != nil {
			rec.nodes = append(rec.nodes, node)
		}
		if nonce == "" {
			return
		}
		if nack != "" {
			rec.nacks = append(rec.nacks, typ+" "+version+" "+nonce)
		} else {
			rec.acks[typ] = version
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := serverv3.NewServer(ctx, c, serverv3.CallbackFuncs{
		StreamRequestFunc: func(_ int64, r *discovery.DiscoveryRequest) error {
			note(r.GetNode(), r.GetTypeUrl(), r.GetVersionInfo(), r.GetResponseNonce(), r.GetErrorDetail().GetMessage())
			return nil
		},
		StreamDeltaRequestFunc: func(_ int64, r *discovery.DeltaDiscoveryRequest) error {
			note(r.GetNode(), r.GetTypeUrl(), "", r.GetResponseNonce(), r.GetErrorDetail().GetMessage())
			return nil
		},
	})
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	discovery.RegisterAggregatedDiscoveryServiceServer(g, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(ln) }()
	t.Cleanup(func() { g.Stop(); cancel(); <-done })
	return ln.Addr().String(), rec
}

func TestMain(m *testing.M) {
	// Every proxy goroutine is owned by its fleet and ends with Close.
	goleak.VerifyTestMain(m)
}

func snapshot(t *testing.T, connectTimeout time.Duration) *cache.Snapshot {
	t.Helper()
	cluster := &clusterv3.Cluster{Name: "backend", ConnectTimeout: durationpb.New(connectTimeout),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &core.ConfigSource{ConfigSourceSpecifier: &core.ConfigSource_Ads{}}}}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "backend", Endpoints: []*endpointv3.LocalityLbEndpoints{{
		LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
				Address: "127.0.0.5", PortSpecifier: &core.SocketAddress_PortValue{PortValue: 8080}}}}}}}}}}}
	snap, err := cache.NewSnapshot("v1", map[string][]types.Resource{
		ClusterType:  {cluster},
		EndpointType: {cla},
		ListenerType: {&listenerv3.Listener{Name: "outbound:127.0.0.1:10001"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func fleet(t *testing.T, addr string, delta, validate bool) *Fleet {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Address, cfg.InsecureSkipVerify, cfg.Delta, cfg.ValidateResources = addr, true, delta, validate
	f, err := NewFleet(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling step of a deadline-bound wait
	}
}

// A proxy gets CDS, LDS and then EDS for the cluster CDS named, ACKs each with its version,
// and introduces itself as kuma-dp's Envoy does.
func TestCompleteConfigAndACKs(t *testing.T) {
	for _, delta := range []bool{false, true} {
		addr, rec := adsServer(t, snapshot(t, time.Second))
		p, err := fleet(t, addr, delta, true).Connect(Identity{Mesh: "demo", Name: "web-1", Service: "web", ExpectClusters: []string{"backend"}})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "complete config", func() bool { return !p.CompleteAt().IsZero() })
		if got := p.Endpoints("backend"); len(got) != 1 || got[0] != "127.0.0.5:8080" {
			t.Errorf("delta=%v: endpoints %v", delta, got)
		}
		if p.CompleteAt().Before(p.OpenedAt()) {
			t.Errorf("complete before open")
		}
		waitFor(t, "three ACKs", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.acks) == 3
		})
		rec.mu.Lock()
		node := rec.nodes[0]
		if !delta && (rec.acks[ClusterType] != "v1" || rec.acks[EndpointType] != "v1") {
			t.Errorf("ACK versions %v", rec.acks)
		}
		rec.mu.Unlock()
		md := node.GetMetadata().GetFields()
		if node.GetId() != "demo.web-1" || node.GetCluster() != "web" || md["dataplane.proxyType"].GetStringValue() != "dataplane" ||
			md["version"].GetStructValue().GetFields()["kumaDp"].GetStructValue().GetFields()["version"].GetStringValue() != "2.14.3" {
			t.Errorf("node %v", node)
		}
		hasDelta := false
		for _, f := range md["features"].GetListValue().GetValues() {
			hasDelta = hasDelta || f.GetStringValue() == "feature-delta-grpc"
		}
		if hasDelta != delta {
			t.Errorf("delta=%v but feature-delta-grpc announced=%v", delta, hasDelta)
		}
	}
}

// An invalid cluster is NACKed with the last accepted version (none yet) and the response's
// nonce, and the config never counts as complete.
func TestInvalidConfigIsNACKed(t *testing.T) {
	addr, rec := adsServer(t, snapshot(t, -time.Second)) // negative connect timeout: invalid
	p, err := fleet(t, addr, false, true).Connect(Identity{Mesh: "demo", Name: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a NACK", func() bool { _, n, _ := p.Counts(); return n > 0 })
	waitFor(t, "the server to see the NACK", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.nacks) > 0
	})
	rec.mu.Lock()
	nack := rec.nacks[0]
	rec.mu.Unlock()
	if nack[:len(ClusterType)+2] != ClusterType+"  " || len(nack) <= len(ClusterType)+2 {
		t.Errorf("NACK %q: want the CDS type, an empty version and the nonce", nack)
	}
	if !p.CompleteAt().IsZero() || len(p.Names(ClusterType)) != 0 {
		t.Errorf("a rejected cluster was kept")
	}
}
