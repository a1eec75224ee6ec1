// Package watch turns kuma.io objects in a Kubernetes cluster into events: in Kubernetes mode
// the objects are inputs, and every create, update and delete is written to the log through
// the manager (validated as an API write, recorded with the Kubernetes user that made it).
// The log stays the source of truth for everything downstream.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/jetmesh/jetmesh/events"
	"github.com/jetmesh/jetmesh/projections/state"
	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/services/k8s/crds"
	"github.com/jetmesh/jetmesh/services/k8s/objects"
	"github.com/jetmesh/jetmesh/services/manager"
)

// ActorPrefix starts the actor of events written from Kubernetes objects: "k8s:" plus the
// field manager of the object's newest change (kubectl-client-side-apply, helm, ...).
const ActorPrefix = "k8s:"

// Watcher follows the kuma.io kinds users write (policies, meshes, zone proxies, ...). Dataplanes
// are not among them: in Kubernetes mode the control plane derives them from Pods.
type Watcher struct {
	mgr    *manager.Manager
	client dynamic.Interface
	log    *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a watcher writing through mgr.
func New(mgr *manager.Manager, client dynamic.Interface, log *slog.Logger) *Watcher {
	return &Watcher{mgr: mgr, client: client, log: log}
}

// Watched reports whether a type's objects are followed.
func Watched(d *resources.Descriptor) bool {
	return !d.Internal && d.Name != "Dataplane" && d.Name != "Secret" && d.Name != "GlobalSecret"
}

// Start lists every watched kind, writes what differs from the log, deletes what the cluster
// no longer has (of what earlier watchers wrote), and then follows changes until Stop.
func (w *Watcher) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	factory := dynamicinformer.NewDynamicSharedInformerFactory(w.client, 10*time.Minute)
	var synced []cache.InformerSynced
	var watched []*resources.Descriptor
	for _, d := range w.mgr.Registry().All() {
		if !Watched(d) {
			continue
		}
		gvr := schema.GroupVersionResource{Group: crds.Group, Version: crds.Version, Resource: crds.Plural(d)}
		inf := factory.ForResource(gvr).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.upsert(runCtx, obj) },
			UpdateFunc: func(_, obj any) { w.upsert(runCtx, obj) },
			DeleteFunc: func(obj any) { w.remove(runCtx, d, obj) },
		}); err != nil {
			cancel()
			return fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
		synced = append(synced, inf.HasSynced)
		watched = append(watched, d)
	}
	factory.Start(runCtx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		cancel()
		factory.Shutdown()
		return fmt.Errorf("watch kuma.io objects: caches did not sync: %w", errors.Join(ctx.Err(), errors.New("are the CRDs installed? deploy/crds/crds.yaml")))
	}
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		<-runCtx.Done()
		factory.Shutdown()
	}()
	// Objects deleted while no watcher ran: resources this watcher wrote that the cluster
	// no longer has. Resources written otherwise (the API, the control plane) are left alone.
	for _, d := range watched {
		inf := factory.ForResource(schema.GroupVersionResource{Group: crds.Group, Version: crds.Version, Resource: crds.Plural(d)}).Informer()
		present := map[string]bool{}
		for _, o := range inf.GetStore().List() {
			if u, ok := o.(*unstructured.Unstructured); ok {
				if r, err := objects.From(w.mgr.Registry(), u.Object); err == nil {
					present[r.Meta.Mesh+"/"+r.Meta.Name] = true
				}
			}
		}
		for _, e := range w.mgr.View().List(d.Name, state.Filter{}) {
			if e.Feed() != "" || len(e.Actor) < len(ActorPrefix) || e.Actor[:len(ActorPrefix)] != ActorPrefix ||
				present[e.Resource.Meta.Mesh+"/"+e.Name] {
				continue
			}
			if err := w.mgr.Delete(ctx, d, e.Resource.Meta.Mesh, e.Name, manager.Who{Actor: ActorPrefix + "resync"}); err != nil &&
				!errors.Is(err, events.ErrNotFound) {
				w.log.Warn("delete a resource the cluster no longer has", "type", d.Name, "name", e.Name, "err", err)
			}
		}
	}
	return nil
}

// Stop ends the watch.
func (w *Watcher) Stop(ctx context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Watcher) upsert(ctx context.Context, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	r, err := objects.From(w.mgr.Registry(), u.Object)
	if err != nil {
		// The API server accepted it (its schema is looser than Kuma's validation): say so
		// where operators look, and keep the last valid revision in force.
		w.log.Warn("kuma.io object refused", "kind", u.GetKind(), "namespace", u.GetNamespace(), "name", u.GetName(), "err", err)
		return
	}
	if _, err := w.mgr.Apply(ctx, r, manager.Who{Actor: actor(u)}); err != nil && ctx.Err() == nil {
		w.log.Warn("write a kuma.io object to the log", "kind", u.GetKind(), "namespace", u.GetNamespace(), "name", u.GetName(), "err", err)
	}
}

func (w *Watcher) remove(ctx context.Context, d *resources.Descriptor, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	r, err := objects.From(w.mgr.Registry(), u.Object)
	if err != nil {
		return // never written
	}
	if err := w.mgr.Delete(ctx, d, r.Meta.Mesh, r.Meta.Name, manager.Who{Actor: actor(u)}); err != nil &&
		!errors.Is(err, events.ErrNotFound) && ctx.Err() == nil {
		w.log.Warn("delete a kuma.io object from the log", "kind", u.GetKind(), "name", r.Meta.Name, "err", err)
	}
}

// actor is who changed the object last, as the API server recorded it: the field manager
// of its newest managedFields entry.
func actor(u *unstructured.Unstructured) string {
	var newest metav1.ManagedFieldsEntry
	for _, f := range u.GetManagedFields() {
		if newest.Time == nil || f.Time != nil && f.Time.After(newest.Time.Time) {
			newest = f
		}
	}
	if newest.Manager == "" {
		return ActorPrefix + "unknown"
	}
	return ActorPrefix + newest.Manager
}
