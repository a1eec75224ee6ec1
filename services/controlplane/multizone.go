package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"

	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/projections/snapshots"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/api"
	"github.com/jetmesh/jetmesh/services/dpserver"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/services/natsd"
	"github.com/jetmesh/jetmesh/services/tokens"
	"github.com/jetmesh/jetmesh/services/vips"
	"github.com/jetmesh/jetmesh/services/zonesync"
	"github.com/jetmesh/jetmesh/xds/server"
)

// linkAuth connects the NATS server's leafnode authentication (created first) with the
// global zone-sync service (created after the store it needs), and remembers the server.
type linkAuth struct {
	global atomic.Pointer[zonesync.Global] // set once the global side has started
	server *natsd.Server
}

func newLinkAuth() *linkAuth { return &linkAuth{} }

func (l *linkAuth) authenticate(user, password string) (natsd.LeafGrant, error) {
	g := l.global.Load()
	if g == nil {
		return natsd.LeafGrant{}, errors.New("global control plane is starting")
	}
	return g.Authenticate(user, password)
}

// configureLinks sets the JetStream domain and the zone links of the embedded server.
func configureLinks(ncfg *natsd.Config, cfg Config, links *linkAuth) error {
	switch {
	case cfg.Mode == resources.ModeGlobal:
		ncfg.Domain = zonesync.GlobalDomain
		cert, err := kdsCertificate(cfg)
		if err != nil {
			return err
		}
		k := cfg.Multizone.Global.KDS
		ncfg.Leaf = &natsd.LeafListen{
			Host: k.Interface, Port: k.GRPCPort,
			TLS:          &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			Authenticate: links.authenticate,
			OnRefused: func(user string, err error) {
				if g := links.global.Load(); g != nil {
					g.OnRefused(user, err)
				}
			},
		}
	case cfg.Federated():
		ncfg.Domain = cfg.Multizone.Zone.Name
		u, err := cfg.GlobalURL()
		if err != nil {
			return err
		}
		token, err := cfg.zoneToken()
		if err != nil {
			return err
		}
		tlsCfg, err := zoneTLS(cfg, u.Hostname())
		if err != nil {
			return err
		}
		ncfg.Remotes = []natsd.LeafRemote{{URL: u, Username: cfg.Multizone.Zone.Name, Password: token, TLS: tlsCfg}}
	}
	return nil
}

// kdsCertificate is the global's zone-link certificate: the configured one, or a self-signed
// one kept under dataDir (as Kuma generates one for KDS).
func kdsCertificate(cfg Config) (tls.Certificate, error) {
	k := cfg.Multizone.Global.KDS
	if k.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(k.TLSCertFile, k.TLSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("multizone.global.kds TLS: %w", err)
		}
		return cert, nil
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	return dpserver.LoadOrCreateCert(filepath.Join(cfg.DataDir, "certs", "kds"),
		append(hosts, cfg.Multizone.Global.Hosts...), time.Now())
}

func zoneTLS(cfg Config, serverName string) (*tls.Config, error) {
	k := cfg.Multizone.Zone.KDS
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: k.TLSSkipVerify} //nolint:gosec // Kuma's KUMA_MULTIZONE_ZONE_KDS_TLS_SKIP_VERIFY, off by default
	if k.RootCAFile != "" {
		pem, err := os.ReadFile(k.RootCAFile)
		if err != nil {
			return nil, fmt.Errorf("multizone.zone.kds.rootCaFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("multizone.zone.kds.rootCaFile %s: no PEM certificate", k.RootCAFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// Kuma 2.14's messages for writes a control plane does not own.
const (
	globalReadOnly = "On global control plane you can not modify dataplane resources with 'kumactl apply' or via the HTTP API." +
		" You can still use 'kumactl' or the HTTP API to modify them on the zone control plane.\n"
	zoneReadOnly = "On zone control plane you can only modify zone resources with 'kumactl apply' or via the HTTP API." +
		" You can still use 'kumactl' or the HTTP API to modify the rest of the resource on the global control plane.\n"
)

// zoneWritable are the types a federated zone writes; everything else comes from the global.
// Kuma 2.x also lets zones originate policies; jetmesh keeps policies global-only so that a
// zone's NATS link needs no event subject at all.
var zoneWritable = map[string]bool{"Dataplane": true, "ZoneIngress": true, "ZoneEgress": true}

func writable(cfg Config) func(*resources.Descriptor) error {
	switch {
	case cfg.Mode == resources.ModeGlobal:
		return func(d *resources.Descriptor) error {
			if !d.ProvidedByGlobalCP() {
				return &manager.ReadOnlyError{Detail: globalReadOnly}
			}
			return nil
		}
	case cfg.Federated():
		return func(d *resources.Descriptor) error {
			if !zoneWritable[d.Name] {
				return &manager.ReadOnlyError{Detail: zoneReadOnly}
			}
			return nil
		}
	}
	return nil
}

// modeModule adds what the mode needs: the global's zone sync, or a zone's dataplane serving
// and (when federated) its feed from the global.
func modeModule(cfg Config) fx.Option {
	opts := []fx.Option{modeParts(cfg)}
	if cfg.Environment == "kubernetes" {
		opts = append(opts, fx.Invoke(startKubernetes))
	}
	return fx.Options(opts...)
}

func modeParts(cfg Config) fx.Option {
	switch {
	case cfg.Mode == resources.ModeGlobal:
		return fx.Options(fx.Provide(newLinkAuth, newGlobalDPServer), fx.Invoke(startGlobal),
			fx.Invoke(func(*dpserver.Server) {}), fx.Invoke(startVIPAllocator))
	case cfg.Federated():
		// A federated zone takes its virtual IPs from the global's log, so all zones agree.
		return fx.Options(fx.Provide(newLinkAuth), dataplaneModule, fx.Invoke(startZoneSync))
	}
	return fx.Options(fx.Provide(newLinkAuth), dataplaneModule, fx.Invoke(startVIPAllocator))
}

func startGlobal(lc fx.Lifecycle, cfg Config, nc *nats.Conn, links *linkAuth, m *manager.Manager,
	inst instance, a *api.Server, keys *keyrings, pg *pgAudit, _ *projections.Runner, log *slog.Logger) error {
	js, err := jetstream.NewWithDomain(nc, zonesync.GlobalDomain)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	log = log.With("component", "zone-sync")
	g := zonesync.NewGlobal(zonesync.GlobalConfig{InstanceID: inst.ID}, nc, js, m, nil, log)
	if pg != nil {
		g.Models = []zonesync.Model{pg.Replica}
	}
	m.DeleteGuard = g.DeleteGuard
	a.Handle("/_replication", g.StatusHandler())
	m.Divert = keys.divert(m)
	var started atomic.Bool
	a.Handle("/tokens/zone", zoneTokenHandler(func() (*tokens.Signer, error) {
		if !started.Load() {
			return nil, nil
		}
		return keys.zone()
	}))
	lc.Append(fx.StartStopHook(func(ctx context.Context) error {
		if err := keys.openGlobalVault(ctx, js, m); err != nil {
			return err
		}
		started.Store(true)
		g.SetKeys(keys.zone)
		g.SetLinks(links.server)
		if err := g.Start(ctx); err != nil {
			return err
		}
		links.global.Store(g)
		log.Info("accepting zone links", "port", links.server.LeafPort())
		return nil
	}, g.Stop))
	return nil
}

// zoneTokenRequest is POST /tokens/zone's body (kumactl generate zone-token).
type zoneTokenRequest struct {
	Zone     string   `json:"zone"`
	Scope    []string `json:"scope"`
	ValidFor string   `json:"validFor"`
}

// zoneTokenHandler serves POST /tokens/zone (kumactl generate zone-token).
func zoneTokenHandler(signer func() (*tokens.Signer, error)) http.Handler {
	return tokenHandler(func(req *zoneTokenRequest) string { return req.ValidFor },
		func(_ context.Context, req *zoneTokenRequest, validFor time.Duration) (string, int, error) {
			if err := zonesync.ValidateZoneName(req.Zone); err != nil {
				return "", http.StatusBadRequest, err
			}
			s, err := signer()
			if err != nil {
				return "", http.StatusInternalServerError, err
			}
			if s == nil {
				return "", http.StatusServiceUnavailable, errors.New("the control plane is starting")
			}
			tok, err := s.IssueZone(req.Zone, req.Scope, validFor)
			return tok, http.StatusBadRequest, err
		})
}

// tokenHandler serves a POST /tokens/* endpoint: it decodes the JSON body into a Req, parses
// its validFor, and answers the token issue returns as text/plain, or issue's error with the
// status issue gives.
func tokenHandler[Req any](validFor func(*Req) string,
	issue func(ctx context.Context, req *Req, validFor time.Duration) (string, int, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const title = "Could not issue a token"
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			api.WriteError(w, http.StatusMethodNotAllowed, "Method not Allowed", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		var req Req
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			api.WriteError(w, http.StatusBadRequest, title, "invalid request body: "+err.Error())
			return
		}
		var d time.Duration
		if v := validFor(&req); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed < 0 {
				api.WriteError(w, http.StatusBadRequest, title, "validFor: not a positive duration (e.g. 24h)")
				return
			}
			d = parsed
		}
		tok, status, err := issue(r.Context(), &req, d)
		if err != nil {
			api.WriteError(w, status, title, err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(tok))
	})
}

func startZoneSync(lc fx.Lifecycle, cfg Config, nc *nats.Conn, view *state.State, proj *snapshots.Projector,
	a *api.Server, m *manager.Manager, pg *pgAudit, _ *projections.Runner, log *slog.Logger) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	models := []zonesync.Model{
		func(_ context.Context, stream string) (projections.Model, error) { return view.Feed(stream), nil },
		func(_ context.Context, stream string) (projections.Model, error) { return proj.Feed(stream), nil },
	}
	if pg != nil {
		models = append(models, pg.Replica)
	}
	z := zonesync.NewZone(cfg.Multizone.Zone.Name, nc, js, log.With("component", "zone-sync"), models...)
	z.Replicas = m.AddReplica
	a.Handle("/_replication", z.Watchdog().Handler())
	lc.Append(fx.StartStopHook(z.Start, z.Stop))
	u := zonesync.NewIngressUpdater(m, cfg.Multizone.Zone.Name, time.Duration(cfg.Multizone.Zone.IngressUpdateInterval), log.With("component", "zone-ingress"))
	lc.Append(fx.StartStopHook(u.Start, u.Stop))
	return nil
}

// errGlobalServesNoProxies is what a proxy that dials a global CP is told.
var errGlobalServesNoProxies = errors.New("this is a global control plane: dataplanes and zone proxies connect to their zone's control plane (KUMA_MULTIZONE_ZONE_GLOBAL_ADDRESS points zones here)")

// refuseProxies is the global's xDS authenticator: every stream is refused with the reason.
type refuseProxies struct{}

func (refuseProxies) Authenticate(context.Context, *corev3.Node, string) error {
	return errGlobalServesNoProxies
}

// noObserver is never called: refuseProxies ends every stream before it starts.
type noObserver struct{}

func (noObserver) OnConnect(context.Context, *server.Stream) error { return errGlobalServesNoProxies }
func (noObserver) OnStatus(*server.Stream)                         {}
func (noObserver) OnDisconnect(*server.Stream)                     {}

// newGlobalDPServer listens on the DP server port of a global CP only to refuse proxies with
// a clear message (a /bootstrap 422, an Unauthenticated ADS stream) instead of a bare
// "connection refused" that looks like a network problem.
func newGlobalDPServer(lc fx.Lifecycle, cfg Config, log *slog.Logger) *dpserver.Server {
	log = log.With("component", "dp-server")
	ctx, cancel := context.WithCancel(context.Background())
	xds := server.New(ctx, server.NewSnapshots(), refuseProxies{}, noObserver{}, log)
	dcfg := dpserver.DefaultConfig()
	dcfg.Address, dcfg.Port, dcfg.Hosts = cfg.DPServer.Interface, cfg.DPServer.Port, cfg.DPServer.Hosts
	dcfg.CertDir = filepath.Join(cfg.DataDir, "certs")
	s := dpserver.New(dcfg, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, errGlobalServesNoProxies.Error(), http.StatusUnprocessableEntity)
	}), log)
	xds.Register(s.GRPC())
	lc.Append(fx.StartStopHook(s.Start, func(ctx context.Context) error {
		cancel()
		return s.Stop(ctx)
	}))
	return s
}

// startVIPAllocator allocates the meshes' virtual IPs where they are decided: on the global
// (from every zone's services) or on a standalone CP.
func startVIPAllocator(lc fx.Lifecycle, cfg Config, m *manager.Manager, _ *projections.Runner, log *slog.Logger) error {
	s, err := cfg.vipSettings()
	if err != nil {
		return err
	}
	a := vips.NewAllocator(m, s, time.Duration(cfg.Runtime.Universal.VIPRefreshInterval), log.With("component", "vip-allocator"))
	lc.Append(fx.StartStopHook(a.Start, a.Stop))
	return nil
}
