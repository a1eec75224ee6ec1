package cptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/xds/generate"
)

// Listeners follows a proxy's LDS, ACKing as Envoy does, until cond holds for its listeners
// by name; features are the kuma-dp features it announces.
func Listeners(t testing.TB, cp *CP, nodeID string, features []string, what string,
	cond func(map[string]*listenerv3.Listener) bool) map[string]*listenerv3.Listener {
	t.Helper()
	fs := make([]any, len(features))
	for i, f := range features {
		fs[i] = f
	}
	md, err := structpb.NewStruct(map[string]any{"features": fs, "workdir": "/tmp/kuma-dp"})
	if err != nil {
		t.Fatal(err)
	}
	stream, done := adsStream(t, cp)
	defer done()
	req := &discovery.DiscoveryRequest{Node: &corev3.Node{Id: nodeID, Metadata: md}, TypeUrl: resource.ListenerType}
	var last map[string]*listenerv3.Listener
	for {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("LDS of %s, waiting for %s: %v (last: %v)", nodeID, what, err, slices.Sorted(maps.Keys(last)))
		}
		last = map[string]*listenerv3.Listener{}
		for _, a := range resp.GetResources() {
			l := &listenerv3.Listener{}
			if err := a.UnmarshalTo(l); err != nil {
				t.Fatal(err)
			}
			last[l.GetName()] = l
		}
		if cond(last) {
			return last
		}
		req.VersionInfo, req.ResponseNonce = resp.GetVersionInfo(), resp.GetNonce()
	}
}

// vipListener matches the listener of a service on its virtual IP (default CIDR and port).
var vipListener = regexp.MustCompile(`^outbound:(240\.\d+\.\d+\.\d+):80$`)

// VIPs maps each service to its virtual IP, from the VIP listeners' metadata tags.
func VIPs(ls map[string]*listenerv3.Listener) map[string]string {
	out := map[string]string{}
	for name, l := range ls {
		if m := vipListener.FindStringSubmatch(name); m != nil {
			tags := l.GetMetadata().GetFilterMetadata()["io.kuma.tags"].GetFields()
			if svc := tags["kuma.io/service"].GetStringValue(); svc != "" {
				out[svc] = m[1]
			}
		}
	}
	return out
}

// DNSTable is the body the dynamic config listener serves on /dns ("" without one).
func DNSTable(t testing.TB, ls map[string]*listenerv3.Listener) string {
	t.Helper()
	l, ok := ls[generate.DynamicConfigListener]
	if !ok {
		return ""
	}
	var hcm hcmv3.HttpConnectionManager
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	for _, r := range hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes() {
		if body := r.GetDirectResponse().GetBody().GetInlineString(); body != "" {
			return body
		}
	}
	t.Fatalf("dynamic config listener serves no table: %v", l)
	return ""
}

// Endpoints follows a proxy's EDS for one cluster, ACKing as Envoy does, until cond holds for
// its endpoints ("address:port weight"); proxyType is "" for a dataplane, else "ingress" or
// "egress".
func Endpoints(t testing.TB, cp *CP, nodeID, proxyType, cluster string, cond func([]string) bool) []string {
	t.Helper()
	node := &corev3.Node{Id: nodeID}
	if proxyType != "" {
		md, err := structpb.NewStruct(map[string]any{"dataplane.proxyType": proxyType})
		if err != nil {
			t.Fatal(err)
		}
		node.Metadata = md
	}
	stream, done := adsStream(t, cp)
	defer done()
	req := &discovery.DiscoveryRequest{Node: node, TypeUrl: resource.EndpointType, ResourceNames: []string{cluster}}
	var last []string
	for {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("EDS for %s: %v (last: %v)", cluster, err, last)
		}
		last = nil
		for _, a := range resp.GetResources() {
			var cla endpointv3.ClusterLoadAssignment
			if err := a.UnmarshalTo(&cla); err != nil {
				t.Fatal(err)
			}
			for _, l := range cla.GetEndpoints() {
				for _, e := range l.GetLbEndpoints() {
					sa := e.GetEndpoint().GetAddress().GetSocketAddress()
					last = append(last, fmt.Sprintf("%s:%d %d", sa.GetAddress(), sa.GetPortValue(), e.GetLoadBalancingWeight().GetValue()))
				}
			}
		}
		if cond(last) {
			return last
		}
		req.VersionInfo, req.ResponseNonce = resp.GetVersionInfo(), resp.GetNonce()
	}
}

// adsStream opens an ADS stream to the CP's DP server, verifying its certificate, for 30s at
// most; done closes it (as a proxy going away).
func adsStream(t testing.TB, cp *CP) (discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient, func()) {
	t.Helper()
	pem, err := os.ReadFile(cp.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient(cp.DPAddress, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := func() { cancel(); _ = conn.Close() }
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		done()
		t.Fatal(err)
	}
	return stream, done
}
