package controlplane

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"go.uber.org/fx"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/snapshots"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/api"
	"github.com/jetmesh/jetmesh/services/dpserver"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/xds/server"
)

// dataplaneModule serves proxies: the xDS projection, ADS, /bootstrap and the lifecycle.
var dataplaneModule = fx.Options(
	fx.Provide(
		server.NewSnapshots,
		newProjector,
		newLifecycle,
		newDPServer,
	),
	fx.Invoke(func(*dpserver.Server) {}),
)

// newProjector runs the xDS projection on its own ordered consumer.
func newProjector(lc fx.Lifecycle, reg *resources.Registry, store events.Store, snaps *server.Snapshots,
	cfg Config, log *slog.Logger) *snapshots.Projector {
	p := snapshots.New(reg, snapshots.Generate, snaps, cfg.Multizone.Zone.Name, log.With("component", "xds"))
	p.DNS, _ = cfg.vipSettings() // Config.Validate has checked them

	r := projections.NewRunner("xds", store, p, log)
	lc.Append(fx.StartStopHook(r.Start, r.Stop))
	lc.Append(fx.StartStopHook(p.Start, p.Stop))
	return p
}

func newLifecycle(lc fx.Lifecycle, cfg Config, m *manager.Manager, inst instance, log *slog.Logger) *dpserver.Lifecycle {
	l := dpserver.NewLifecycle(dpserver.LifecycleConfig{
		DeregistrationDelay: time.Duration(cfg.XDS.DataplaneDeregistrationDelay),
		StatusFlushInterval: time.Duration(cfg.XDS.DataplaneStatusFlushInterval),
		CleanupAge:          time.Duration(cfg.XDS.DataplaneCleanupAge),
	}, m, inst.ID, log.With("component", "lifecycle"))
	lc.Append(fx.StartStopHook(l.Start, l.Stop))
	return l
}

func newDPServer(lc fx.Lifecycle, cfg Config, snaps *server.Snapshots, proj *snapshots.Projector,
	life *dpserver.Lifecycle, m *manager.Manager, a *api.Server, keys *keyrings, log *slog.Logger) *dpserver.Server {
	log = log.With("component", "dp-server")
	auth := newProxyAuth(m, cfg, keys)
	if cfg.DPServer.Authn.DPProxy.Type == AuthnNone {
		log.Warn("dataplane authentication is off (dpServer.authn.dpProxy.type=none): any proxy that reaches the DP server is served; set KUMA_DP_SERVER_AUTHN_DP_PROXY_TYPE=dpToken")
	}
	obs := &dpserver.Observer{Lifecycle: life, Snapshots: proj}
	ctx, cancel := context.WithCancel(context.Background())
	xds := server.New(ctx, snaps, auth, obs, log)
	obs.Streams = xds
	dcfg := dpserver.DefaultConfig()
	dcfg.Address, dcfg.Port, dcfg.Hosts = cfg.DPServer.Interface, cfg.DPServer.Port, cfg.DPServer.Hosts
	dcfg.CertDir = filepath.Join(cfg.DataDir, "certs")
	var s *dpserver.Server
	// The handler runs only after Start has loaded the certificate.
	caCert := func() []byte { return s.CACertPEM() }
	bh := dpserver.NewBootstrapHandler(m, caCert, log)
	bh.Authenticate = auth.check
	s = dpserver.New(dcfg, bh, log)
	a.Handle("/tokens/dataplane", auth.dataplaneTokenHandler())
	xds.Register(s.GRPC())
	lc.Append(fx.StartStopHook(s.Start, func(ctx context.Context) error {
		// End the ADS streams first: a connected proxy keeps its stream open forever, and
		// the server's shutdown would otherwise wait for it until the shutdown timeout.
		cancel()
		return s.Stop(ctx)
	}))
	return s
}
