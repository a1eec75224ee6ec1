package crds_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/resources"
	"github.com/jetmesh/jetmesh/resources/core"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/k8s/crds"
	"github.com/jetmesh/jetmesh/services/k8s/k8stest"
	"github.com/jetmesh/jetmesh/services/k8s/objects"
	"github.com/jetmesh/jetmesh/xds/policies"
)

func kuma(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: crds.Group, Version: crds.Version, Resource: resource}
}

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// jetmesh's CRDs install on a real API server; Kuma-style manifests apply to them and read
// back as the resources they stand for; a manifest against the schema is refused by the API
// server; an owned Dataplane is garbage-collected with its owner.
func TestCRDsOnARealAPIServer(t *testing.T) {
	c := k8stest.Start(t, k8stest.Options{ControllerManager: true})
	kube, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := resources.NewRegistry(append(core.Descriptors(), policies.Descriptors()...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := crds.Install(ctx, dyn, reg); err != nil {
		t.Fatal(err)
	}
	// Installing again (an upgrade) updates them in place.
	if err := crds.Install(ctx, dyn, reg); err != nil {
		t.Fatalf("reinstall: %v", err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, m := range []struct{ resource, doc string }{
		{"meshes", "apiVersion: kuma.io/v1alpha1\nkind: Mesh\nmetadata: {name: demo}\nspec: {mtls: {enabledBackend: ca-1, backends: [{name: ca-1, type: builtin}]}}"},
		{"meshtrafficpermissions", "apiVersion: kuma.io/v1alpha1\nkind: MeshTrafficPermission\nmetadata: {name: allow, namespace: shop, labels: {kuma.io/mesh: demo}}\nspec: {targetRef: {kind: Mesh}, from: [{targetRef: {kind: Mesh}, default: {action: Allow}}]}"},
	} {
		o := obj(t, m.doc)
		ri := dyn.Resource(kuma(m.resource))
		var created *unstructured.Unstructured
		if ns := o.GetNamespace(); ns != "" {
			created, err = ri.Namespace(ns).Create(ctx, o, metav1.CreateOptions{})
		} else {
			created, err = ri.Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("apply %s: %v", m.resource, err)
		}
		if _, err := objects.From(reg, created.Object); err != nil {
			t.Errorf("%s as stored by the API server does not convert: %v", m.resource, err)
		}
	}
	bad := obj(t, "apiVersion: kuma.io/v1alpha1\nkind: MeshTimeout\nmetadata: {name: bad, namespace: shop}\nspec: {targetRef: not-an-object}")
	_, err = dyn.Resource(kuma("meshtimeouts")).Namespace("shop").Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.targetRef") {
		t.Errorf("a MeshTimeout against the schema: %v, want Invalid naming spec.targetRef", err)
	}

	// Garbage collection: a Dataplane owned by a Pod goes with it.
	pod, err := kube.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dp := obj(t, `apiVersion: kuma.io/v1alpha1
kind: Dataplane
mesh: demo
metadata: {name: web-1, namespace: shop}
spec: {networking: {address: 10.0.0.1, inbound: [{port: 8080, tags: {kuma.io/service: web_shop_svc_8080}}]}}`)
	dp.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}})
	if _, err := dyn.Resource(kuma("dataplanes")).Namespace("shop").Create(ctx, dp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kube.CoreV1().Pods("shop").Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cptest.Eventually(t, "the Dataplane collected with its Pod", func() (bool, string) {
		_, err := dyn.Resource(kuma("dataplanes")).Namespace("shop").Get(ctx, "web-1", metav1.GetOptions{})
		return apierrors.IsNotFound(err), "still there"
	})
}
