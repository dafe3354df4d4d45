package catalog

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KeyResolver returns the API key a SecretKeyRef points at.
type KeyResolver interface {
	APIKey(ctx context.Context, ref SecretKeyRef) (string, error)
}

// StaticKeys resolves keys from a map, for tests and local development.
type StaticKeys map[SecretKeyRef]string

// APIKey implements KeyResolver.
func (s StaticKeys) APIKey(_ context.Context, ref SecretKeyRef) (string, error) {
	key, ok := s[ref]
	if !ok {
		return "", fmt.Errorf("no key for %s", ref)
	}
	return key, nil
}

// SecretKeys reads keys from Secrets in the operator's namespace on every call, so a
// rotated key is used from the next model call on.
//
// Reader must be an uncached reader such as manager.GetAPIReader(): the manager's
// cached client would make it watch and keep every Secret of the namespace in memory,
// and its cache is not meant for data read on a user's behalf.
type SecretKeys struct {
	Reader    client.Reader
	Namespace string
}

// APIKey implements KeyResolver.
func (s SecretKeys) APIKey(ctx context.Context, ref SecretKeyRef) (string, error) {
	var secret corev1.Secret
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: ref.Name}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		return "", fmt.Errorf("secret %s/%s not found", s.Namespace, ref.Name)
	case apierrors.IsForbidden(err):
		return "", fmt.Errorf("the operator may not read secret %s/%s: %w", s.Namespace, ref.Name, err)
	case err != nil:
		return "", fmt.Errorf("reading secret %s/%s: %w", s.Namespace, ref.Name, err)
	}
	value, ok := secret.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("secret %s/%s has no key %q", s.Namespace, ref.Name, ref.Key)
	}
	// `kubectl create secret --from-file` keeps the trailing newline of an echoed key,
	// which providers reject as a wrong key.
	key := strings.TrimSpace(string(value))
	if key == "" {
		return "", fmt.Errorf("key %q of secret %s/%s is empty", ref.Key, s.Namespace, ref.Name)
	}
	return key, nil
}
