package api

import (
	"net/http"
	"time"

	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
)

// Mesh insights are computed from the read model on request rather than stored: they are a
// view of live state, and computing them costs one pass over the mesh's resources.

type dataplaneStat struct {
	Total             uint32 `json:"total"`
	Online            uint32 `json:"online"`
	Offline           uint32 `json:"offline"`
	PartiallyDegraded uint32 `json:"partiallyDegraded"`
}

type totalStat struct {
	Total uint32 `json:"total"`
}

type meshInsight struct {
	Type             string                   `json:"type"`
	Name             string                   `json:"name"`
	CreationTime     time.Time                `json:"creationTime"`
	ModificationTime time.Time                `json:"modificationTime"`
	Dataplanes       dataplaneStat            `json:"dataplanes"`
	Policies         map[string]totalStat     `json:"policies"`
	DpVersions       map[string]any           `json:"dpVersions"`
	MTLS             map[string]any           `json:"mTLS"`
	Services         map[string]uint32        `json:"services"`
	DataplanesByType map[string]dataplaneStat `json:"dataplanesByType"`
	Resources        map[string]totalStat     `json:"resources"`
}

func (s *Server) meshInsights(w http.ResponseWriter, r *http.Request, name string) {
	view := s.mgr.View()
	if name != "" {
		e, ok := view.Get("Mesh", "", name)
		if !ok {
			writeError(w, newError(http.StatusNotFound, "Could not retrieve a resource", "Not found"))
			return
		}
		writeJSON(w, http.StatusOK, s.meshInsight(e))
		return
	}
	meshes := view.List("Mesh", state.Filter{})
	out := listResponse{Total: len(meshes), Items: []any{}}
	for _, m := range meshes {
		out.Items = append(out.Items, s.meshInsight(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) meshInsight(m *state.Entry) meshInsight {
	view, mesh := s.mgr.View(), m.Key.Name
	in := meshInsight{
		Type: "MeshInsight", Name: mesh, CreationTime: m.Resource.Meta.CreationTime,
		ModificationTime: m.Resource.Meta.ModificationTime, Policies: map[string]totalStat{},
		DpVersions: map[string]any{}, MTLS: map[string]any{}, Resources: map[string]totalStat{},
	}
	services := map[string]bool{}
	var standard, gateway dataplaneStat
	for _, e := range view.List("Dataplane", state.Filter{Mesh: mesh}) {
		online := false
		if ie, ok := view.Get("DataplaneInsight", mesh, e.Name); ok {
			if di, ok := ie.Resource.Spec.(*core.DataplaneInsight); ok && len(di.Subscriptions) > 0 {
				online = di.Subscriptions[len(di.Subscriptions)-1].DisconnectTime == nil
			}
		}
		stat := &standard
		if dp, ok := e.Resource.Spec.(*core.Dataplane); ok && dp.Networking != nil {
			if dp.Networking.Gateway != nil {
				stat = &gateway
			}
			for _, inb := range dp.Networking.Inbound {
				if svc := inb.Tags[resources.TagService]; svc != "" {
					services[svc] = true
				}
			}
		}
		for _, st := range []*dataplaneStat{&in.Dataplanes, stat} {
			st.Total++
			if online {
				st.Online++
			} else {
				st.Offline++
			}
		}
	}
	in.DataplanesByType = map[string]dataplaneStat{"standard": standard, "gateway": gateway}
	in.Services = map[string]uint32{"total": uint32(len(services)), "internal": uint32(len(services)), "external": 0}
	for _, d := range s.mgr.Registry().All() {
		if d.Scope != resources.ScopeMesh || d.Internal {
			continue
		}
		if n := view.Count(d.Name, mesh); n > 0 {
			in.Resources[d.Name] = totalStat{Total: uint32(n)}
			if d.Policy {
				in.Policies[d.Name] = totalStat{Total: uint32(n)}
			}
		}
	}
	return in
}
