// Package manifest reads multi-document YAML manifests and applies them with
// server-side apply. It is used to install kubeask's own objects (CRDs, admission
// policies) in development and tests; it is not a user-facing tool.
package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Decode splits a multi-document YAML stream into objects, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decoding manifest document %d: %w", len(objs)+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("manifest document %d has no apiVersion or kind", len(objs)+1)
		}
		objs = append(objs, u)
	}
}

// Apply server-side applies each object, forcing ownership for fieldManager.
func Apply(ctx context.Context, c client.Client, fieldManager string, objs []*unstructured.Unstructured, opts ...client.ApplyOption) error {
	for _, o := range objs {
		o := o.DeepCopy()
		o.SetManagedFields(nil)
		o.SetResourceVersion("")
		all := append([]client.ApplyOption{client.FieldOwner(fieldManager), client.ForceOwnership}, opts...)
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), all...); err != nil {
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}
