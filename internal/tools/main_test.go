package tools_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

// The fixture: namespaces team-a and team-b; alice (group dev) may read and edit
// team-a only, bob (group ops) team-b only; the operator is a real user,
// "kubeask-operator", with impersonation rights and nothing else.
var (
	cluster  *testcluster.Cluster
	admin    client.Client
	factory  *identity.Factory
	mapper   *tools.Mapper
	registry *tools.Registry
)

var (
	alice = identity.Identity{Username: "alice", Groups: []string{"dev", "system:authenticated"}}
	bob   = identity.Identity{Username: "bob", Groups: []string{"ops", "system:authenticated"}}
)

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == kubectlSpyName { // the kubectl tool's test runs this binary as kubectl
		os.Exit(kubectlSpy())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if cluster, err = testcluster.Start(testcluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	if err := setup(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	return m.Run()
}

func setup(ctx context.Context) error {
	var err error
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		return err
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeask-test-impersonator"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
				{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"uids", "userextras/scopes"}, Verbs: []string{"impersonate"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeask-test-impersonator"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "kubeask-test-impersonator"},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "kubeask-operator"}},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeask-test-team-member"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"", "apps"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
		},
		teamBinding("team-a", "dev"),
		teamBinding("team-b", "ops"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "team-a"}, Data: map[string]string{"mode": "fast"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "team-b"}, Data: map[string]string{"mode": "slow"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team-a"}, StringData: map[string]string{"password": "hunter2-very-secret"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a", Labels: map[string]string{"app": "checkout"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1",
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "hunter2-very-secret"}, {Name: "MODE", Value: "fast"}}}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "payments-1", Namespace: "team-b"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "payments:1"}}}},
		deployment("team-a", "checkout"),
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1.1", Namespace: "team-a"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "checkout-1", Namespace: "team-a"},
			Reason:         "BackOff", Message: "Back-off restarting failed container", Type: corev1.EventTypeWarning, Count: 3,
			LastTimestamp: metav1.Now()},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	operator, err := cluster.UserConfig("kubeask-operator")
	if err != nil {
		return err
	}
	if factory, err = identity.NewFactory(operator, identity.Policy{ExtraAllowList: []string{"scopes"}, DenyUsers: []string{"system:serviceaccount:argocd:argocd-application-controller"}}); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(operator)
	if err != nil {
		return err
	}
	mapper = tools.NewMapper(dc)
	registry, err = tools.NewRegistry(tools.Builtin()...)
	return err
}

// teamBinding gives group every right on core and apps resources in one namespace.
// (The built-in admin and edit roles are empty here: their rules are aggregated by
// kube-controller-manager, which the test control plane does not run.)
func teamBinding(ns, group string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "team-member", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "kubeask-test-team-member"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: group}},
	}
}

func deployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: name + ":1"}}},
			},
		},
	}
}

// envFor builds the tool environment of a requester.
func envFor(t *testing.T, id identity.Identity, out tools.OutputPolicy) *tools.Env {
	t.Helper()
	env, err := tools.NewEnv(factory, id, mapper, out)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// call runs a registry tool and fails the test on a Go error (a broken tool).
func call(t *testing.T, env *tools.Env, name, args string) *tools.Result {
	t.Helper()
	tool, ok := registry.Get(name)
	if !ok {
		t.Fatalf("no tool %s", name)
	}
	res, err := tool.Call(t.Context(), env, []byte(args))
	if err != nil {
		t.Fatalf("%s(%s): tool error: %v", name, args, err)
	}
	return res
}
