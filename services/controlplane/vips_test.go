package controlplane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/xds/generate"
)

// listenersOf follows a proxy's LDS, ACKing as Envoy does, until cond holds for its listeners
// by name; features are the kuma-dp features it announces.
func listenersOf(t *testing.T, cp *cptest.CP, nodeID string, features []string, what string,
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
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &discovery.DiscoveryRequest{Node: &corev3.Node{Id: nodeID, Metadata: md}, TypeUrl: resource.ListenerType}
	var last map[string]*listenerv3.Listener
	for {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("LDS of %s, waiting for %s: %v (last: %v)", nodeID, what, err, slices.Sorted(mapKeys(last)))
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

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var vipListener = regexp.MustCompile(`^outbound:(240\.\d+\.\d+\.\d+):80$`)

// vipsOf maps each service to its virtual IP, from the VIP listeners' metadata tags.
func vipsOf(ls map[string]*listenerv3.Listener) map[string]string {
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

// dnsTable is the body the dynamic config listener serves on /dns ("" without one).
func dnsTable(t *testing.T, ls map[string]*listenerv3.Listener) string {
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

const tproxyDataplane = `{"type":"Dataplane","mesh":"default","name":"web-1","networking":{"address":"127.0.0.1",
"inbound":[{"port":8080,"tags":{"kuma.io/service":"web","kuma.io/protocol":"http"}}],
"transparentProxying":{"redirectPortInbound":15006,"redirectPortOutbound":15001}}}`

func plainDataplane(name, service string, port int) string {
	return fmt.Sprintf(`{"type":"Dataplane","mesh":"default","name":%q,"networking":{"address":"127.0.0.1",
"inbound":[{"port":%d,"tags":{"kuma.io/service":%q,"kuma.io/protocol":"http"}}]}}`, name, port, service)
}

// A dataplane with transparent proxying and no outbound section reaches every service on its
// virtual IP: the CP allocates them as events, serves a listener per VIP and the names to
// kuma-dp's embedded DNS, gives a new service the next address, releases a service's address
// when its last instance goes, and keeps every address across a restart (from the log: a
// fresh allocation would now give api the freed, lower address).
func TestTransparentProxyVirtualIPs(t *testing.T) {
	dir := t.TempDir()
	cp := cptest.Start(t, dir)
	put := func(cp *cptest.CP, name, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, cp.URL+"/meshes/default/dataplanes/"+name, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d", name, resp.StatusCode)
		}
	}
	put(cp, "web-1", tproxyDataplane)
	put(cp, "backend-1", plainDataplane("backend-1", "backend_demo_svc_80", 8081))

	features := []string{"feature-embedded-dns"}
	ls := listenersOf(t, cp, "default.web-1", features, "VIPs of web and backend", func(ls map[string]*listenerv3.Listener) bool {
		return len(vipsOf(ls)) == 2
	})
	first := vipsOf(ls)
	for _, want := range []string{generate.DynamicConfigListener, "outbound:passthrough:ipv4", "inbound:passthrough:ipv4",
		"outbound:passthrough:ipv6", "inbound:passthrough:ipv6"} {
		if _, ok := ls[want]; !ok {
			t.Errorf("no listener %s; have %v", want, slices.Sorted(mapKeys(ls)))
		}
	}
	dns := dnsTable(t, ls)
	for _, name := range []string{"backend_demo_svc_80.mesh", "backend.demo.svc.80.mesh", "web.mesh"} {
		if !strings.Contains(dns, name) {
			t.Errorf("DNS table lacks %s: %s", name, dns)
		}
	}
	if l := ls["outbound:"+first["backend_demo_svc_80"]+":80"]; l.GetBindToPort() == nil || l.GetBindToPort().GetValue() {
		t.Errorf("VIP listener binds its port: %v", l)
	}
	// Without the embedded DNS, no table; the VIP listeners stay.
	plain := listenersOf(t, cp, "default.web-1", nil, "VIPs without DNS", func(ls map[string]*listenerv3.Listener) bool {
		return len(vipsOf(ls)) == 2
	})
	if _, ok := plain[generate.DynamicConfigListener]; ok {
		t.Error("a proxy without feature-embedded-dns got the DNS table")
	}

	// A new service gets a new address; the others keep theirs. The last backend going
	// releases backend's.
	put(cp, "api-1", plainDataplane("api-1", "api", 8082))
	ls = listenersOf(t, cp, "default.web-1", features, "api's VIP", func(ls map[string]*listenerv3.Listener) bool {
		return vipsOf(ls)["api"] != ""
	})
	got := vipsOf(ls)
	if got["web"] != first["web"] || got["backend_demo_svc_80"] != first["backend_demo_svc_80"] ||
		got["api"] == first["web"] || got["api"] == first["backend_demo_svc_80"] {
		t.Errorf("after api joined: %v, before: %v", got, first)
	}
	req, _ := http.NewRequest(http.MethodDelete, cp.URL+"/meshes/default/dataplanes/backend-1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ls = listenersOf(t, cp, "default.web-1", features, "backend's VIP released", func(ls map[string]*listenerv3.Listener) bool {
		_, has := vipsOf(ls)["backend_demo_svc_80"]
		return !has
	})
	if table := dnsTable(t, ls); strings.Contains(table, "backend_demo_svc_80.mesh") || !strings.Contains(table, "api.mesh") {
		t.Errorf("after backend left, the DNS table is %s", table)
	}

	before := vipsOf(ls)
	cp.Stop(t)
	cp = cptest.Start(t, dir)
	ls = listenersOf(t, cp, "default.web-1", features, "the same VIPs after a restart", func(ls map[string]*listenerv3.Listener) bool {
		return len(vipsOf(ls)) == 2
	})
	if got := vipsOf(ls); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("after a restart: %v, before: %v", got, before)
	}
}
