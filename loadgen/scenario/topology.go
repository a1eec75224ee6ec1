package scenario

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jetmesh/jetmesh/loadgen/kumaapi"
	"github.com/jetmesh/jetmesh/loadgen/proxy"
)

// Topology is the shape of the simulated mesh: N dataplanes, each providing one service
// (Spread dataplanes per service) and consuming the next Outbounds services. A service thus
// has Spread providers and about Outbounds*Spread consumers whatever N is, so the proxies one
// change affects stay constant while the mesh grows: the property the scale sweep tests.
type Topology struct {
	Mesh      string
	N         int
	Spread    int
	Outbounds int
}

const (
	inboundPort  = 20000
	servicePort  = 8080
	outboundBase = 10000
)

// Services is the number of services.
func (t Topology) Services() int { return max(1, (t.N+t.Spread-1)/t.Spread) }

// ServiceName names service s.
func ServiceName(s int) string { return fmt.Sprintf("svc-%05d", s) }

// DataplaneName names dataplane i.
func DataplaneName(i int) string { return fmt.Sprintf("dp-%05d", i) }

// ServiceOf is the service dataplane i provides.
func (t Topology) ServiceOf(i int) int { return i % t.Services() }

// OutboundsOf are the services dataplane i consumes.
func (t Topology) OutboundsOf(i int) []int {
	s, n := t.ServiceOf(i), t.Services()
	var out []int
	for j := 1; j <= t.Outbounds && j < n; j++ {
		out = append(out, (s+j)%n)
	}
	return out
}

// Providers are the dataplanes providing service s.
func (t Topology) Providers(s int) []int {
	var out []int
	for i := s; i < t.N; i += t.Services() {
		out = append(out, i)
	}
	return out
}

// Consumers are the dataplanes with an outbound to service s.
func (t Topology) Consumers(s int) []int {
	var out []int
	for i := range t.N {
		for _, o := range t.OutboundsOf(i) {
			if o == s {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// Address is dataplane i's address in generation gen (a change of address is a change of
// every consumer's endpoints). Loopback addresses, never dialled.
func Address(i, gen int) string {
	return fmt.Sprintf("127.%d.%d.%d", 1+gen*64+(i>>16), (i>>8)&255, i&255)
}

// Dataplane is dataplane i's REST resource.
func (t Topology) Dataplane(i, gen int) kumaapi.Dataplane {
	return t.dataplane(DataplaneName(i), Address(i, gen), t.ServiceOf(i), t.OutboundsOf(i))
}

func (t Topology) dataplane(name, address string, service int, outbounds []int) kumaapi.Dataplane {
	names := make([]string, len(outbounds))
	for j, o := range outbounds {
		names[j] = ServiceName(o)
	}
	return t.dataplaneOf(name, address, ServiceName(service), names)
}

// dataplaneOf is a dataplane with one HTTP inbound of service and outbounds to services.
func (t Topology) dataplaneOf(name, address, service string, outbounds []string) kumaapi.Dataplane {
	dp := kumaapi.Dataplane{Mesh: t.Mesh, Name: name, Networking: kumaapi.Networking{
		Address: address,
		Inbound: []kumaapi.Inbound{{Port: inboundPort, ServicePort: servicePort,
			Tags: map[string]string{kumaapi.ServiceTag: service, "kuma.io/protocol": "http"}}},
	}}
	for j, o := range outbounds {
		dp.Networking.Outbound = append(dp.Networking.Outbound, kumaapi.Outbound{Port: uint32(outboundBase + 1 + j),
			Tags: map[string]string{kumaapi.ServiceTag: o}})
	}
	return dp
}

// Identity is how dataplane i's simulated proxy introduces itself.
func (t Topology) Identity(i int) proxy.Identity {
	id := proxy.Identity{Mesh: t.Mesh, Name: DataplaneName(i), Service: ServiceName(t.ServiceOf(i))}
	for _, o := range t.OutboundsOf(i) {
		id.ExpectClusters = append(id.ExpectClusters, ServiceName(o))
	}
	return id
}

// Validate checks the topology.
func (t Topology) Validate() error {
	if t.Mesh == "" {
		return fmt.Errorf("topology: mesh is required")
	}
	if t.N < 1 || t.Spread < 1 || t.Outbounds < 0 {
		return fmt.Errorf("topology: need n >= 1, spread >= 1, outbounds >= 0 (got %d, %d, %d)", t.N, t.Spread, t.Outbounds)
	}
	return nil
}

// parallel runs fn(i) for i in [0, n) on c workers, stopping at the first error.
func parallel(ctx context.Context, n, c int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range max(1, min(c, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
