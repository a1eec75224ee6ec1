package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/anypb"
)

// run opens the stream and serves it until ctx ends or the server ends it.
func (p *Proxy) run(ctx context.Context, cc *grpc.ClientConn, obs Observer) error {
	node, err := p.node()
	if err != nil {
		return err
	}
	if p.cfg.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", p.cfg.Token)
	}
	client := discovery.NewAggregatedDiscoveryServiceClient(cc)
	if p.cfg.Delta {
		err = p.runDelta(ctx, client, node, obs)
	} else {
		err = p.runSotW(ctx, client, node, obs)
	}
	if ctx.Err() != nil {
		return nil // closed by us
	}
	return err
}

// sotwType is the client state of one type on a SotW stream.
type sotwType struct {
	version, nonce string
	names          []string
}

// runSotW: CDS and LDS wildcard requests (the node on the first message only, as kuma-dp's
// bootstrap sets set_node_on_first_message_only), then EDS for the clusters CDS names; every
// response is ACKed with its version and nonce or NACKed with the last accepted version.
func (p *Proxy) runSotW(ctx context.Context, client discovery.AggregatedDiscoveryServiceClient, node *core.Node, obs Observer) error {
	stream, err := client.StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open ADS stream: %w", err)
	}
	p.opened(time.Now())
	state := map[string]*sotwType{ClusterType: {}, ListenerType: {}, EndpointType: {}}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: ClusterType}); err != nil {
		return fmt.Errorf("send CDS request: %w", err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: ListenerType}); err != nil {
		return fmt.Errorf("send LDS request: %w", err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return recvErr(err)
		}
		at := time.Now()
		typ := resp.GetTypeUrl()
		st := state[typ]
		if st == nil {
			return fmt.Errorf("response of unrequested type %s", typ)
		}
		st.nonce = resp.GetNonce()
		d, derr := p.decode(typ, resp.GetResources(), nil)
		req := &discovery.DiscoveryRequest{TypeUrl: typ, ResponseNonce: st.nonce, ResourceNames: st.names}
		edsChanged := false
		if derr != nil {
			p.rejected(derr.Error())
			req.VersionInfo = st.version
			req.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: derr.Error()}
		} else {
			st.version = resp.GetVersionInfo()
			req.VersionInfo = st.version
			edsChanged = p.apply(typ, d, true, nil, at)
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("send %s ACK: %w", typ, err)
		}
		if edsChanged {
			eds := state[EndpointType]
			eds.names = p.edsSubscription()
			err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: EndpointType, VersionInfo: eds.version,
				ResponseNonce: eds.nonce, ResourceNames: eds.names})
			if err != nil {
				return fmt.Errorf("send EDS request: %w", err)
			}
		}
		obs(p, typ, at)
	}
}

// runDelta: wildcard CDS and LDS subscriptions, then EDS subscribe/unsubscribe as the
// clusters change; ACK with the nonce, NACK with error_detail.
func (p *Proxy) runDelta(ctx context.Context, client discovery.AggregatedDiscoveryServiceClient, node *core.Node, obs Observer) error {
	stream, err := client.DeltaAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open delta ADS stream: %w", err)
	}
	p.opened(time.Now())
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: ClusterType}); err != nil {
		return fmt.Errorf("send CDS request: %w", err)
	}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: ListenerType}); err != nil {
		return fmt.Errorf("send LDS request: %w", err)
	}
	var subscribed []string
	for {
		resp, err := stream.Recv()
		if err != nil {
			return recvErr(err)
		}
		at := time.Now()
		typ := resp.GetTypeUrl()
		items := resp.GetResources()
		anys := make([]*anypb.Any, len(items))
		names := make([]string, len(items))
		for i, r := range items {
			anys[i], names[i] = r.GetResource(), r.GetName()
		}
		d, derr := p.decode(typ, anys, names)
		req := &discovery.DeltaDiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce()}
		edsChanged := false
		if derr != nil {
			p.rejected(derr.Error())
			req.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: derr.Error()}
		} else {
			edsChanged = p.apply(typ, d, false, resp.GetRemovedResources(), at)
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("send %s ACK: %w", typ, err)
		}
		if edsChanged {
			want := p.edsSubscription()
			add, remove := diff(subscribed, want)
			subscribed = want
			err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: EndpointType,
				ResourceNamesSubscribe: add, ResourceNamesUnsubscribe: remove})
			if err != nil {
				return fmt.Errorf("send EDS subscription: %w", err)
			}
		}
		obs(p, typ, at)
	}
}

// diff returns what is in want but not in have, and what is in have but not in want.
func diff(have, want []string) (add, remove []string) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			remove = append(remove, h)
		}
	}
	return add, remove
}

func recvErr(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("server closed the stream")
	}
	return fmt.Errorf("receive: %w", err)
}
