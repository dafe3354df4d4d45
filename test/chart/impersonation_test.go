package chart_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

const teamNS = "team-a"

// installManagerRBAC renders the chart for release with args and applies, for real, its
// ServiceAccount, ClusterRole and ClusterRoleBinding; it returns a config that authenticates as
// that ServiceAccount with a TokenRequest token, once the binding is in force.
func installManagerRBAC(t *testing.T, release string, args ...string) *rest.Config {
	t.Helper()
	objs := render(t, release, args...)
	var rbac []*unstructured.Unstructured
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} {
		rbac = append(rbac, one(t, objs, k))
	}
	applyForReal(t, rbac)
	cfg := serviceAccountConfig(t, releaseNamespace, one(t, objs, "ServiceAccount").GetName())
	self := newClient(t, cfg)
	if err := eventually(t.Context(), func(ctx context.Context) error {
		return self.List(ctx, &agentsv1alpha1.AgentQueryList{})
	}); err != nil {
		t.Fatalf("the %s ServiceAccount never got its own rights: %v", release, err)
	}
	return cfg
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := cluster.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// impersonating returns a client that authenticates as the manager (cfg) and impersonates who.
func impersonating(t *testing.T, cfg *rest.Config, who rest.ImpersonationConfig) client.Client {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = who
	return newClient(t, c)
}

// impersonatingClientset is impersonating without a discovery step, so that a denial surfaces
// as the API server's own error for the request, not as a failed discovery.
func impersonatingClientset(t *testing.T, cfg *rest.Config, who rest.ImpersonationConfig) kubernetes.Interface {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = who
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: name}, Data: map[string]string{"k": "v"}}
}

// wantForbidden fails unless err is a Forbidden error whose message contains every part.
func wantForbidden(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Fatalf("%s: want Forbidden, got %v", what, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: the denial %q does not mention %q", what, err, p)
		}
	}
}

// setupRequesters creates the people the agent acts for: alice (a real client-certificate user
// in group dev) may read, create and delete ConfigMaps in team-a and nothing else; the
// ServiceAccount team-a/bot may only read them.
func setupRequesters(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	admin := adminClient(t)
	ensureNamespace(t, releaseNamespace, nil)
	ensureNamespace(t, teamNS, nil)
	objs := []client.Object{
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "configmap-editor"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}}},
		},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "configmap-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "alice-edit"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-editor"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "bot-read"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: teamNS, Name: "bot"}},
		},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "bot"}},
		configMap("existing"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "not-for-the-manager"}, StringData: map[string]string{"k": "v"}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// Control: alice herself may create ConfigMaps, so any denial below comes from the
	// manager's impersonation rights, not from alice's.
	aliceCfg, err := cluster.UserConfig("alice", "dev")
	if err != nil {
		t.Fatal(err)
	}
	alice := newClient(t, aliceCfg)
	if err := eventually(ctx, func(ctx context.Context) error {
		err := alice.Create(ctx, configMap("by-alice"))
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}); err != nil {
		t.Fatalf("control: alice cannot create ConfigMaps herself: %v", err)
	}
}

// TestConstrainedImpersonation proves with the real API server that the chart's default
// impersonation rights bound what the manager can do as anyone: with agent.allowedModes
// [ReadOnly] an impersonated create is forbidden although the impersonated user may create;
// with the default [ReadOnly, Propose] it succeeds; and the manager itself reads no Secrets
// or Pods.
func TestConstrainedImpersonation(t *testing.T) {
	ctx := t.Context()
	setupRequesters(t)
	alice := rest.ImpersonationConfig{UserName: "alice", Groups: []string{"dev"}}

	managerCfg := installManagerRBAC(t, "sec", "--set", "agent.allowedModes={ReadOnly}")

	t.Run("manager itself reads no secrets or pods", func(t *testing.T) {
		m := newClient(t, managerCfg)
		wantForbidden(t, "list secrets cluster-wide", m.List(ctx, &corev1.SecretList{}), "secrets")
		wantForbidden(t, "list pods cluster-wide", m.List(ctx, &corev1.PodList{}), "pods")
		wantForbidden(t, "get a secret in its own namespace",
			m.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "not-for-the-manager"}, &corev1.Secret{}), "secrets")
		wantForbidden(t, "list configmaps cluster-wide", m.List(ctx, &corev1.ConfigMapList{}), "configmaps")
		if err := m.List(ctx, &agentsv1alpha1.AgentSessionList{}); err != nil {
			t.Fatalf("control: the manager cannot list its own AgentSessions: %v", err)
		}
	})

	t.Run("read-only: impersonated reads succeed, writes are forbidden", func(t *testing.T) {
		c := impersonating(t, managerCfg, alice)
		if err := c.Get(ctx, client.ObjectKey{Namespace: teamNS, Name: "existing"}, &corev1.ConfigMap{}); err != nil {
			t.Fatalf("impersonated get: %v", err)
		}
		if err := c.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(teamNS)); err != nil {
			t.Fatalf("impersonated list: %v", err)
		}
		wantForbidden(t, "impersonated create", c.Create(ctx, configMap("by-agent-readonly")),
			"impersonate-on:user-info:create")
		wantForbidden(t, "impersonated delete", c.Delete(ctx, configMap("existing")),
			"impersonate-on:user-info:delete")
		// Still bounded by alice's own rights: she may not read Secrets.
		wantForbidden(t, "impersonated list secrets", c.List(ctx, &corev1.SecretList{}, client.InNamespace(teamNS)),
			`User "alice"`)
	})

	t.Run("system:masters can never be impersonated", func(t *testing.T) {
		c := impersonatingClientset(t, managerCfg, rest.ImpersonationConfig{UserName: "mallory", Groups: []string{"system:masters"}})
		_, err := c.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
		wantForbidden(t, "impersonating system:masters", err, "impersonating the system:masters group is not allowed")
	})

	t.Run("service-account requesters by username only", func(t *testing.T) {
		bot := rest.ImpersonationConfig{UserName: "system:serviceaccount:team-a:bot"}
		c := impersonating(t, managerCfg, bot)
		if err := c.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(teamNS)); err != nil {
			t.Fatalf("impersonated list as the bot ServiceAccount: %v", err)
		}
		wantForbidden(t, "impersonated create as the bot", c.Create(ctx, configMap("by-bot")),
			"impersonate-on:serviceaccount:create")
		withGroups := bot
		withGroups.Groups = []string{"system:serviceaccounts"}
		_, err := impersonatingClientset(t, managerCfg, withGroups).CoreV1().ConfigMaps(teamNS).List(ctx, metav1.ListOptions{})
		// serviceaccount mode takes a username alone and user-info mode refuses service-account
		// names, so this falls through to legacy impersonation, which the chart does not grant.
		wantForbidden(t, "a service account with explicit groups", err, `cannot impersonate resource "serviceaccounts"`)
	})

	t.Run("user extras: listed keys only", func(t *testing.T) {
		listed := alice
		listed.Extra = map[string][]string{"authentication.kubernetes.io/credential-id": {"X509SHA256=0123"}}
		if err := impersonating(t, managerCfg, listed).List(ctx, &corev1.ConfigMapList{}, client.InNamespace(teamNS)); err != nil {
			t.Fatalf("impersonating a listed extra key: %v", err)
		}
		unlisted := alice
		unlisted.Extra = map[string][]string{"example.com/tenant": {"blue"}}
		_, err := impersonatingClientset(t, managerCfg, unlisted).CoreV1().ConfigMaps(teamNS).List(ctx, metav1.ListOptions{})
		wantForbidden(t, "impersonating an unlisted extra key", err, `userextras/example.com/tenant`)
	})

	// The default modes (ReadOnly, Propose) add the write verbs, and only those.
	installManagerRBAC(t, "sec")
	t.Run("propose: impersonated writes succeed as the requester", func(t *testing.T) {
		c := impersonating(t, managerCfg, alice)
		if err := eventually(ctx, func(ctx context.Context) error {
			return c.Create(ctx, configMap("by-agent-propose"))
		}); err != nil {
			t.Fatalf("impersonated create with the Propose rendering: %v", err)
		}
		wantForbidden(t, "impersonated create secret", c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "s"}}),
			`User "alice"`)
		wantForbidden(t, "impersonated deletecollection", c.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(teamNS)),
			"impersonate-on:user-info:deletecollection")
		if err := c.Delete(ctx, configMap("by-agent-propose")); err != nil {
			t.Fatalf("impersonated delete: %v", err)
		}
	})
}

// TestLegacyImpersonation documents why constrained impersonation is the default: with the
// classic impersonate verb the read-only setting cannot be enforced by RBAC, and the manager
// could even act as system:masters.
func TestLegacyImpersonation(t *testing.T) {
	ctx := t.Context()
	setupRequesters(t)
	cfg := installManagerRBAC(t, "legacy", "--set", "impersonation.mode=legacy", "--set", "agent.allowedModes={ReadOnly}")
	c := impersonating(t, cfg, rest.ImpersonationConfig{UserName: "alice", Groups: []string{"dev"}})
	if err := c.Create(ctx, configMap("by-agent-legacy")); err != nil {
		t.Fatalf("legacy impersonation: the create should go through (only alice's RBAC applies): %v", err)
	}
	if err := c.List(ctx, &corev1.SecretList{}, client.InNamespace(teamNS)); !apierrors.IsForbidden(err) {
		t.Fatalf("legacy impersonation is still bounded by alice's RBAC; list secrets: %v", err)
	}
	masters := impersonating(t, cfg, rest.ImpersonationConfig{UserName: "mallory", Groups: []string{"system:masters"}})
	if err := masters.List(ctx, &corev1.SecretList{}); err != nil {
		t.Fatalf("legacy impersonation of system:masters was refused (%v); if the API server now refuses it, update docs/install.md", err)
	}
}
