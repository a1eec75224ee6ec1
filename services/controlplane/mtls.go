package controlplane

import (
	"context"
	"time"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/ca"
	"github.com/jetmesh/jetmesh/services/manager"
)

// caSecrets gives services/ca the mesh Secrets of the resource manager: read from the read
// model, written to the log as the control plane.
type caSecrets struct{ m *manager.Manager }

func (s caSecrets) Secret(mesh, name string) ([]byte, bool) {
	e, ok := s.m.View().Get("Secret", mesh, name)
	if !ok {
		return nil, false
	}
	sec, _ := e.Resource.Spec.(*core.Secret)
	if sec == nil {
		return nil, false
	}
	return sec.Data, true
}

func (s caSecrets) PutSecret(ctx context.Context, mesh, name string, data []byte) error {
	desc, _ := s.m.Registry().ByName("Secret")
	r := &resources.Resource{Desc: desc, Meta: resources.Meta{Mesh: mesh, Name: name}, Spec: &core.Secret{Data: data}}
	_, err := s.m.Apply(ctx, r, manager.Who{Actor: "control-plane", System: true})
	return err
}

// ensureMeshCA creates the builtin CAs a written Mesh names (Kuma creates them with the mesh);
// they are Secrets in the log, so they survive restarts and replicate to zones.
func ensureMeshCA(m *manager.Manager) func(ctx context.Context, r *resources.Resource) error {
	return func(ctx context.Context, r *resources.Resource) error {
		spec, ok := r.Spec.(*core.Mesh)
		if !ok || r.Desc.Name != "Mesh" {
			return nil
		}
		return ca.Ensure(ctx, caSecrets{m}, r.Meta.Name, spec, time.Now())
	}
}
