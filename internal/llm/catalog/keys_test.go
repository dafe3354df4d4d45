package catalog

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeask/kubeask/internal/testcluster"
)

// TestSecretKeys reads API keys from a real API server, with RBAC on.
func TestSecretKeys(t *testing.T) {
	c, err := testcluster.Start(testcluster.Options{SkipCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	admin, err := c.Client(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "kubeask-system"
	if err := admin.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "llm-keys", Namespace: ns},
		Data: map[string][]byte{
			"gemini": []byte("AIza-test-key\n"), // as `kubectl create secret --from-file` of an echoed key stores it
			"empty":  []byte(" \n"),
		},
	}
	if err := admin.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}

	keys := SecretKeys{Reader: admin, Namespace: ns}
	key, err := keys.APIKey(t.Context(), SecretKeyRef{Name: "llm-keys", Key: "gemini"})
	if err != nil || key != "AIza-test-key" {
		t.Errorf("key %q, %v", key, err)
	}
	for _, tt := range []struct {
		ref  SecretKeyRef
		want string
	}{
		{SecretKeyRef{Name: "nope", Key: "gemini"}, "secret kubeask-system/nope not found"},
		{SecretKeyRef{Name: "llm-keys", Key: "openai"}, `secret kubeask-system/llm-keys has no key "openai"`},
		{SecretKeyRef{Name: "llm-keys", Key: "empty"}, `key "empty" of secret kubeask-system/llm-keys is empty`},
	} {
		if _, err := keys.APIKey(t.Context(), tt.ref); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.ref, err, tt.want)
		}
	}

	// Without RBAC on Secrets the operator gets a clear error, not a key.
	cfg, err := c.UserConfig("system:serviceaccount:kubeask-system:no-rights")
	if err != nil {
		t.Fatal(err)
	}
	weak, err := c.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = SecretKeys{Reader: weak, Namespace: ns}.APIKey(t.Context(), SecretKeyRef{Name: "llm-keys", Key: "gemini"})
	if err == nil || !strings.Contains(err.Error(), "may not read secret kubeask-system/llm-keys") {
		t.Errorf("got %v, want a forbidden error", err)
	}
}
