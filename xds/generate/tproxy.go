package generate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	dnsdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/dns/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	dnsfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/dns_filter/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/xds/dpapi"
)

// Transparent proxying (Kuma's TransparentProxyGenerator, DNSGenerator and dynconf, legacy
// naming; testdata/transparent-proxy and testdata/dns): a dataplane whose networking has
// transparentProxying with an outbound redirect port gets
//   - "outbound:passthrough:ipv4" on 0.0.0.0:<redirectPortOutbound> (and ":ipv6" on "::"
//     unless the IP family is IPv4 only), use_original_dst, so the connection is handed to
//     the listener of its original destination, else tcp_proxy to the ORIGINAL_DST cluster of
//     the same name (only when the mesh allows passthrough);
//   - "inbound:passthrough:ipv4" on 0.0.0.0:<redirectPortInbound>, the same towards
//     ORIGINAL_DST bound to 127.0.0.6 (::6), plus "self_transparentproxy_no_destination_inbound";
//   - a listener per virtual outbound (every service's VIP, from the mesh's
//     kuma-<mesh>-dns-vips) besides its own outbounds; these and the inbound listeners do not
//     bind (bind_to_port false): only the original-destination hand-off reaches them;
//   - with kuma-dp's embedded DNS, the "_kuma:dynamicconfig" listener on its pipe, whose
//     GET /dns answers the name table (ETag / If-None-Match as kuma-dp polls it).
// kuma-dp's feature-bind-outbounds turns all of this off, as in Kuma.

// Transparent-proxy names and addresses (Kuma's pkg/xds/generator/metadata).
const (
	passthroughOutboundIPv4 = "outbound:passthrough:ipv4"
	passthroughOutboundIPv6 = "outbound:passthrough:ipv6"
	passthroughInboundIPv4  = "inbound:passthrough:ipv4"
	passthroughInboundIPv6  = "inbound:passthrough:ipv6"
	noDestinationCluster    = "self_transparentproxy_no_destination_inbound"
	inPassthroughIPv4       = "127.0.0.6"
	inPassthroughIPv6       = "::6"
	// DynamicConfigListener is kuma-dp's dynamic configuration listener.
	DynamicConfigListener = "_kuma:dynamicconfig"
	// dnsTTL is Kuma's TTL of virtual-IP answers (kumahq/kuma#13353).
	dnsTTL = 30
	// passthroughConnectTimeout is Kuma's default cluster connect timeout.
	passthroughConnectTimeout = 5 * time.Second
)

// VirtualOutbound is an outbound a transparent proxy gets for a virtual IP.
type VirtualOutbound struct {
	Address string
	Port    uint32
	Tags    map[string]string
}

// DNSName is one name of the mesh's virtual IPs.
type DNSName struct {
	Name    string
	Address string
}

// transparent reports whether the proxy gets transparent-proxy listeners.
func (p *Proxy) transparent() bool {
	tp := p.Dataplane.Spec.Networking.TransparentProxying
	return tp != nil && tp.RedirectPortOutbound != 0 && !p.BindOutbounds
}

// ipv6 reports whether the redirection covers IPv6 too (dual stack is the default).
func (p *Proxy) ipv6() bool {
	tp := p.Dataplane.Spec.Networking.TransparentProxying
	return tp != nil && tp.IPFamilyMode != core.IPFamilyIPv4
}

func passthroughEnabled(m *core.Mesh) bool {
	return m == nil || m.Networking == nil || m.Networking.Outbound == nil || m.Networking.Outbound.Passthrough == nil ||
		*m.Networking.Outbound.Passthrough
}

// virtualOutbounds returns the VIP outbounds to generate: the ones the proxy may reach
// (transparentProxying.reachableServices, when set) and whose address and port none of its
// own outbounds takes.
func virtualOutbounds(p *Proxy, own []outbound) []outbound {
	if !p.transparent() {
		return nil
	}
	taken := map[string]bool{}
	for _, o := range own {
		taken[fmt.Sprintf("%s:%d", o.address, o.port)] = true
	}
	reachable := p.Dataplane.Spec.Networking.TransparentProxying.ReachableServices
	var out []outbound
	for _, v := range p.VirtualOutbounds {
		service := v.Tags[resources.TagService]
		key := fmt.Sprintf("%s:%d", v.Address, v.Port)
		if service == "" || taken[key] || len(reachable) > 0 && !slices.Contains(reachable, service) {
			continue
		}
		taken[key] = true
		out = append(out, outbound{tags: v.Tags, service: service, cluster: ClusterName(v.Tags),
			protocol: serviceProtocol(p.Endpoints[service], v.Tags), address: v.Address, port: v.Port})
	}
	return out
}

// transparentProxy adds the passthrough listeners and clusters, unbinds the port listeners
// and serves the DNS table.
func (g *generator) transparentProxy() {
	if !g.p.transparent() {
		return
	}
	tp := g.p.Dataplane.Spec.Networking.TransparentProxying
	for _, l := range g.b.listeners.sorted() {
		if strings.HasPrefix(l.Name, "inbound:") || strings.HasPrefix(l.Name, "outbound:") {
			l.BindToPort = wrapperspb.Bool(false)
		}
	}
	g.b.clusters.add(&clusterv3.Cluster{
		Name:                 noDestinationCluster,
		AltStatName:          noDestinationCluster,
		ConnectTimeout:       durationpb.New(passthroughConnectTimeout),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
	})
	families := []struct{ out, in, all, bind string }{{passthroughOutboundIPv4, passthroughInboundIPv4, "0.0.0.0", inPassthroughIPv4}}
	if g.p.ipv6() {
		families = append(families, struct{ out, in, all, bind string }{passthroughOutboundIPv6, passthroughInboundIPv6, "::", inPassthroughIPv6})
	}
	for _, f := range families {
		if passthroughEnabled(g.p.Mesh.Spec) {
			g.b.clusters.add(originalDstCluster(f.out, ""))
		}
		g.b.listeners.add(&listenerv3.Listener{
			Name:             f.out,
			Address:          socketAddress(f.all, tp.RedirectPortOutbound),
			TrafficDirection: corev3.TrafficDirection_OUTBOUND,
			UseOriginalDst:   wrapperspb.Bool(true),
			FilterChains:     []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{g.tcpProxy(SanitizeMetric(f.out), f.out, nil)}}},
		})
		if tp.RedirectPortInbound == 0 {
			continue
		}
		g.b.clusters.add(originalDstCluster(f.in, f.bind))
		g.b.listeners.add(&listenerv3.Listener{
			Name:             f.in,
			Address:          socketAddress(f.all, tp.RedirectPortInbound),
			TrafficDirection: corev3.TrafficDirection_INBOUND,
			UseOriginalDst:   wrapperspb.Bool(true),
			EnableReusePort:  wrapperspb.Bool(false),
			FilterChains:     []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{g.tcpProxy(SanitizeMetric(f.in), f.in, nil)}}},
		})
	}
	switch {
	case g.p.DNS == nil:
	case g.p.DNS.Embedded:
		g.dynamicConfig()
	case g.p.DNS.EnvoyPort != 0:
		g.dnsListener()
	}
}

// originalDstCluster forwards to the connection's original destination; bind, when set, is
// the source address (inbound passthrough leaves from 127.0.0.6 so it is not redirected again).
func originalDstCluster(name, bind string) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 name,
		AltStatName:          altStatName(name),
		ConnectTimeout:       durationpb.New(passthroughConnectTimeout),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_ORIGINAL_DST},
		LbPolicy:             clusterv3.Cluster_CLUSTER_PROVIDED,
	}
	if bind != "" {
		c.UpstreamBindConfig = &corev3.BindConfig{SourceAddress: &corev3.SocketAddress{
			Address: bind, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 0}}}
	}
	return c
}

// dnsTable is the proxy's table: the names of the virtual IPs it has an outbound on (a name
// without one would resolve to an address nothing listens for), each with its IPv4 address
// and, on dual stack, the IPv4-mapped IPv6 form; sorted by name.
func dnsTable(p *Proxy, outbounds []outbound) dpapi.DNSTable {
	listening := map[string]bool{}
	for _, o := range outbounds {
		listening[o.address] = true
	}
	t := dpapi.DNSTable{Records: []dpapi.DNSRecord{}, TTL: dnsTTL, ExtraLabels: map[string]string{"mesh": p.Mesh.Name}}
	if z := p.Dataplane.Meta.Labels[resources.LabelZone]; z != "" {
		t.ExtraLabels["kuma_io_zone"] = z
	}
	for _, n := range p.DNS.Names {
		if !listening[n.Address] {
			continue
		}
		ips := []string{n.Address}
		if a, err := netip.ParseAddr(n.Address); err == nil && a.Is4() && p.ipv6() {
			b := a.As4()
			ips = append(ips, fmt.Sprintf("::ffff:%x:%x", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3])))
		}
		t.Records = append(t.Records, dpapi.DNSRecord{Name: n.Name, IPs: ips})
	}
	slices.SortFunc(t.Records, func(a, b dpapi.DNSRecord) int { return strings.Compare(a.Name, b.Name) })
	return t
}

// DNSOptions say how a transparent proxy's DNS gets the mesh's names.
type DNSOptions struct {
	// Names are the mesh's virtual-IP names (vips.Table.Names).
	Names []DNSName
	// Embedded: kuma-dp serves DNS itself (feature-embedded-dns) and reads the table from
	// the dynamic config listener.
	Embedded bool
	// EnvoyPort, without Embedded, is where Envoy's DNS filter answers kuma-dp's CoreDNS
	// (dataplane.dns.port, 15054 by default); 0 generates nothing.
	EnvoyPort uint32
	// ReusePort is kuma-dp's feature-reuse-port.
	ReusePort bool
}

// DNSListener is the listener of Envoy's DNS filter (kuma-dp without the embedded DNS).
const DNSListener = "kuma:dns"

// dnsListener adds Envoy's DNS filter on 127.0.0.1:<EnvoyPort>/UDP, answering the same table
// (Kuma's DNSGenerator without feature-embedded-dns); kuma-dp's CoreDNS asks it first.
func (g *generator) dnsListener() {
	table := dnsTable(g.p, resolveOutbounds(g.p))
	domains := make([]*dnsdatav3.DnsTable_DnsVirtualDomain, 0, len(table.Records))
	for _, r := range table.Records {
		domains = append(domains, &dnsdatav3.DnsTable_DnsVirtualDomain{
			Name: r.Name,
			Endpoint: &dnsdatav3.DnsTable_DnsEndpoint{EndpointConfig: &dnsdatav3.DnsTable_DnsEndpoint_AddressList{
				AddressList: &dnsdatav3.DnsTable_AddressList{Address: r.IPs}}},
			AnswerTtl: durationpb.New(dnsTTL * time.Second),
		})
	}
	filter := &dnsfilterv3.DnsFilterConfig{
		StatPrefix: "kuma_dns",
		ServerConfig: &dnsfilterv3.DnsFilterConfig_ServerContextConfig{
			ConfigSource: &dnsfilterv3.DnsFilterConfig_ServerContextConfig_InlineDnsTable{
				InlineDnsTable: &dnsdatav3.DnsTable{VirtualDomains: domains}}},
	}
	addr := socketAddress("127.0.0.1", g.p.DNS.EnvoyPort)
	addr.GetSocketAddress().Protocol = corev3.SocketAddress_UDP
	g.b.listeners.add(&listenerv3.Listener{
		Name:             DNSListener,
		Address:          addr,
		TrafficDirection: corev3.TrafficDirection_INBOUND,
		EnableReusePort:  wrapperspb.Bool(g.p.DNS.ReusePort),
		ListenerFilters: []*listenerv3.ListenerFilter{{
			Name:       "envoy.filters.udp.dns_filter",
			ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: g.pack(filter)},
		}},
	})
}

// dynamicConfig adds kuma-dp's dynamic configuration listener serving the DNS table.
func (g *generator) dynamicConfig() {
	body, err := json.Marshal(dnsTable(g.p, resolveOutbounds(g.p)))
	if err != nil {
		g.fail(fmt.Errorf("dns table: %w", err))
		return
	}
	sum := sha256.Sum256(body)
	etag := hex.EncodeToString(sum[:])
	routes := &routev3.RouteConfiguration{
		MaxDirectResponseBodySizeBytes: wrapperspb.UInt32(uint32(len(body))),
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    DynamicConfigListener,
			Domains: []string{"*"},
			Routes: []*routev3.Route{{
				Match: &routev3.RouteMatch{
					PathSpecifier: &routev3.RouteMatch_Path{Path: dpapi.DNSPath},
					Headers: []*routev3.HeaderMatcher{{
						Name: "If-None-Match",
						HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
							MatchPattern: &matcherv3.StringMatcher_Exact{Exact: etag}}},
					}},
				},
				Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 304}},
			}, {
				Name:  DynamicConfigListener + ":" + dpapi.DNSPath,
				Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: dpapi.DNSPath}},
				ResponseHeadersToAdd: []*corev3.HeaderValueOption{{
					Header: &corev3.HeaderValue{Key: "Etag", Value: etag},
				}},
				Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
					Status: 200,
					Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(body)}},
				}},
			}},
		}},
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:            SanitizeMetric(DynamicConfigListener),
		HttpFilters:           []*hcmv3.HttpFilter{g.routerFilter()},
		RouteSpecifier:        &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: routes},
		InternalAddressConfig: internalAddressConfig(),
	}
	g.b.listeners.add(&listenerv3.Listener{
		Name: DynamicConfigListener,
		Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{
			Path: dpapi.SocketPath(g.p.Admin.WorkDir)}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       wellknown.HTTPConnectionManager,
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: g.pack(hcm)},
		}}}},
	})
}
