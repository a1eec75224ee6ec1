package proxy

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Type URLs the simulated proxies subscribe to.
const (
	ListenerType = resourcev3.ListenerType
	ClusterType  = resourcev3.ClusterType
	EndpointType = resourcev3.EndpointType
)

// Identity is who a simulated proxy is.
type Identity struct {
	Mesh, Name string
	// Service is reported as node.cluster, as kuma-dp does (empty: "unknown").
	Service string
	// AdminPort is reported as dataplane.admin.port (default 9901).
	AdminPort uint32
	// ExpectClusters are clusters CDS must name before the config counts as complete (the
	// proxy's outbounds); EDS must then hold at least one endpoint for each.
	ExpectClusters []string
}

// Proxy is one simulated dataplane.
type Proxy struct {
	id     Identity
	nodeID string
	cfg    Config
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	openedAt   time.Time
	completeAt time.Time
	got        map[string]bool
	res        map[string]map[string][]byte // type URL -> name -> serialized resource
	edsNames   []string                     // EDS clusters named by CDS, sorted
	acks       int
	nacks      int
	lastNack   string
	err        error
	ended      bool
}

func newProxy(id Identity, cfg Config, cancel context.CancelFunc) *Proxy {
	if id.AdminPort == 0 {
		id.AdminPort = 9901
	}
	return &Proxy{id: id, nodeID: id.Mesh + "." + id.Name, cfg: cfg, cancel: cancel, done: make(chan struct{}),
		got: map[string]bool{}, res: map[string]map[string][]byte{}}
}

// Identity returns who the proxy is.
func (p *Proxy) Identity() Identity { return p.id }

// NodeID is "<mesh>.<name>".
func (p *Proxy) NodeID() string { return p.nodeID }

// Close ends the proxy's stream and waits for its goroutine.
func (p *Proxy) Close() {
	p.cancel()
	<-p.done
}

// Done is closed when the proxy's stream has ended.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// Err is why the stream ended (nil while it runs or after Close).
func (p *Proxy) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// OpenedAt is when the stream was opened (zero before).
func (p *Proxy) OpenedAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.openedAt
}

// CompleteAt is when the proxy first held a complete config: listeners, clusters including
// the expected ones, and endpoints for every EDS cluster (zero before).
func (p *Proxy) CompleteAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.completeAt
}

// Counts returns how many responses the proxy ACKed and NACKed, and the last NACK's reason.
func (p *Proxy) Counts() (acks, nacks int, lastNack string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acks, p.nacks, p.lastNack
}

// Names returns the names of the resources of a type the proxy holds, sorted.
func (p *Proxy) Names(typeURL string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.res[typeURL]))
	for n := range p.res[typeURL] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Contains reports whether any held resource of the type contains marker in its serialized
// form (strings are stored verbatim in protobuf, also inside nested Any values).
func (p *Proxy) Contains(typeURL string, marker []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.res[typeURL] {
		if bytes.Contains(b, marker) {
			return true
		}
	}
	return false
}

// Endpoints returns the "address:port" endpoints of a cluster's load assignment, sorted; nil
// when the proxy holds none.
func (p *Proxy) Endpoints(cluster string) []string {
	p.mu.Lock()
	b, ok := p.res[EndpointType][cluster]
	p.mu.Unlock()
	if !ok {
		return nil
	}
	cla := &endpointv3.ClusterLoadAssignment{}
	if err := proto.Unmarshal(b, cla); err != nil {
		return nil
	}
	return endpointsOf(cla)
}

func endpointsOf(cla *endpointv3.ClusterLoadAssignment) []string {
	var out []string
	for _, l := range cla.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			sa := e.GetEndpoint().GetAddress().GetSocketAddress()
			if sa != nil {
				out = append(out, sa.GetAddress()+":"+strconv.FormatUint(uint64(sa.GetPortValue()), 10))
			}
		}
	}
	slices.Sort(out)
	return out
}

func (p *Proxy) finish(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = true
	if p.err == nil && err != nil {
		p.err = err
	}
}

// node is what Envoy started by kuma-dp sends: Kuma's node id and metadata.
func (p *Proxy) node() (*core.Node, error) {
	features := make([]any, 0, len(p.cfg.Features)+1)
	for _, f := range p.cfg.Features {
		features = append(features, f)
	}
	if p.cfg.Delta {
		features = append(features, "feature-delta-grpc")
	}
	md, err := structpb.NewStruct(map[string]any{
		"dataplane.admin.port":             strconv.FormatUint(uint64(p.id.AdminPort), 10),
		"dataplane.admin.address":          "127.0.0.1",
		"dataplane.readinessReporter.port": "9902",
		"dataplane.proxyType":              "dataplane",
		"dataplane.appProbeProxy.enabled":  "true",
		"dataplane.dns.port":               "15053",
		"workdir":                          "/tmp/kuma-dp-" + p.id.Name,
		"features":                         features,
		"version": map[string]any{
			"kumaDp": map[string]any{"version": p.cfg.KumaDPVersion, "gitTag": "v" + p.cfg.KumaDPVersion,
				"gitCommit": "jetmesh-bench", "buildDate": "2026-01-01T00:00:00Z"},
			"envoy": map[string]any{"version": p.cfg.EnvoyVersion, "build": "jetmesh-bench/" + p.cfg.EnvoyVersion + "/Clean/RELEASE/BoringSSL",
				"kumaDpCompatible": true},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("node metadata: %w", err)
	}
	cluster := p.id.Service
	if cluster == "" {
		cluster = "unknown"
	}
	return &core.Node{Id: p.nodeID, Cluster: cluster, Metadata: md, UserAgentName: "envoy"}, nil
}

// decoded is a validated response: resources by name, and for CDS the EDS clusters.
type decoded struct {
	byName   map[string][]byte
	edsNames []string
}

// decode unmarshals every resource (as Envoy would) and collects what the proxy needs.
func (p *Proxy) decode(typeURL string, items []*anypb.Any, names []string) (decoded, error) {
	d := decoded{byName: make(map[string][]byte, len(items))}
	for i, a := range items {
		if a.GetTypeUrl() != typeURL {
			return d, fmt.Errorf("resource of type %s in a %s response", a.GetTypeUrl(), typeURL)
		}
		var msg interface {
			proto.Message
			ValidateAll() error
		}
		switch typeURL {
		case ListenerType:
			msg = &listenerv3.Listener{}
		case ClusterType:
			msg = &clusterv3.Cluster{}
		case EndpointType:
			msg = &endpointv3.ClusterLoadAssignment{}
		default:
			return d, fmt.Errorf("unexpected type %s", typeURL)
		}
		if err := proto.Unmarshal(a.GetValue(), msg); err != nil {
			return d, fmt.Errorf("decode %s: %w", typeURL, err)
		}
		if p.cfg.ValidateResources {
			if err := msg.ValidateAll(); err != nil {
				return d, fmt.Errorf("invalid %s: %w", typeURL, err)
			}
		}
		name := resourceName(msg)
		if names != nil && names[i] != "" && names[i] != name {
			return d, fmt.Errorf("resource named %q carries %q", names[i], name)
		}
		d.byName[name] = a.GetValue()
		if c, ok := msg.(*clusterv3.Cluster); ok && c.GetType() == clusterv3.Cluster_EDS {
			n := c.GetEdsClusterConfig().GetServiceName()
			if n == "" {
				n = c.GetName()
			}
			d.edsNames = append(d.edsNames, n)
		}
	}
	slices.Sort(d.edsNames)
	d.edsNames = slices.Compact(d.edsNames)
	return d, nil
}

func resourceName(m proto.Message) string {
	switch r := m.(type) {
	case *listenerv3.Listener:
		return r.GetName()
	case *clusterv3.Cluster:
		return r.GetName()
	case *endpointv3.ClusterLoadAssignment:
		return r.GetClusterName()
	}
	return ""
}

// apply stores a decoded response (replace: SotW; otherwise upsert and remove by name) and
// returns whether the EDS subscription changed.
func (p *Proxy) apply(typeURL string, d decoded, replace bool, removed []string, at time.Time) (edsChanged bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acks++
	p.got[typeURL] = true
	if replace || p.res[typeURL] == nil {
		if !replace {
			d.byName = mergeInto(map[string][]byte{}, d.byName)
		}
		p.res[typeURL] = d.byName
	} else {
		mergeInto(p.res[typeURL], d.byName)
	}
	for _, n := range removed {
		delete(p.res[typeURL], n)
	}
	if typeURL == ClusterType {
		eds := p.edsFromClustersLocked(replace, d)
		if !slices.Equal(eds, p.edsNames) {
			p.edsNames = eds
			edsChanged = true
		}
	}
	if p.completeAt.IsZero() && p.completeLocked() {
		p.completeAt = at
	}
	return edsChanged
}

// edsFromClustersLocked recomputes the EDS clusters from every held cluster (Delta updates
// carry only the changed ones).
func (p *Proxy) edsFromClustersLocked(replace bool, d decoded) []string {
	if replace {
		return d.edsNames
	}
	var out []string
	for _, b := range p.res[ClusterType] {
		c := &clusterv3.Cluster{}
		if proto.Unmarshal(b, c) == nil && c.GetType() == clusterv3.Cluster_EDS {
			n := c.GetEdsClusterConfig().GetServiceName()
			if n == "" {
				n = c.GetName()
			}
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func mergeInto(dst, src map[string][]byte) map[string][]byte {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func (p *Proxy) completeLocked() bool {
	if !p.got[ListenerType] || !p.got[ClusterType] {
		return false
	}
	for _, n := range p.edsNames {
		if _, ok := p.res[EndpointType][n]; !ok {
			return false
		}
	}
	for _, c := range p.id.ExpectClusters {
		if _, ok := p.res[ClusterType][c]; !ok {
			return false
		}
		b, ok := p.res[EndpointType][c]
		if !ok {
			return false
		}
		cla := &endpointv3.ClusterLoadAssignment{}
		if proto.Unmarshal(b, cla) != nil || len(endpointsOf(cla)) == 0 {
			return false
		}
	}
	return true
}

func (p *Proxy) rejected(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nacks++
	p.lastNack = reason
}

func (p *Proxy) opened(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.openedAt = at
}

func (p *Proxy) edsSubscription() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.edsNames)
}
