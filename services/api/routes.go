package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/manager"
)

// Legacy collection aliases Kuma still serves for overviews.
var overviewAliases = map[string]string{
	"dataplanes+insights":    "dataplanes",
	"zones+insights":         "zones",
	"zoneingresses+insights": "zoneingresses",
	"zoneegressoverviews":    "zoneegresses",
}

// Handler returns the HTTP handler. Routing is by path segments rather than ServeMux patterns
// because Kuma's route table (/{ws}/{name}/_overview next to /meshes/{mesh}/{ws}) has
// overlaps that ServeMux refuses to register.
func (s *Server) Handler() http.Handler {
	return s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorize(w, r) {
			s.route(w, r)
		}
	}))
}

// route is a request's resolved target.
type target struct {
	desc     *resources.Descriptor
	mesh     string
	name     string
	overview bool
	history  bool // .../{name}/_history
	diff     bool // .../{name}/_diff
	revert   bool // .../{name}/_revert
}

// action reports whether the target is one of a resource's sub-resources (_history, ...).
func (t target) action() bool { return t.history || t.diff || t.revert }

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.extra[strings.TrimSuffix(r.URL.Path, "/")]; ok {
		h.ServeHTTP(w, r)
		return
	}
	segs := splitPath(r.URL.Path)
	if len(segs) == 0 {
		s.onlyGet(w, r, s.index)
		return
	}
	if len(segs) == 1 {
		switch segs[0] {
		case "_resources":
			s.onlyGet(w, r, s.resourceTypes)
			return
		case "policies":
			s.onlyGet(w, r, s.policies)
			return
		case "mesh-insights":
			s.onlyGet(w, r, func(w http.ResponseWriter, r *http.Request) { s.meshInsights(w, r, "") })
			return
		case "events":
			s.onlyGet(w, r, s.eventFeed)
			return
		}
	}
	if len(segs) == 2 && segs[0] == "mesh-insights" {
		s.onlyGet(w, r, func(w http.ResponseWriter, r *http.Request) { s.meshInsights(w, r, segs[1]) })
		return
	}
	if len(segs) == 5 && segs[0] == "meshes" && segs[2] == "dataplanes" {
		switch segs[4] {
		case "policies": // kumactl 2.14 inspect dataplane
			s.onlyGet(w, r, func(w http.ResponseWriter, _ *http.Request) { s.dataplanePolicies(w, segs[1], segs[3]) })
			return
		case "_rules":
			s.onlyGet(w, r, func(w http.ResponseWriter, _ *http.Request) { s.dataplaneRules(w, segs[1], segs[3]) })
			return
		}
	}
	t, ok := s.resolve(segs)
	if !ok {
		notFound(w)
		return
	}
	switch {
	case t.history && r.Method == http.MethodGet:
		s.history(w, r, t)
	case t.diff && r.Method == http.MethodGet:
		s.diff(w, r, t)
	case t.revert && r.Method == http.MethodPost:
		s.revert(w, r, t)
	case t.name == "" && r.Method == http.MethodGet:
		s.list(w, r, t)
	case t.name != "" && !t.action() && r.Method == http.MethodGet:
		s.get(w, r, t)
	case t.name != "" && !t.overview && !t.action() && r.Method == http.MethodPut:
		s.put(w, r, t)
	case t.name != "" && !t.overview && !t.action() && r.Method == http.MethodDelete:
		s.delete(w, r, t)
	default:
		w.Header().Set("Allow", allowed(t))
		writeError(w, newError(http.StatusMethodNotAllowed, "Method not Allowed",
			r.Method+" is not allowed on "+r.URL.Path))
	}
}

func allowed(t target) string {
	switch {
	case t.revert:
		return "POST"
	case t.name == "" || t.overview || t.history || t.diff:
		return "GET"
	}
	return "GET, PUT, DELETE"
}

// resolve maps path segments to a type, mesh and name.
func (s *Server) resolve(segs []string) (target, bool) {
	reg := s.mgr.Registry()
	// /meshes/{name}/_history (_diff, _revert) is about a mesh, not a mesh-scoped collection.
	if segs[0] == "meshes" && len(segs) >= 3 && !(len(segs) == 3 && meshActions[segs[2]]) {
		ws := segs[2]
		var t target
		if alias, ok := overviewAliases[ws]; ok {
			ws, t.overview = alias, true
		}
		desc, ok := reg.ByPath(ws)
		if !ok || desc.Scope != resources.ScopeMesh {
			return target{}, false
		}
		t.desc, t.mesh = desc, segs[1]
		return t.withRest(segs[3:])
	}
	ws := segs[0]
	var t target
	if alias, ok := overviewAliases[ws]; ok {
		ws, t.overview = alias, true
	}
	desc, ok := reg.ByPath(ws)
	if !ok {
		return target{}, false
	}
	t.desc = desc
	if desc.Scope == resources.ScopeMesh && len(segs) > 1 {
		return target{}, false // mesh-scoped items live under /meshes/{mesh}
	}
	return t.withRest(segs[1:])
}

// withRest reads "", "_overview", "{name}", "{name}/_overview", "{name}/_history",
// "{name}/_diff" or "{name}/_revert".
func (t target) withRest(rest []string) (target, bool) {
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && rest[0] == "_overview":
		t.overview = true
	case len(rest) == 1:
		t.name = rest[0]
	case len(rest) == 2 && rest[1] == "_overview" && !t.overview:
		t.name, t.overview = rest[0], true
	case len(rest) == 2 && rest[1] == "_history" && !t.overview:
		t.name, t.history = rest[0], true
	case len(rest) == 2 && rest[1] == "_diff" && !t.overview:
		t.name, t.diff = rest[0], true
	case len(rest) == 2 && rest[1] == "_revert" && !t.overview:
		t.name, t.revert = rest[0], true
	default:
		return target{}, false
	}
	if t.overview && !t.desc.HasInsights {
		return target{}, false
	}
	return t, true
}

// meshActions are the sub-resources of a mesh itself (/meshes/{name}/_history).
var meshActions = map[string]bool{"_history": true, "_diff": true, "_revert": true}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (s *Server) onlyGet(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeError(w, newError(http.StatusMethodNotAllowed, "Method not Allowed", r.Method+" is not allowed"))
		return
	}
	h(w, r)
}

// notFound is Kuma's answer for unknown paths: plain text, not the JSON error shape.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "404: Page Not Found")
}

type indexResponse struct {
	Hostname   string `json:"hostname"`
	Product    string `json:"product"`
	Version    string `json:"version"`
	InstanceID string `json:"instanceId"`
	ClusterID  string `json:"clusterId"`
	GUI        string `json:"gui"`
	Mode       string `json:"mode"`
	// Jetmesh is jetmesh's own version; Version is the Kuma API release it implements.
	Jetmesh string `json:"jetmeshVersion"`
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	host, _ := os.Hostname()
	writeJSON(w, http.StatusOK, indexResponse{
		Hostname: host, Product: s.info.Product, Version: s.info.Version,
		InstanceID: s.info.InstanceID, ClusterID: s.info.ClusterID, Mode: s.info.Mode,
		Jetmesh: s.info.JetmeshVersion, GUI: "",
	})
}

// checkMesh answers 404 for mesh-scoped requests naming a mesh that does not exist, as Kuma.
func (s *Server) checkMesh(w http.ResponseWriter, t target) bool {
	if t.desc.Scope != resources.ScopeMesh || t.mesh == "" || s.mgr.MeshExists(t.mesh) {
		return true
	}
	writeError(w, newError(http.StatusNotFound, "Failed to retrieve Mesh", "Not found"))
	return false
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not retrieve a resource"
	if !t.overview {
		at, aerr := parseAt(r.URL.Query(), title)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if at.passed {
			s.getAt(w, r, t, at)
			return
		}
	}
	view, ok := s.viewAt(w, r, t, title)
	if !ok {
		return
	}
	e, ok := view.Get(t.desc.Name, t.mesh, t.name)
	if !ok {
		writeError(w, newError(http.StatusNotFound, title, "Not found"))
		return
	}
	if t.overview {
		writeJSON(w, http.StatusOK, s.overview(view, e))
		return
	}
	writeJSON(w, http.StatusOK, e.Resource)
}

type putResponse struct {
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not process a resource"
	if s.cfg.ReadOnly {
		writeError(w, newError(http.StatusMethodNotAllowed, "Method not Allowed", readOnlyDetail))
		return
	}
	if !s.checkMesh(w, t) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		writeError(w, newError(http.StatusRequestEntityTooLarge, title, "request body too large or unreadable"))
		return
	}
	res, err := resources.DecodeAs(t.desc, body)
	if err != nil {
		writeError(w, toAPIError(title, err))
		return
	}
	var v resources.ValidationError
	if res.Meta.Name != t.name {
		v.AddViolation(resources.FieldPath("name"), "name from the URL has to be the same as in body")
	}
	if t.desc.Scope == resources.ScopeMesh && res.Meta.Mesh != t.mesh {
		v.AddViolation(resources.FieldPath("mesh"), "mesh from the URL has to be the same as in body")
	}
	if err := v.OrNil(); err != nil {
		writeError(w, toAPIError(title, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	defer cancel()
	result, err := s.mgr.Apply(ctx, res, s.who(r))
	if err != nil {
		s.logWriteError("apply", t, err)
		writeError(w, toAPIError(title, err))
		return
	}
	status := http.StatusOK
	if result.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, putResponse{Warnings: result.Warnings})
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, t target) {
	const title = "Could not delete a resource"
	if s.cfg.ReadOnly {
		writeError(w, newError(http.StatusMethodNotAllowed, "Method not Allowed", readOnlyDetail))
		return
	}
	if !s.checkMesh(w, t) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	defer cancel()
	if err := s.mgr.Delete(ctx, t.desc, t.mesh, t.name, s.who(r)); err != nil {
		s.logWriteError("delete", t, err)
		writeError(w, toAPIError(title, err))
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// who names the author of a change. Until API authentication lands, callers of this loopback
// API are Kuma's localhost admin.
func (s *Server) who(r *http.Request) manager.Who {
	return manager.Who{Actor: "user:" + UserFrom(r.Context()).Name, CorrelationID: r.Header.Get("X-Request-Id")}
}

// logWriteError logs failures that are not the client's fault.
func (s *Server) logWriteError(op string, t target, err error) {
	var v *resources.ValidationError
	var de *resources.DecodeError
	var mnf *manager.MeshNotFoundError
	if errors.As(err, &v) || errors.As(err, &de) || errors.As(err, &mnf) ||
		errors.Is(err, events.ErrNotFound) || errors.Is(err, events.ErrConflict) || errors.Is(err, manager.ErrReadOnly) {
		return
	}
	s.log.Warn("write failed", "op", op, "type", t.desc.Name, "mesh", t.mesh, "name", t.name, "err", err)
}

// marshalSpec renders a spec for overviews and filters.
func marshalSpec(r *resources.Resource) json.RawMessage {
	b, err := json.Marshal(r.Spec)
	if err != nil || string(b) == "null" {
		return json.RawMessage("{}")
	}
	return b
}
