package watch_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/jetmesh/jetmesh/services/controlplane"
	"github.com/jetmesh/jetmesh/services/controlplane/cptest"
	"github.com/jetmesh/jetmesh/services/k8s/crds"
	"github.com/jetmesh/jetmesh/services/k8s/k8stest"
)

var (
	mtpGVR = schema.GroupVersionResource{Group: crds.Group, Version: crds.Version, Resource: "meshtrafficpermissions"}
)

func mtp(t *testing.T, name, action string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	doc := `apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata: {name: ` + name + `, namespace: shop, labels: {kuma.io/mesh: default}}
spec: {targetRef: {kind: Mesh}, from: [{targetRef: {kind: Mesh}, default: {action: ` + action + `}}]}`
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// In Kubernetes mode the control plane turns kuma.io objects into events: one that exists
// at start, its update and its deletion reach the REST API with the Kubernetes field manager
// as the actor; an object the API server accepts but Kuma's validation refuses never does;
// and an object deleted while the control plane was down is deleted at its next start.
func TestKubernetesObjectsBecomeEvents(t *testing.T) {
	cluster := k8stest.Start(t, k8stest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := controlplane.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if err := crds.Install(ctx, dyn, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mtps := dyn.Resource(mtpGVR).Namespace("shop")
	cptest.Eventually(t, "MeshTrafficPermission CRD served", func() (bool, string) {
		_, err := mtps.Create(ctx, mtp(t, "allow", "Allow"), metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
		return err == nil, errString(err)
	})

	kubernetesMode := func(c *controlplane.Config) {
		c.Environment = "kubernetes"
		c.Runtime.Kubernetes.Kubeconfig = cluster.Kubeconfig
	}
	dir := t.TempDir()
	cp := cptest.Start(t, dir, kubernetesMode)
	url := cp.URL + "/meshes/default/meshtrafficpermissions/allow.shop"
	cptest.Eventually(t, "the object that existed at start in the API", func() (bool, string) {
		code, body := cptest.Do(t, http.MethodGet, url, "")
		return code == http.StatusOK && strings.Contains(body, `"Allow"`), body
	})
	code, hist := cptest.Do(t, http.MethodGet, url+"/_history", "")
	if code != http.StatusOK || !strings.Contains(hist, `"actor": "k8s:kubectl-client-side-apply"`) {
		t.Errorf("history %d: %s", code, hist)
	}

	// An update, an object Kuma refuses, a deletion.
	cur, err := mtps.Get(ctx, "allow", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	upd := mtp(t, "allow", "Deny")
	upd.SetResourceVersion(cur.GetResourceVersion())
	if _, err := mtps.Update(ctx, upd, metav1.UpdateOptions{FieldManager: "helm"}); err != nil {
		t.Fatal(err)
	}
	cptest.Eventually(t, "the update in the API", func() (bool, string) {
		code, body := cptest.Do(t, http.MethodGet, url, "")
		return code == http.StatusOK && strings.Contains(body, `"Deny"`), body
	})
	bad := mtp(t, "bad", "Allow")
	_ = unstructured.SetNestedField(bad.Object, "Nope", "spec", "targetRef", "kind")
	if _, err := mtps.Create(ctx, bad, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the API server's schema should accept what only Kuma's validation refuses: %v", err)
	}
	if _, err := mtps.Create(ctx, mtp(t, "second", "Allow"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cptest.Eventually(t, "the second object in the API", func() (bool, string) {
		code, body := cptest.Do(t, http.MethodGet, cp.URL+"/meshes/default/meshtrafficpermissions/second.shop", "")
		return code == http.StatusOK, body
	})
	if code, body := cptest.Do(t, http.MethodGet, cp.URL+"/meshes/default/meshtrafficpermissions/bad.shop", ""); code != http.StatusNotFound {
		t.Errorf("an object Kuma refuses reached the API: %d %s", code, body)
	}
	if err := mtps.Delete(ctx, "allow", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cptest.Eventually(t, "the deletion in the API", func() (bool, string) {
		code, body := cptest.Do(t, http.MethodGet, url, "")
		return code == http.StatusNotFound, body
	})

	// Deleted while the control plane was down: gone after its restart.
	cp.Stop(t)
	if err := mtps.Delete(ctx, "second", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cp = cptest.Start(t, dir, kubernetesMode)
	cptest.Eventually(t, "the object deleted while down gone after the restart", func() (bool, string) {
		code, body := cptest.Do(t, http.MethodGet, cp.URL+"/meshes/default/meshtrafficpermissions/second.shop", "")
		return code == http.StatusNotFound, body
	})
	// The default mesh, written by the control plane itself, is no Kubernetes object and stays.
	if code, body := cptest.Do(t, http.MethodGet, cp.URL+"/meshes/default", ""); code != http.StatusOK {
		t.Errorf("default mesh after resync: %d %s", code, body)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
