package chart_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/manifest"
)

const (
	releaseNamespace = "kubeask-system"
	// kubeVersion is what `helm template` is told the cluster runs; it matches the test control
	// plane (helm built without release ldflags would otherwise assume v1.20.0).
	kubeVersion = "1.37.2"
	fieldOwner  = "kubeask-chart-test"
)

// helmBinary returns $KUBEASK_HELM, failing the test clearly when it is unset or missing.
func helmBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("KUBEASK_HELM")
	if h == "" {
		t.Fatal("KUBEASK_HELM is not set: run `make $PWD/bin/helm` and `KUBEASK_HELM=$PWD/bin/helm go test ./test/chart/` (make test sets it)")
	}
	if _, err := os.Stat(h); err != nil {
		t.Fatalf("KUBEASK_HELM=%s: %v: build it with `make %s`", h, err, h)
	}
	return h
}

func chartDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(cluster.Root, "charts", "kubeask")
}

// helmTemplate runs `helm template` for release with extra arguments and returns stdout, or the
// error with helm's stderr.
func helmTemplate(t *testing.T, release string, args ...string) ([]byte, error) {
	t.Helper()
	all := append([]string{
		"template", release, chartDir(t),
		"--namespace", releaseNamespace,
		"--kube-version", kubeVersion,
		"--include-crds",
	}, args...)
	cmd := exec.CommandContext(t.Context(), helmBinary(t), all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()) + ": " + err.Error())
	}
	return stdout.Bytes(), nil
}

// render renders the chart and decodes every object.
func render(t *testing.T, release string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helmTemplate(t, release, args...)
	if err != nil {
		t.Fatalf("helm template %s %v: %v", release, args, err)
	}
	objs, err := manifest.Decode(out)
	if err != nil {
		t.Fatalf("decoding the rendered chart: %v", err)
	}
	if len(objs) == 0 {
		t.Fatal("the chart rendered no objects")
	}
	return objs
}

// valuesFile writes a values file for --values.
func valuesFile(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	f := find(objs, kind)
	if len(f) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(f))
	}
	return f[0]
}

// managerRole is the manager's own Role: the chart's only Role but the public catalog's
// reader Role.
func managerRole(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	return one(t, slices.DeleteFunc(find(objs, "Role"), isCatalogObject), "Role")
}

// platformConfig is the ConfigMap holding --config: the chart's only ConfigMap but
// kubeask-catalog, which the manager fills.
func platformConfig(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	return one(t, slices.DeleteFunc(find(objs, "ConfigMap"), isCatalogObject), "ConfigMap")
}

func isCatalogObject(o *unstructured.Unstructured) bool {
	return o.GetName() == "kubeask-catalog" || strings.HasSuffix(o.GetName(), "-catalog-reader")
}

// convert turns an unstructured object into a typed one.
func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("converting %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func adminClient(t *testing.T) client.Client {
	t.Helper()
	c, err := cluster.Client(cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func adminClientset(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// ensureNamespace creates ns (with labels) unless it exists.
func ensureNamespace(t *testing.T, ns string, labels map[string]string) {
	t.Helper()
	err := adminClient(t).Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// applyForReal server-side applies objs as cluster-admin.
func applyForReal(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	if err := manifest.Apply(t.Context(), adminClient(t), fieldOwner, objs); err != nil {
		t.Fatal(err)
	}
}

// serviceAccountConfig mints a token for the ServiceAccount with the TokenRequest API and returns
// a config that authenticates with it (and nothing else: no client certificate).
func serviceAccountConfig(t *testing.T, ns, name string) *rest.Config {
	t.Helper()
	expiry := int64(3600)
	tr, err := adminClientset(t).CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	cfg := rest.AnonymousClientConfig(cluster.Admin)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

// eventually polls f until it returns nil or ten seconds pass (RBAC changes reach the
// authorizer through an informer, so a fresh binding takes a moment to count).
func eventually(ctx context.Context, f func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		return last == nil, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// ruleGrants reports whether rule lets its holder perform verb on resource in group anywhere it
// applies (a static check; the real authorizer is exercised by the impersonation test).
func ruleGrants(rule rbacv1.PolicyRule, group, resource, verb string) bool {
	any := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	return len(rule.ResourceNames) == 0 && any(rule.APIGroups, group) && any(rule.Resources, resource) && any(rule.Verbs, verb)
}
