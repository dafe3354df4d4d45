package chart_test

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestPublicCatalogIsReadableByEveryoneAndWritableByTheManagerOnly installs the chart's
// public-catalog objects for real: the empty kubeask-catalog ConfigMap, its reader Role
// bound to system:authenticated, and the manager's Role and ServiceAccount. Any
// authenticated user may get that one ConfigMap and nothing else; the manager may update
// it but create no ConfigMap; publicCatalog.readers=[] renders no reader binding.
func TestPublicCatalogIsReadableByEveryoneAndWritableByTheManagerOnly(t *testing.T) {
	ctx := t.Context()
	ensureNamespace(t, releaseNamespace, nil)
	objs := render(t, "catalog")
	cm := convert[corev1.ConfigMap](t, byNameOrFail(t, objs, "ConfigMap", "kubeask-catalog"))
	if cm.Namespace != releaseNamespace || len(cm.Data)+len(cm.BinaryData) != 0 {
		t.Fatalf("kubeask-catalog %s with %d keys, want an empty ConfigMap in %s (the manager fills it)", cm.Namespace, len(cm.Data)+len(cm.BinaryData), releaseNamespace)
	}
	reader := convert[rbacv1.Role](t, byNameOrFail(t, objs, "Role", "catalog-kubeask-catalog-reader"))
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"kubeask-catalog"}, Verbs: []string{"get"}}}
	if !equalRules(reader.Rules, want) {
		t.Errorf("reader rules %+v, want %+v", reader.Rules, want)
	}
	binding := convert[rbacv1.RoleBinding](t, byNameOrFail(t, objs, "RoleBinding", "catalog-kubeask-catalog-reader"))
	if len(binding.Subjects) != 1 || binding.Subjects[0].Kind != rbacv1.GroupKind || binding.Subjects[0].Name != "system:authenticated" {
		t.Errorf("reader subjects %+v, want the group system:authenticated", binding.Subjects)
	}
	role := managerRole(t, objs)
	var cmRules []rbacv1.PolicyRule
	for _, r := range convert[rbacv1.Role](t, role).Rules {
		if slices.Contains(r.Resources, "configmaps") {
			cmRules = append(cmRules, r)
		}
	}
	want = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"kubeask-catalog"}, Verbs: []string{"get", "update", "patch"}}}
	if !equalRules(cmRules, want) {
		t.Errorf("the manager's ConfigMap rules %+v, want %+v", cmRules, want)
	}

	var managerRB *unstructured.Unstructured
	for _, rb := range find(objs, "RoleBinding") {
		if rb.GetName() == role.GetName() {
			managerRB = rb
		}
	}
	if managerRB == nil {
		t.Fatal("no RoleBinding of the manager's Role")
	}
	sa := one(t, objs, "ServiceAccount")
	applyForReal(t, []*unstructured.Unstructured{sa, role, managerRB, byNameOrFail(t, objs, "ConfigMap", "kubeask-catalog"), byNameOrFail(t, objs, "Role", reader.Name), byNameOrFail(t, objs, "RoleBinding", binding.Name)})
	admin := adminClient(t)
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "catalog-test-other"}}
	if err := admin.Create(ctx, other); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: releaseNamespace, Name: "kubeask-catalog"}

	cfg, err := cluster.UserConfig("catalog-reader-anyone")
	if err != nil {
		t.Fatal(err)
	}
	anyone := newClient(t, cfg)
	if err := eventually(ctx, func(ctx context.Context) error { return anyone.Get(ctx, key, &corev1.ConfigMap{}) }); err != nil {
		t.Fatalf("an authenticated user cannot read kubeask-catalog: %v", err)
	}
	if err := anyone.Get(ctx, client.ObjectKeyFromObject(other), &corev1.ConfigMap{}); !apierrors.IsForbidden(err) {
		t.Errorf("an authenticated user reading another ConfigMap of %s: %v, want forbidden", releaseNamespace, err)
	}
	if err := anyone.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(releaseNamespace)); !apierrors.IsForbidden(err) {
		t.Errorf("an authenticated user listing ConfigMaps of %s: %v, want forbidden", releaseNamespace, err)
	}
	planted := &corev1.ConfigMap{}
	if err := admin.Get(ctx, key, planted); err != nil {
		t.Fatal(err)
	}
	planted.Data = map[string]string{"catalog.json": `{"models":[{"name":"planted"}]}`}
	if err := anyone.Update(ctx, planted); !apierrors.IsForbidden(err) {
		t.Errorf("an authenticated user updating kubeask-catalog: %v, want forbidden", err)
	}

	manager := newClient(t, serviceAccountConfig(t, releaseNamespace, sa.GetName()))
	if err := eventually(ctx, func(ctx context.Context) error {
		cur := &corev1.ConfigMap{}
		if err := manager.Get(ctx, key, cur); err != nil {
			return err
		}
		cur.Data = map[string]string{"catalog.json": `{"models":[]}`}
		return manager.Update(ctx, cur)
	}); err != nil {
		t.Fatalf("the manager cannot update kubeask-catalog: %v", err)
	}
	if err := manager.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "catalog-test-created"}}); !apierrors.IsForbidden(err) {
		t.Errorf("the manager creating a ConfigMap: %v, want forbidden", err)
	}
	if err := manager.Get(ctx, client.ObjectKeyFromObject(other), &corev1.ConfigMap{}); !apierrors.IsForbidden(err) {
		t.Errorf("the manager reading another ConfigMap: %v, want forbidden", err)
	}

	none := render(t, "catalog", "--set-json", "publicCatalog.readers=[]")
	if byName(none, "Role", reader.Name) != nil || byName(none, "RoleBinding", binding.Name) != nil || byName(none, "ConfigMap", "kubeask-catalog") == nil {
		t.Error("publicCatalog.readers=[]: want the ConfigMap without a reader Role and RoleBinding")
	}
}

func byNameOrFail(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := byName(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s", kind, name)
	}
	return o
}
