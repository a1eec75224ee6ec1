package manager

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jetmesh/jetmesh/resources"
)

// initialPolicies are the policies Kuma 2.x creates in every new mesh, named
// <prefix>-<mesh>, with Kuma's default values (pkg/defaults/mesh).
//
//go:embed initial_policies.json
var initialPoliciesJSON []byte

type initialPolicy struct {
	Type   string          `json:"type"`
	Prefix string          `json:"prefix"`
	Spec   json.RawMessage `json:"spec"`
}

var initialPolicies = func() []initialPolicy {
	var ps []initialPolicy
	if err := json.Unmarshal(initialPoliciesJSON, &ps); err != nil {
		panic(fmt.Sprintf("initial_policies.json: %v", err))
	}
	return ps
}()

// createInitialPolicies writes the initial policies of a mesh that was just created, unless
// the mesh's skipCreatingInitialPolicies names their type or "*". They carry the mesh
// write's correlation id, so the audit log shows them as part of that change.
func (m *Manager) createInitialPolicies(ctx context.Context, mesh *resources.Resource, who Who) error {
	skip, err := skippedInitialPolicies(mesh)
	if err != nil {
		return err
	}
	if slices.Contains(skip, "*") {
		return nil
	}
	who.System, who.Actor = true, "system:control-plane"
	who.Reason = "initial policy of mesh " + mesh.Meta.Name
	for _, p := range initialPolicies {
		desc, ok := m.reg.ByName(p.Type)
		if !ok || slices.Contains(skip, p.Type) {
			continue
		}
		name := p.Prefix + "-" + mesh.Meta.Name
		if _, exists := m.view.Get(desc.Name, mesh.Meta.Name, name); exists {
			continue // never overwrite what someone already put there
		}
		doc, err := json.Marshal(map[string]any{"type": p.Type, "mesh": mesh.Meta.Name, "name": name, "spec": p.Spec})
		if err != nil {
			return fmt.Errorf("initial %s %s: %w", p.Type, name, err)
		}
		r, err := resources.DecodeAs(desc, doc)
		if err != nil {
			return fmt.Errorf("initial %s %s: %w", p.Type, name, err)
		}
		if _, err := m.Apply(ctx, r, who); err != nil {
			return fmt.Errorf("initial %s %s: %w", p.Type, name, err)
		}
	}
	m.log.Info("created initial policies", "mesh", mesh.Meta.Name, "skipped", skip)
	return nil
}

func skippedInitialPolicies(mesh *resources.Resource) ([]string, error) {
	raw, err := json.Marshal(mesh.Spec)
	if err != nil {
		return nil, fmt.Errorf("mesh %s: %w", mesh.Meta.Name, err)
	}
	var spec struct {
		Skip []string `json:"skipCreatingInitialPolicies"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("mesh %s: %w", mesh.Meta.Name, err)
	}
	return spec.Skip, nil
}
