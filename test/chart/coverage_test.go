package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/manifest"
)

// TestChartCoversGeneratedRole checks that the chart grants at least every rule of the RBAC
// generated from the code's +kubebuilder:rbac markers (config/rbac/role.yaml), using the API
// server's own escalation check: a user who holds only the chart's ClusterRole and Role (plus
// the right to create roles) may create a role with the generated rules only if it holds every
// one of them.
func TestChartCoversGeneratedRole(t *testing.T) {
	ctx := t.Context()
	generated := filepath.Join(cluster.Root, "config", "rbac", "role.yaml")
	data, err := os.ReadFile(generated)
	if os.IsNotExist(err) {
		t.Skip("config/rbac/role.yaml does not exist yet: run `make manifests` to generate it from the +kubebuilder:rbac markers")
	}
	if err != nil {
		t.Fatal(err)
	}
	roles, err := manifest.Decode(data)
	if err != nil {
		t.Fatalf("decoding %s: %v", generated, err)
	}
	ensureNamespace(t, releaseNamespace, nil)

	// The webhook rendering: its RBAC is a superset of the policy rendering's, and the code
	// (hence the markers) serves both modes.
	objs := render(t, "cover", "--set", "admission.mode=webhook")
	chartClusterRole := one(t, objs, "ClusterRole")
	chartRole := managerRole(t, objs)
	applyForReal(t, []*unstructured.Unstructured{chartClusterRole, chartRole})

	const holder = "chart-role-holder"
	admin := adminClient(t)
	writer := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "coverage-rbac-writer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles", "roles"}, Verbs: []string{"create"}}},
	}
	user := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: holder}}
	for _, o := range []client.Object{
		writer,
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "coverage-rbac-writer"}, Subjects: user,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: writer.Name}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "coverage-chart"}, Subjects: user,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: chartClusterRole.GetName()}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "coverage-chart"}, Subjects: user,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: chartRole.GetName()}},
	} {
		if err := admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	cfg, err := cluster.UserConfig(holder)
	if err != nil {
		t.Fatal(err)
	}
	h := newClient(t, cfg)
	escalation := "not currently held"

	// Control: a rule the chart does not grant is refused, so the check below can fail.
	if err := eventually(ctx, func(ctx context.Context) error {
		probe := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "coverage-control"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries"}, Verbs: []string{"get"}}}}
		return h.Create(ctx, probe, client.DryRunAll)
	}); err != nil {
		t.Fatalf("control: the holder cannot create a role with a rule the chart grants: %v", err)
	}
	secrets := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "coverage-control"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}}}}
	if err := h.Create(ctx, secrets, client.DryRunAll); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), escalation) {
		t.Fatalf("control: creating a role that lists secrets was not refused as an escalation: %v", err)
	}

	for _, r := range roles {
		switch r.GetKind() {
		case "ClusterRole":
			cr := convert[rbacv1.ClusterRole](t, r)
			check := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "coverage-" + cr.Name}, Rules: cr.Rules}
			if err := h.Create(ctx, check, client.DryRunAll); err != nil {
				t.Errorf("the chart's ClusterRole does not grant every rule of generated ClusterRole %s: %v", cr.Name, err)
			}
		case "Role":
			role := convert[rbacv1.Role](t, r)
			check := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "coverage-" + role.Name}, Rules: role.Rules}
			if err := h.Create(ctx, check, client.DryRunAll); err != nil {
				t.Errorf("the chart's ClusterRole and Role do not grant every rule of generated Role %s (checked in %s): %v", role.Name, releaseNamespace, err)
			}
		default:
			t.Errorf("unexpected %s %s in %s", r.GetKind(), r.GetName(), generated)
		}
	}
}
