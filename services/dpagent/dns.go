package dpagent

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/services/dnsproxy"
	"github.com/jetmesh/jetmesh/services/dynconf"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

func (c *Config) dnsUpstreams() []string {
	var out []string
	for _, u := range strings.Split(c.DNSUpstreams, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// dnsProxyAddresses are where the embedded DNS proxy listens, or nil with the reason it
// does not run. kuma-dp runs it for every Dataplane when DNS is on; jetmesh-dp also skips
// it when the Dataplane it was given has no transparent proxying, since then nothing
// redirects DNS to it and the control plane serves it no table. In the indirect lifecycle
// the resource is unknown, so it runs as in kuma-dp.
//
// kuma-dp without --transparent-proxy binds 0.0.0.0; jetmesh-dp (which has no such flag)
// binds loopback only, where the OUTPUT-chain redirect delivers, rather than offering a
// forwarding resolver on every interface.
func (c *Config) dnsProxyAddresses(res *Resource) ([]string, string) {
	switch {
	case !c.DNSEnabled:
		return nil, "--dns-enabled=false"
	case c.DNSProxyPort == 0:
		return nil, "--dns-proxy-port is 0"
	case c.ProxyType != bootstrap.ProxyTypeDataplane:
		return nil, "zone proxies do not resolve mesh names"
	case res != nil && !res.TransparentProxying:
		return nil, "the Dataplane has no networking.transparentProxying"
	}
	dualStack := c.IPv6Enabled && (res == nil || res.IPFamilyMode != "IPv4") && hasLoopbackIPv6()
	return dnsproxy.ListenAddresses(c.DNSProxyPort, dualStack, false), ""
}

// hasLoopbackIPv6 reports ::1 on this host (absent when IPv6 is disabled in the kernel).
func hasLoopbackIPv6() bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.IPv6loopback) {
			return true
		}
	}
	return false
}

// dnsRuntime is the running DNS proxy and the poller that feeds it its table.
type dnsRuntime struct {
	srv         *dnsproxy.Server
	cancel      context.CancelFunc
	fetcherDone chan struct{}
}

// startDNS starts the embedded DNS proxy, listening before it returns so a busy port fails
// the start, and polls the DNS table that the control plane serves through Envoy on the
// dynamic-configuration socket in workdir. It returns nil when the proxy is not to run.
func (a *Agent) startDNS(ctx context.Context, c *Config, res *Resource, workdir string) (*dnsRuntime, error) {
	addrs, reason := c.dnsProxyAddresses(res)
	if addrs == nil {
		a.log.Info("embedded DNS proxy not started", "reason", reason)
		return nil, nil
	}
	cfg := dnsproxy.DefaultConfig()
	cfg.Addresses, cfg.Upstreams, cfg.MeshDomain = addrs, c.dnsUpstreams(), c.DNSMeshDomain
	log := a.log.With("component", "dns-proxy")
	srv, err := dnsproxy.New(cfg, log)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(ctx)
	if err := srv.Start(dctx); err != nil {
		cancel()
		return nil, fmt.Errorf("embedded DNS proxy (KUMA_DNS_PROXY_PORT=%d): %w", c.DNSProxyPort, err)
	}
	f := dynconf.New(dynconf.SocketPath(workdir), c.DynamicConfigRefresh, a.log.With("component", "dynamic-config"))
	if err := f.Handle(dnsproxy.Path, srv.ReloadMap); err != nil {
		cancel()
		<-srv.Done()
		return nil, err
	}
	d := &dnsRuntime{srv: srv, cancel: cancel, fetcherDone: make(chan struct{})}
	go func() {
		defer close(d.fetcherDone)
		_ = f.Run(dctx)
	}()
	return d, nil
}

// ready is closed when the first DNS table has arrived; nil (no gate) without a proxy.
func (d *dnsRuntime) ready() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.srv.Ready()
}

// stop stops polling and serving and waits for both.
func (d *dnsRuntime) stop() {
	if d == nil {
		return
	}
	d.cancel()
	<-d.fetcherDone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.srv.Stop(ctx)
}
