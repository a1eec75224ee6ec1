package dpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sigs.k8s.io/yaml"
	"strconv"
	"strings"
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/manager"
	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// BootstrapHandler serves POST /bootstrap as Kuma 2.x's DP server does: kuma-dp (and
// jetmesh-dp) send a bootstrap request and receive the Envoy bootstrap to start with.
type BootstrapHandler struct {
	mgr    *manager.Manager
	caCert func() []byte // the DP server certificate, once it exists
	log    *slog.Logger
	// Authenticate, when set, checks the proxy's token (mesh, name, proxy type, token) before
	// a bootstrap is handed out; ErrTokenRequired answers 422 with Kuma's message.
	Authenticate func(ctx context.Context, mesh, name, proxyType, token string) error
}

// NewBootstrapHandler returns the handler; caCert returns the PEM proxies verify the CP with.
func NewBootstrapHandler(mgr *manager.Manager, caCert func() []byte, log *slog.Logger) *BootstrapHandler {
	return &BootstrapHandler{mgr: mgr, caCert: caCert, log: log}
}

// ServeHTTP implements http.Handler.
func (h *BootstrapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/bootstrap" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	var req bootstrap.Request
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "invalid bootstrap request: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	if req.CaCert != "" {
		if err := bootstrap.CheckCA([]byte(req.CaCert)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if h.Authenticate != nil {
		mesh, name := req.Mesh, req.Name
		if meta, ok := inlineMeta(req.DataplaneResource); ok {
			mesh, name = meta.Mesh, meta.Name
			if mesh == "" && (req.ProxyType == "" || req.ProxyType == bootstrap.ProxyTypeDataplane) {
				mesh = resources.DefaultMesh
			}
		}
		if err := h.Authenticate(r.Context(), mesh, name, req.ProxyType, req.DataplaneToken); err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, bootstrap.ErrTokenRequired) {
				status = http.StatusUnprocessableEntity
			}
			http.Error(w, err.Error(), status)
			return
		}
	}
	dp, status, err := h.resolve(req)
	if err != nil {
		if status == http.StatusNotFound {
			// An empty 404 tells kuma-dp the Dataplane does not exist yet, and it retries.
			w.WriteHeader(http.StatusNotFound)
			return
		}
		http.Error(w, err.Error(), status)
		return
	}
	h.respond(w, r, req, dp)
}

// resolve finds the proxy's Dataplane: inline in the request (direct mode) or already
// applied (indirect mode).
func (h *BootstrapHandler) resolve(req bootstrap.Request) (*resources.Resource, int, error) {
	switch req.ProxyType {
	case "", bootstrap.ProxyTypeDataplane:
	case bootstrap.ProxyTypeIngress, bootstrap.ProxyTypeEgress:
		return h.resolveZoneProxy(req)
	default:
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("proxy type %q is not served by this control plane yet", req.ProxyType)
	}
	desc, _ := h.mgr.Registry().ByName(manager.DataplaneType)
	if req.DataplaneResource != "" {
		dp, err := resources.DecodeAs(desc, []byte(req.DataplaneResource))
		if err != nil {
			return nil, http.StatusUnprocessableEntity, err
		}
		if err := resources.Validate(dp); err != nil {
			return nil, http.StatusUnprocessableEntity, fmt.Errorf("dataplane %s/%s: %w", dp.Meta.Mesh, dp.Meta.Name, err)
		}
		if !h.mgr.MeshExists(dp.Meta.Mesh) {
			return nil, http.StatusUnprocessableEntity, fmt.Errorf("mesh %q does not exist", dp.Meta.Mesh)
		}
		return dp, http.StatusOK, nil
	}
	if req.Mesh == "" || req.Name == "" {
		return nil, http.StatusUnprocessableEntity, errors.New("mesh and name are required without an inline dataplane")
	}
	e, ok := h.mgr.View().Get(desc.Name, req.Mesh, req.Name)
	if !ok {
		return nil, http.StatusNotFound, errors.New("not found")
	}
	return e.Resource, http.StatusOK, nil
}

// resolveZoneProxy finds a zone ingress's ZoneIngress or a zone egress's ZoneEgress, inline
// or already applied.
func (h *BootstrapHandler) resolveZoneProxy(req bootstrap.Request) (*resources.Resource, int, error) {
	typ := zoneProxyTypes[req.ProxyType]
	desc, _ := h.mgr.Registry().ByName(typ)
	if req.DataplaneResource != "" {
		zi, err := resources.DecodeAs(desc, []byte(req.DataplaneResource))
		if err != nil {
			return nil, http.StatusUnprocessableEntity, err
		}
		if err := resources.Validate(zi); err != nil {
			return nil, http.StatusUnprocessableEntity, fmt.Errorf("%s %s: %w", typ, zi.Meta.Name, err)
		}
		return zi, http.StatusOK, nil
	}
	if req.Name == "" {
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("name is required without an inline %s", typ)
	}
	e, ok := h.mgr.View().Get(typ, "", req.Name)
	if !ok {
		return nil, http.StatusNotFound, errors.New("not found")
	}
	return e.Resource, http.StatusOK, nil
}

func (h *BootstrapHandler) respond(w http.ResponseWriter, r *http.Request, req bootstrap.Request, dp *resources.Resource) {
	req.Mesh, req.Name = dp.Meta.Mesh, dp.Meta.Name
	host, port := requestHostPort(r)
	var proxy bootstrap.Proxy
	switch spec := dp.Spec.(type) {
	case *core.Dataplane:
		proxy = bootstrap.Proxy{Service: bootstrap.ServiceName(spec), AdminPort: adminPortOf(spec), BuiltinGateway: spec.IsBuiltinGateway()}
	case *core.ZoneIngress:
		req.Mesh = ""
		if spec.Networking != nil && spec.Networking.Admin != nil {
			proxy.AdminPort = spec.Networking.Admin.Port
		}
	case *core.ZoneEgress:
		req.Mesh = ""
		if spec.Networking != nil && spec.Networking.Admin != nil {
			proxy.AdminPort = spec.Networking.Admin.Port
		}
	}
	params := bootstrap.NewParams(req, host, bootstrap.ServerParams{
		XDSPort: port, XDSConnectTimeout: time.Second, AdminAddress: "127.0.0.1",
		AdminPort: bootstrap.DefaultAdminPort, AdminAccessLogPath: "/dev/null", CACert: h.caCert(),
	}, proxy)
	b, err := bootstrap.Generate(params)
	if err == nil {
		err = b.ValidateAll()
	}
	var out []byte
	if err == nil {
		out, err = bootstrap.Marshal(b)
	}
	if err != nil {
		h.log.Error("generate bootstrap failed", "mesh", req.Mesh, "name", req.Name, "err", err)
		http.Error(w, "could not generate the bootstrap", http.StatusInternalServerError)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "text/x-yaml")
		_, _ = w.Write(out)
		return
	}
	resp := bootstrap.Response{Bootstrap: out}
	switch spec := dp.Spec.(type) {
	case *core.Dataplane:
		if spec.Networking != nil {
			resp.KumaSidecarConfiguration.Networking.Address = spec.Networking.Address
		}
	case *core.ZoneIngress:
		if spec.Networking != nil {
			resp.KumaSidecarConfiguration.Networking.Address = spec.Networking.Address
		}
	case *core.ZoneEgress:
		if spec.Networking != nil {
			resp.KumaSidecarConfiguration.Networking.Address = spec.Networking.Address
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func adminPortOf(dp *core.Dataplane) uint32 {
	if dp != nil && dp.Networking != nil && dp.Networking.Admin != nil {
		return dp.Networking.Admin.Port
	}
	return 0
}

// requestHostPort is the host the proxy used (it connects back the same way) and the port
// this server actually listens on (which serves ADS too).
func requestHostPort(r *http.Request) (string, uint32) {
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	var port uint32
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			n, _ := strconv.ParseUint(p, 10, 16)
			port = uint32(n)
		}
	}
	return host, port
}

// inlineMeta reads mesh and name from an inline resource (JSON or YAML), if there is one.
func inlineMeta(doc string) (resources.Meta, bool) {
	if doc == "" {
		return resources.Meta{}, false
	}
	var m struct {
		Mesh string `json:"mesh"`
		Name string `json:"name"`
	}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return resources.Meta{}, false
	}
	return resources.Meta{Mesh: m.Mesh, Name: m.Name}, true
}
