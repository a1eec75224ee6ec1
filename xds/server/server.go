// Package server is jetmesh's xDS server: go-control-plane's SotW and Delta ADS behind a small
// interface. It tracks streams per proxy and tells an Observer when a proxy connects, changes
// status (ACK/NACK) and disconnects; authentication is a separate seam (Authenticator).
package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Stream is one ADS stream of one proxy.
type Stream struct {
	ID          int64
	Node        *core.Node
	Token       string // the "authorization" gRPC metadata value, without a scheme
	Delta       bool
	ConnectTime time.Time

	mu           sync.Mutex
	total        Counters
	byType       map[string]*Counters
	lastUpdate   time.Time
	lastNackInfo string
}

// Counters counts a stream's responses.
type Counters struct {
	Sent, Acked, Nacked uint64
}

// Stats returns the stream's totals, the counters per type URL and the last update time.
func (s *Stream) Stats() (total Counters, byType map[string]Counters, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byType = make(map[string]Counters, len(s.byType))
	for k, v := range s.byType {
		byType[k] = *v
	}
	return s.total, byType, s.lastUpdate
}

// count applies f to the totals and to the type's counters; callers hold s.mu.
func (s *Stream) count(typeURL string, f func(*Counters)) {
	f(&s.total)
	if s.byType == nil {
		s.byType = map[string]*Counters{}
	}
	c := s.byType[typeURL]
	if c == nil {
		c = &Counters{}
		s.byType[typeURL] = c
	}
	f(c)
}

// Authenticator decides whether a proxy may open a stream (tokens come with the security work).
type Authenticator interface {
	Authenticate(ctx context.Context, node *core.Node, token string) error
}

// Observer learns about proxy streams. OnConnect may refuse the stream with an error (the proxy
// sees it as the stream's status); the other calls must not block for long.
type Observer interface {
	OnConnect(ctx context.Context, s *Stream) error
	OnStatus(s *Stream)
	OnDisconnect(s *Stream)
}

// Snapshots holds each proxy's current resources; the projection writes, the server reads.
type Snapshots struct {
	cache cache.SnapshotCache
}

// NewSnapshots returns an empty snapshot store. It is not in go-control-plane's ADS mode on
// purpose: in ADS mode the cache withholds a response whenever the snapshot holds resources
// of that type the client did not name (grpc-go asks for one listener at a time), which
// stalls such clients for good.
func NewSnapshots() *Snapshots {
	return &Snapshots{cache: cache.NewSnapshotCache(false, cache.IDHash{}, nil)}
}

// Server serves ADS for the snapshots in its store.
type Server struct {
	snaps *Snapshots
	xds   serverv3.Server
	auth  Authenticator
	obs   Observer
	log   *slog.Logger

	mu      sync.Mutex
	streams map[int64]*Stream
	pending map[int64]streamStart // opened, node not seen yet
}

type streamStart struct {
	token string
	delta bool
	at    time.Time
	ctx   context.Context
}

// New returns a server for the snapshots in snaps.
func New(ctx context.Context, snaps *Snapshots, auth Authenticator, obs Observer, log *slog.Logger) *Server {
	s := &Server{
		snaps:   snaps,
		auth:    auth,
		obs:     obs,
		log:     log,
		streams: map[int64]*Stream{},
		pending: map[int64]streamStart{},
	}
	s.xds = serverv3.NewServer(ctx, snaps.cache, s.callbacks())
	return s
}

// Register adds the ADS services (SotW and Delta) to a gRPC server.
func (s *Server) Register(g *grpc.Server) {
	discovery.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
}

// SetSnapshot publishes a proxy's resources, one version per type. It is a no-op for types
// whose version did not change, so unchanged config is never pushed again.
func (s *Snapshots) SetSnapshot(ctx context.Context, nodeID string, byType map[string][]types.Resource, versions map[string]string) error {
	snap := &cache.Snapshot{}
	for typ, items := range byType {
		idx := cache.GetResponseType(typ)
		if idx == types.UnknownType {
			return fmt.Errorf("set snapshot %s: unknown type %s", nodeID, typ)
		}
		snap.Resources[idx] = cache.NewResources(versions[typ], items)
	}
	if err := snap.Consistent(); err != nil {
		return fmt.Errorf("set snapshot %s: %w", nodeID, err)
	}
	return s.cache.SetSnapshot(ctx, nodeID, snap)
}

// Snapshot returns the proxy's current snapshot.
func (s *Snapshots) Snapshot(nodeID string) (cache.ResourceSnapshot, error) {
	return s.cache.GetSnapshot(nodeID)
}

// ClearSnapshot forgets a proxy.
func (s *Snapshots) ClearSnapshot(nodeID string) { s.cache.ClearSnapshot(nodeID) }

// Streams returns the open streams of a node id.
func (s *Server) Streams(nodeID string) []*Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Stream
	for _, st := range s.streams {
		if st.Node.GetId() == nodeID {
			out = append(out, st)
		}
	}
	return out
}

func (s *Server) callbacks() serverv3.CallbackFuncs {
	return serverv3.CallbackFuncs{
		StreamOpenFunc:      func(ctx context.Context, id int64, _ string) error { return s.open(ctx, id, false) },
		DeltaStreamOpenFunc: func(ctx context.Context, id int64, _ string) error { return s.open(ctx, id, true) },
		StreamClosedFunc:    func(id int64, _ *core.Node) { s.closed(id) },
		DeltaStreamClosedFunc: func(id int64, _ *core.Node) {
			s.closed(id)
		},
		StreamRequestFunc: func(id int64, r *discovery.DiscoveryRequest) error {
			return s.request(id, r.GetNode(), r.GetTypeUrl(), r.GetResponseNonce() != "", r.GetErrorDetail())
		},
		StreamDeltaRequestFunc: func(id int64, r *discovery.DeltaDiscoveryRequest) error {
			return s.request(id, r.GetNode(), r.GetTypeUrl(), r.GetResponseNonce() != "", r.GetErrorDetail())
		},
		StreamResponseFunc: func(_ context.Context, id int64, _ *discovery.DiscoveryRequest, r *discovery.DiscoveryResponse) {
			s.responded(id, r.GetTypeUrl())
		},
		StreamDeltaResponseFunc: func(id int64, _ *discovery.DeltaDiscoveryRequest, r *discovery.DeltaDiscoveryResponse) {
			s.responded(id, r.GetTypeUrl())
		},
	}
}

func (s *Server) open(ctx context.Context, id int64, delta bool) error {
	token := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		vals := md.Get("authorization")
		if len(vals) > 1 {
			return status.Error(codes.Unauthenticated, "exactly one authorization metadata value is allowed")
		}
		if len(vals) == 1 {
			token = strings.TrimSpace(strings.TrimPrefix(vals[0], "Bearer "))
		}
	}
	s.mu.Lock()
	s.pending[id] = streamStart{token: token, delta: delta, at: time.Now(), ctx: ctx}
	s.mu.Unlock()
	return nil
}

// request handles every request; the first one carries the node and registers the stream.
func (s *Server) request(id int64, node *core.Node, typeURL string, isReply bool, nack interface{ GetMessage() string }) error {
	s.mu.Lock()
	st, known := s.streams[id]
	start, isPending := s.pending[id]
	s.mu.Unlock()
	if !known {
		if !isPending {
			return status.Error(codes.Internal, "unknown stream")
		}
		if node.GetId() == "" {
			return status.Error(codes.InvalidArgument, "the first request of a stream must carry node.id")
		}
		if err := s.auth.Authenticate(start.ctx, node, start.token); err != nil {
			s.log.Warn("proxy refused", "node", node.GetId(), "err", err)
			return status.Errorf(codes.Unauthenticated, "authentication failed: %v", err)
		}
		st = &Stream{ID: id, Node: node, Token: start.token, Delta: start.delta, ConnectTime: start.at}
		if err := s.obs.OnConnect(start.ctx, st); err != nil {
			s.log.Warn("proxy refused", "node", node.GetId(), "err", err)
			return status.Errorf(codes.FailedPrecondition, "%v", err)
		}
		s.mu.Lock()
		delete(s.pending, id)
		s.streams[id] = st
		s.mu.Unlock()
		s.log.Debug("proxy connected", "node", node.GetId(), "stream", id, "delta", start.delta)
	}
	if !isReply {
		return nil
	}
	st.mu.Lock()
	if msg := nack.GetMessage(); msg != "" {
		st.count(typeURL, func(c *Counters) { c.Nacked++ })
		st.lastNackInfo = msg
	} else {
		st.count(typeURL, func(c *Counters) { c.Acked++ })
	}
	st.mu.Unlock()
	s.obs.OnStatus(st)
	return nil
}

func (s *Server) responded(id int64, typeURL string) {
	s.mu.Lock()
	st := s.streams[id]
	s.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	st.count(typeURL, func(c *Counters) { c.Sent++ })
	st.lastUpdate = time.Now()
	st.mu.Unlock()
	s.obs.OnStatus(st)
}

func (s *Server) closed(id int64) {
	s.mu.Lock()
	st := s.streams[id]
	delete(s.streams, id)
	delete(s.pending, id)
	s.mu.Unlock()
	if st != nil {
		s.log.Debug("proxy disconnected", "node", st.Node.GetId(), "stream", id)
		s.obs.OnDisconnect(st)
	}
}

// NoAuthentication accepts every proxy. It is the explicit choice of a control plane whose
// dataplane authentication is off (Kuma's "none"); the CP logs that it runs this way.
type NoAuthentication struct{}

// Authenticate implements Authenticator.
func (NoAuthentication) Authenticate(context.Context, *core.Node, string) error { return nil }
