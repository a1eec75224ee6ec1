package k8stest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/jetmesh/jetmesh/services/k8s/k8stest"
)

var (
	namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	crds       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	meshes     = schema.GroupVersionResource{Group: "kuma.io", Version: "v1alpha1", Resource: "meshes"}
)

// TestAPIServer proves the cluster is a real API server: it reports the version the binaries
// were built as, stores namespaces, serves a new CRD and enforces that CRD's schema.
func TestAPIServer(t *testing.T) {
	ctx := t.Context()
	c := k8stest.Start(t, k8stest.Options{})

	disco, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	info, err := disco.ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if info.GitVersion != k8stest.Version {
		t.Errorf("server version = %q, want %q (rebuild with deploy/k8stools/build.sh)", info.GitVersion, k8stest.Version)
	}

	dyn := dynamicClient(t, c)
	create(ctx, t, dyn.Resource(namespaces), obj("v1", "Namespace", "smoke", nil))
	if _, err := dyn.Resource(namespaces).Get(ctx, "smoke", metav1.GetOptions{}); err != nil {
		t.Fatalf("get namespace: %v", err)
	}

	createMeshCRD(ctx, t, dyn)

	mesh := obj("kuma.io/v1alpha1", "Mesh", "default", map[string]any{
		"mtls": map[string]any{
			"enabledBackend": "ca-1",
			"backends":       []any{map[string]any{"name": "ca-1", "type": "builtin"}},
		},
	})
	// Creating the first resource of a just-established CRD can still race the API server's
	// handler installation, so retry until the deadline.
	eventually(t, 30*time.Second, func() error {
		_, err := dyn.Resource(meshes).Create(ctx, mesh, metav1.CreateOptions{})
		return err
	})
	got, err := dyn.Resource(meshes).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get mesh: %v", err)
	}
	if b, _, _ := unstructured.NestedString(got.Object, "spec", "mtls", "enabledBackend"); b != "ca-1" {
		t.Errorf("stored spec.mtls.enabledBackend = %q, want ca-1", b)
	}

	for name, spec := range map[string]map[string]any{
		"wrong-type":   {"mtls": map[string]any{"enabledBackend": 42}},
		"bad-enum":     {"mtls": map[string]any{"backends": []any{map[string]any{"name": "x", "type": "vault-ish"}}}},
		"missing-name": {"mtls": map[string]any{"backends": []any{map[string]any{"type": "builtin"}}}},
	} {
		_, err := dyn.Resource(meshes).Create(ctx, obj("kuma.io/v1alpha1", "Mesh", name, spec), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("create mesh %s: err = %v, want Invalid", name, err)
		}
		if _, err := dyn.Resource(meshes).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get rejected mesh %s: err = %v, want NotFound", name, err)
		}
	}
}

// TestControllerManager proves the controllers run: the garbage collector deletes an object
// whose owner is gone, and the namespace controller finishes deleting a namespace.
func TestControllerManager(t *testing.T) {
	ctx := t.Context()
	c := k8stest.Start(t, k8stest.Options{ControllerManager: true})
	dyn := dynamicClient(t, c)

	create(ctx, t, dyn.Resource(namespaces), obj("v1", "Namespace", "gc", nil))
	cms := dyn.Resource(configMaps).Namespace("gc")
	owner := create(ctx, t, cms, obj("v1", "ConfigMap", "owner", nil))
	dependent := obj("v1", "ConfigMap", "dependent", nil)
	dependent.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.GetName(), UID: owner.GetUID(),
	}})
	create(ctx, t, cms, dependent)
	// An unowned bystander shows the collector deletes by ownership, not everything.
	create(ctx, t, cms, obj("v1", "ConfigMap", "bystander", nil))

	if err := cms.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete owner: %v", err)
	}
	eventually(t, time.Minute, func() error { return gone(ctx, cms.Get, "dependent") })
	if _, err := cms.Get(ctx, "bystander", metav1.GetOptions{}); err != nil {
		t.Errorf("unowned configmap: %v", err)
	}

	// Without the namespace controller a deleted namespace stays Terminating forever.
	if err := dyn.Resource(namespaces).Delete(ctx, "gc", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete namespace: %v", err)
	}
	eventually(t, time.Minute, func() error { return gone(ctx, dyn.Resource(namespaces).Get, "gc") })
}

// createMeshCRD installs a small stand-in for Kuma's Mesh CRD, with a schema strict enough to
// reject bad types, values outside an enum and missing required fields, and waits until the
// API server serves it.
func createMeshCRD(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	str := map[string]any{"type": "string"}
	backend := map[string]any{
		"type":     "object",
		"required": []any{"name"},
		"properties": map[string]any{
			"name": str,
			"type": map[string]any{"type": "string", "enum": []any{"builtin", "provided"}},
		},
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "meshes.kuma.io"},
		"spec": map[string]any{
			"group": "kuma.io",
			"scope": "Cluster",
			"names": map[string]any{"plural": "meshes", "singular": "mesh", "kind": "Mesh", "listKind": "MeshList"},
			"versions": []any{map[string]any{
				"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"spec": map[string]any{
							"type": "object",
							"properties": map[string]any{
								"mtls": map[string]any{
									"type": "object",
									"properties": map[string]any{
										"enabledBackend": str,
										"backends":       map[string]any{"type": "array", "items": backend},
									},
								},
							},
						},
					},
				}},
			}},
		},
	}}
	create(ctx, t, dyn.Resource(crds), crd)
	eventually(t, 30*time.Second, func() error {
		got, err := dyn.Resource(crds).Get(ctx, "meshes.kuma.io", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("CRD not established; conditions: %v", conds)
	})
}

func dynamicClient(t *testing.T, c *k8stest.Cluster) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	return dyn
}

func obj(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetName(name)
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

func create(ctx context.Context, t *testing.T, r dynamic.ResourceInterface, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := r.Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return got
}

func gone(ctx context.Context, get func(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error), name string) error {
	_, err := get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	default:
		return fmt.Errorf("%s still exists", name)
	}
}

// eventually retries f until it returns nil, failing the test with f's last error at the deadline.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, strings.TrimSpace(err.Error()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
