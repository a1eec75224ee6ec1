package crds

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/jetmesh/jetmesh/resources"
)

var crdResource = k8sschema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Install creates or updates the CRDs of the registry's types and waits until the API
// server has established every one, or ctx ends.
func Install(ctx context.Context, client dynamic.Interface, reg *resources.Registry) error {
	all, err := All(reg)
	if err != nil {
		return err
	}
	api := client.Resource(crdResource)
	for _, c := range all {
		obj := &unstructured.Unstructured{Object: c}
		_, err := api.Create(ctx, obj, metav1.CreateOptions{FieldManager: "jetmesh"})
		if apierrors.IsAlreadyExists(err) {
			cur, gerr := api.Get(ctx, name(c), metav1.GetOptions{})
			if gerr != nil {
				return fmt.Errorf("crd %s: %w", name(c), gerr)
			}
			obj.SetResourceVersion(cur.GetResourceVersion())
			_, err = api.Update(ctx, obj, metav1.UpdateOptions{FieldManager: "jetmesh"})
		}
		if err != nil {
			return fmt.Errorf("crd %s: %w", name(c), err)
		}
	}
	for _, c := range all {
		for {
			got, err := api.Get(ctx, name(c), metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("crd %s not established: %w", name(c), ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, cond := range conds {
		if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
