package controlplane

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/jetmesh/jetmesh/projections"
	"github.com/jetmesh/jetmesh/services/k8s/watch"
	"github.com/jetmesh/jetmesh/services/manager"
)

// startKubernetes follows the cluster's kuma.io objects in Kubernetes mode, writing their
// changes to the log (services/k8s/watch).
func startKubernetes(lc fx.Lifecycle, cfg Config, m *manager.Manager, _ *projections.Runner, log *slog.Logger) error {
	rc, err := kubeConfig(cfg.Runtime.Kubernetes.Kubeconfig)
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	w := watch.New(m, client, log.With("component", "k8s-watch"))
	lc.Append(fx.StartStopHook(w.Start, w.Stop))
	return nil
}

// kubeConfig is the cluster the CP runs against: a kubeconfig file, or the Pod's service
// account.
func kubeConfig(path string) (*rest.Config, error) {
	if path == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes mode: no kubeconfig (KUBECONFIG) and not in a cluster: %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubernetes mode: kubeconfig %s: %w", path, err)
	}
	return rc, nil
}
