package chart_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/manifest"
)

// kustomizeBinary returns $KUBEASK_KUSTOMIZE or bin/kustomize (built by `make bin/kustomize`).
func kustomizeBinary(t *testing.T) string {
	t.Helper()
	k := os.Getenv("KUBEASK_KUSTOMIZE")
	if k == "" {
		k = filepath.Join(cluster.Root, "bin", "kustomize")
	}
	if _, err := os.Stat(k); err != nil {
		t.Fatalf("no kustomize binary at %s (%v): `make test` builds it; or set KUBEASK_KUSTOMIZE", k, err)
	}
	return k
}

func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), kustomizeBinary(t), "build", filepath.Join(cluster.Root, dir))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kustomize build %s: %v: %s", dir, err, stderr.String())
	}
	objs, err := manifest.Decode(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// impersonationRules returns the rules of a ClusterRole that grant an impersonation verb.
func impersonationRules(t *testing.T, u *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var out []rbacv1.PolicyRule
	for _, r := range convert[rbacv1.ClusterRole](t, u).Rules {
		if slices.ContainsFunc(r.Verbs, func(v string) bool {
			return v == "impersonate" || strings.HasPrefix(v, "impersonate:") || strings.HasPrefix(v, "impersonate-on:")
		}) {
			out = append(out, r)
		}
	}
	return out
}

func byName(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestKustomizeBuilds builds config/default and config/webhook with the kustomize binary,
// server-side dry-run applies the result to the real API server, and checks that the
// kustomize install grants the same impersonation rights as the chart's equivalent rendering.
func TestKustomizeBuilds(t *testing.T) {
	if _, err := os.Stat(filepath.Join(cluster.Root, "config", "rbac", "role.yaml")); err != nil {
		t.Skip("config/rbac/role.yaml does not exist yet (config/rbac includes it): run `make manifests`")
	}
	ensureNamespace(t, releaseNamespace, nil)
	cases := []struct {
		dir       string
		chartArgs []string
		policies  int // policies plus bindings
		webhooks  int
	}{
		{"config/default", nil, 12, 0},
		{"config/webhook", []string{"--set", "admission.mode=webhook", "--set", "impersonation.mode=legacy"}, 0, 2},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			objs := kustomizeBuild(t, tc.dir)
			admin := adminClient(t)
			if err := manifest.Apply(t.Context(), admin, fieldOwner, objs, client.DryRunAll); err != nil {
				t.Fatalf("server-side dry-run apply of %s: %v", tc.dir, err)
			}
			policies, webhooks := 0, 0
			for _, o := range objs {
				namespaced, err := admin.IsObjectNamespaced(o)
				if err != nil {
					t.Fatal(err)
				}
				if namespaced && o.GetNamespace() != releaseNamespace {
					t.Errorf("%s %s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), releaseNamespace)
				}
				if !namespaced && o.GetNamespace() != "" {
					t.Errorf("cluster-scoped %s %s has namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
				}
				switch o.GetKind() {
				case "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
					policies++
				case "MutatingWebhookConfiguration":
					webhooks++
					w := convert[admissionregistrationv1.MutatingWebhookConfiguration](t, o)
					if len(w.Webhooks[0].ClientConfig.CABundle) != 0 || w.Webhooks[0].ClientConfig.Service.Namespace != releaseNamespace {
						t.Errorf("mutating webhook clientConfig %+v", w.Webhooks[0].ClientConfig)
					}
				case "ValidatingWebhookConfiguration":
					webhooks++
				}
			}
			if policies != tc.policies {
				t.Errorf("%d admission policies and bindings, want %d", policies, tc.policies)
			}
			if webhooks != tc.webhooks {
				t.Errorf("%d webhook configurations, want %d", webhooks, tc.webhooks)
			}
			kimp := byName(objs, "ClusterRole", "kubeask-impersonation")
			if kimp == nil {
				t.Fatal("no kubeask-impersonation ClusterRole")
			}
			chartRules := impersonationRules(t, one(t, render(t, "same", tc.chartArgs...), "ClusterRole"))
			if got := impersonationRules(t, kimp); !equalRules(got, chartRules) {
				t.Errorf("kustomize impersonation rules\n%+v\ndiffer from the chart's\n%+v", got, chartRules)
			}
		})
	}
}

func equalRules(a, b []rbacv1.PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y rbacv1.PolicyRule) bool {
		return slices.Equal(x.APIGroups, y.APIGroups) && slices.Equal(x.Resources, y.Resources) &&
			slices.Equal(x.Verbs, y.Verbs) && slices.Equal(x.ResourceNames, y.ResourceNames) &&
			slices.Equal(x.NonResourceURLs, y.NonResourceURLs)
	})
}
