package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/manifest"
)

// OperatorUser is the user the operator runs as in tests.
const OperatorUser = "kubeask-operator"

// OperatorConfig gives OperatorUser what the chart gives the manager's ServiceAccount,
// in its legacy-impersonation form: the generated role (config/rbac/role.yaml),
// impersonation of users, groups, uids and service accounts, and leases in
// kubeask-system. It returns a config that authenticates as that user. Calling it again
// is harmless.
func (c *Cluster) OperatorConfig(ctx context.Context) (*rest.Config, error) {
	admin, err := c.Client(c.Admin)
	if err != nil {
		return nil, err
	}
	role, err := os.ReadFile(filepath.Join(c.Root, "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	roleObjs, err := manifest.Decode(role)
	if err != nil {
		return nil, err
	}
	if err := manifest.Apply(ctx, admin, "kubeask-test", roleObjs); err != nil {
		return nil, err
	}
	subjects := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: OperatorUser}}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubeask-system"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kubeask-impersonator"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"uids"}, Verbs: []string{"impersonate"}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubeask-operator"}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubeask-manager"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubeask-impersonator"}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubeask-impersonator"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "leases", Namespace: "kubeask-system"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "leases", Namespace: "kubeask-system"}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leases"}},
	}
	if err := createAll(ctx, admin, objs); err != nil {
		return nil, err
	}
	return c.UserConfig(OperatorUser)
}

// createAll creates objs, leaving any that already exist as they are.
func createAll(ctx context.Context, admin client.Client, objs []client.Object) error {
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}
