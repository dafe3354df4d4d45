package newtrigger

import (
	"context"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/kube"
)

// manifest is t without what a typed object always carries but a manifest must not:
// an empty status and a null creationTimestamp.
func manifest(t *agentsv1alpha1.AgentTrigger) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(t)
	if err != nil {
		return nil, fmt.Errorf("encoding the trigger: %w", err)
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// ensureSession creates the session the trigger's queries go into when it does not
// exist yet, as `kubectl ask -s` does, so that the first firing does not fail on it.
func ensureSession(ctx context.Context, c *kube.Client, name string, notes io.Writer) error {
	s := &agentsv1alpha1.AgentSession{}
	err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) || kube.NotInstalled(err) {
		return c.Explain(err, "get", kube.SessionsResource)
	}
	s = &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace}}
	if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return c.Explain(err, "create", kube.SessionsResource)
	}
	fmt.Fprintf(notes, "Created session %s in namespace %s.\n", name, c.Namespace)
	return nil
}
