package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"

	"github.com/jetmesh/jetmesh/events"
	jsstore "github.com/jetmesh/jetmesh/events/jetstream"
	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/api"
	"github.com/jetmesh/jetmesh/services/dpserver"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/natsd"
	"github.com/jetmesh/jetmesh/services/zonesync"
	"github.com/jetmesh/jetmesh/xds/policies"
)

// Version facts reported by GET /. kumactl accepts a control plane whose product is "Kuma";
// reporting the Kuma release whose API we implement keeps it from warning on every command.
const (
	ReportedProduct = "Kuma"
	KumaAPIVersion  = "2.14.3"
)

// Version of jetmesh itself, set at build time with -ldflags.
var Version = "dev"

// Module wires a standalone control plane from cfg.
func Module(cfg Config, log *slog.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg),
		fx.Supply(log),
		fx.Provide(
			NewRegistry,
			newInstance,
			newConn,
			newStore,
			func(s *jsstore.Store) events.Store { return s },
			newState,
			newCheckpointer,
			newRunner,
			newManager,
			newPostgres,
			newAPI,
			func(cfg Config, m *manager.Manager) *keyrings { return newKeyrings(cfg, m.View()) },
		),
		fx.Invoke(startCompactor),
		fx.Invoke(startUserTokens),
		modeModule(cfg),
		// The API server starts last and stops first: once GET / answers, everything else
		// (projections, DP server, zone sync) is up. Its hook is added here rather than where
		// it is built, because other parts take the server to add endpoints and would
		// otherwise pull its start ahead of their own. Parts start in dependency order and
		// stop in reverse.
		fx.Invoke(func(lc fx.Lifecycle, s *api.Server) { lc.Append(fx.StartStopHook(s.Start, s.Stop)) }),
	)
}

// NewRegistry returns every resource type this control plane serves.
func NewRegistry() (*resources.Registry, error) {
	return resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
}

// instance identifies this control plane process.
type instance struct {
	ID    string
	Scope events.Scope
	Env   resources.Env
}

func newInstance(cfg Config) instance {
	host, _ := os.Hostname()
	scope := events.ZoneScope(cfg.Multizone.Zone.Name)
	if cfg.Mode == resources.ModeGlobal {
		scope = events.Scope{}
	}
	return instance{
		ID:    fmt.Sprintf("%s-%s", host, uuid.NewString()[:4]),
		Scope: scope,
		Env:   resources.Env{Mode: cfg.Mode, Zone: cfg.Multizone.Zone.Name, Environment: cfg.Environment},
	}
}

func newState(reg *resources.Registry, inst instance) *state.State {
	return state.NewScoped(reg, inst.Scope)
}

// newConn starts the embedded NATS server (unless an external URL is configured) and connects.
func newConn(lc fx.Lifecycle, cfg Config, links *linkAuth, log *slog.Logger) (*nats.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// nats.go prints asynchronous errors to stderr unless told otherwise; route them to slog.
	// The usual one, a closed pipe while the embedded server shuts down, is expected.
	onErr := nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		log.Debug("NATS async error", "subject", subject, "err", err)
	})
	if cfg.NATS.URL != "" {
		opts := []nats.Option{nats.Name("jetmesh-cp"), nats.MaxReconnects(-1), onErr}
		if cfg.NATS.CredsFile != "" {
			opts = append(opts, nats.UserCredentials(cfg.NATS.CredsFile))
		}
		nc, err := nats.Connect(cfg.NATS.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connect to NATS %s: %w", cfg.NATS.URL, err)
		}
		lc.Append(fx.StopHook(func() {
			// Draining flushes what this CP published; if the server is unreachable there is
			// nothing to flush to, and shutdown must still finish.
			if err := nc.Drain(); err != nil {
				log.Warn("NATS drain failed", "err", err)
				nc.Close()
			}
		}))
		return nc, nil
	}
	ncfg := natsd.DefaultConfig()
	ncfg.Host = cfg.NATS.Embedded.Host
	ncfg.Port = cfg.NATS.Embedded.Port
	ncfg.SyncAlways = cfg.NATS.Embedded.SyncAlways
	ncfg.StoreDir = filepath.Join(cfg.DataDir, "nats")
	if err := configureLinks(&ncfg, cfg, links); err != nil {
		return nil, err
	}
	srv, err := natsd.New(ncfg, log.With("component", "nats"))
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	nc, err := srv.Connect(ctx, nats.Name("jetmesh-cp"), onErr)
	if err != nil {
		_ = srv.Stop(ctx)
		return nil, err
	}
	links.server = srv
	lc.Append(fx.StopHook(func(ctx context.Context) error {
		// Drain flushes what this CP published before the server goes away.
		if err := nc.Drain(); err != nil {
			log.Warn("NATS drain failed", "err", err)
		}
		return srv.Stop(ctx)
	}))
	return nc, nil
}

// StreamName is the JetStream stream holding a zone's resources.
func StreamName(zone string) string { return zonesync.ZoneStream(zone) }

func newStore(nc *nats.Conn, cfg Config, inst instance, log *slog.Logger) (*jsstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	scfg := jsstore.DefaultConfig()
	scfg.Stream = StreamName(cfg.Multizone.Zone.Name)
	if inst.Scope.IsGlobal() {
		scfg.Stream = zonesync.GlobalStream
	}
	scfg.Subjects = []string{inst.Scope.Wildcard()}
	scfg.Replicas = cfg.Store.Replicas
	scfg.HistoryMaxEvents = cfg.Store.HistoryMaxEvents
	return jsstore.New(ctx, js, scfg, "jetmesh://cp/"+inst.ID, log.With("component", "store"))
}

// startCompactor keeps history within store.historyMaxAge when one is set.
func startCompactor(lc fx.Lifecycle, cfg Config, store *jsstore.Store, log *slog.Logger) {
	if cfg.Store.HistoryMaxAge <= 0 {
		return
	}
	c := newCompactor(store, time.Duration(cfg.Store.HistoryMaxAge), log.With("component", "compactor"))
	lc.Append(fx.StartStopHook(c.Start, c.Stop))
}

func newRunner(lc fx.Lifecycle, store events.Store, view *state.State, cp *checkpointer, log *slog.Logger) *projections.Runner {
	r := projections.NewRunner("state", store, view, log)
	lc.Append(fx.StartStopHook(func(ctx context.Context) error {
		cp.load(ctx, store)
		if err := r.Start(ctx); err != nil {
			return err
		}
		return cp.Start(ctx)
	}, func(ctx context.Context) error {
		if err := cp.Stop(ctx); err != nil {
			return err
		}
		if err := r.Stop(ctx); err != nil {
			return err
		}
		if _, err := cp.save(); err != nil {
			log.Warn("read model checkpoint not saved; the next start replays the log", "err", err)
		}
		return nil
	}))
	return r
}

func newManager(lc fx.Lifecycle, cfg Config, reg *resources.Registry, store events.Store, view *state.State,
	inst instance, _ *projections.Runner, log *slog.Logger) *manager.Manager {
	m := manager.New(reg, store, view, inst.Env, inst.Scope, log.With("component", "manager"))
	m.Writable = writable(cfg)
	m.InitialPolicies = !cfg.Federated()
	if !cfg.Federated() {
		m.AfterApply = ensureMeshCA(m) // a federated zone gets the CA secrets from the global
	}
	// A federated zone receives its meshes from the global.
	if !cfg.Defaults.SkipMesh && !cfg.Federated() {
		lc.Append(fx.StartHook(func(ctx context.Context) error {
			return m.EnsureDefaultMesh(ctx, cfg.Defaults.MeshName, cfg.Defaults.SkipInitialPolicies)
		}))
	}
	return m
}

func newAPI(cfg Config, inst instance, m *manager.Manager, pg *pgAudit, cp *checkpointer,
	log *slog.Logger) *api.Server {
	s := api.New(cfg.apiConfig(), api.Info{
		Product: ReportedProduct, Version: KumaAPIVersion, JetmeshVersion: Version,
		InstanceID: inst.ID, ClusterID: inst.ID, Mode: cfg.Mode,
	}, m, log.With("component", "api"))
	s.SetCheckpoints(cp) // ?at= replays start from the nearest past checkpoint
	s.SetTLS(func() (tls.Certificate, error) {
		if f := cfg.APIServer.HTTPS; f.TLSCertFile != "" || f.TLSKeyFile != "" {
			return tls.LoadX509KeyPair(f.TLSCertFile, f.TLSKeyFile)
		}
		// The DP server (which starts first) created it; the same certificate, as Kuma's
		// general.tlsCertFile serves both.
		return dpserver.LoadOrCreateCert(filepath.Join(cfg.DataDir, "certs"), cfg.DPServer.Hosts, time.Now())
	})
	if pg != nil {
		s.SetAuditIndex(pg)    // with store.type postgres, audit pages come from PostgreSQL
		s.SetResourceIndex(pg) // and so do the lists it can answer exactly (api.listFromIndex)
	}
	return s
}
