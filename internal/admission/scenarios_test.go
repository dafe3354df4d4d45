package admission_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// users are the people of the admission scenarios, each a real authenticated client.
type users struct {
	admin, alice, bob, ci client.Client
	// dana administers namespace team-a with a wildcard Role: RBAC lets her write
	// anything there, the status of queries and sessions included.
	dana client.Client
	// operator is testcluster.OperatorUser with the operator's generated role.
	operator client.Client
}

// setupUsers creates namespace team-a where alice (group dev) and bob (group ops) may
// create and update queries, alice may read only the session "shared", dana may do
// anything, and a service account ci whose token is a real TokenRequest token; and the
// operator's user.
func setupUsers(t *testing.T, c *testcluster.Cluster) users {
	t.Helper()
	ctx := t.Context()
	admin := newClient(t, c, c.Admin)
	create(t, admin,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "query-writer", Namespace: "team-a"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agenttriggers"}, Verbs: []string{"get", "list", "create", "update", "patch"}},
				{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentsessions"}, Verbs: []string{"create", "update", "patch"}},
				{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentsessions"}, Verbs: []string{"get"}, ResourceNames: []string{"shared"}},
			},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "query-writers", Namespace: "team-a"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "query-writer"},
			Subjects: []rbacv1.Subject{
				{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "dev"},
				{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "ops"},
				{Kind: "ServiceAccount", Name: "ci", Namespace: "team-a"},
			},
		},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a"}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "namespace-admin", Namespace: "team-a"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "namespace-admin", Namespace: "team-a"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "namespace-admin"},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "dana"}},
		},
	)
	aliceCfg, err := c.UserConfig("alice", "dev")
	if err != nil {
		t.Fatal(err)
	}
	bobCfg, err := c.UserConfig("bob", "ops")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, "ci", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating token for ci: %v", err)
	}
	ciCfg := rest.AnonymousClientConfig(c.Admin)
	ciCfg.BearerToken = tr.Status.Token
	danaCfg, err := c.UserConfig("dana")
	if err != nil {
		t.Fatal(err)
	}
	operatorCfg, err := c.OperatorConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}

	return users{
		admin: admin,
		alice: newClient(t, c, aliceCfg),
		bob:   newClient(t, c, bobCfg),
		ci:    newClient(t, c, ciCfg),
		dana:  newClient(t, c, danaCfg),

		operator: newClient(t, c, operatorCfg),
	}
}

// runScenarios checks the creator-stamping rules, whatever enforces them.
func runScenarios(t *testing.T, u users) {
	ctx := t.Context()
	waitForStamping(t, u.alice)

	// The shared session, created by bob; alice may read it through RBAC.
	shared := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "team-a"}}
	create(t, u.bob, shared)
	if got := shared.Spec.Requester; got == nil || got.Username != "bob" {
		t.Fatalf("session requester = %+v, want bob", got)
	}
	private := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: "private", Namespace: "team-a"}}
	create(t, u.bob, private)

	var aliceQuery *agentsv1alpha1.AgentQuery

	t.Run("forged requester is overwritten with the creator", func(t *testing.T) {
		q := newQuery("forged", "why is checkout crashing?")
		q.Spec.Requester = &agentsv1alpha1.Requester{Username: "bob", UID: "b-1", Groups: []string{"system:masters", "ops"},
			Extra: map[string]agentsv1alpha1.ExtraValue{"scopes": {"everything"}}}
		create(t, u.alice, q)
		stored := &agentsv1alpha1.AgentQuery{}
		if err := u.admin.Get(ctx, client.ObjectKeyFromObject(q), stored); err != nil {
			t.Fatal(err)
		}
		r := stored.Spec.Requester
		if r == nil || r.Username != "alice" {
			t.Fatalf("stored requester = %+v, want alice", r)
		}
		if !slices.Contains(r.Groups, "dev") || !slices.Contains(r.Groups, "system:authenticated") || slices.Contains(r.Groups, "system:masters") || slices.Contains(r.Groups, "ops") {
			t.Errorf("stored groups = %v, want alice's real groups (dev, system:authenticated) only", r.Groups)
		}
		if r.UID == "b-1" || r.Extra["scopes"] != nil {
			t.Errorf("forged uid/extra survived: %+v", r)
		}
		aliceQuery = stored
	})

	t.Run("a session with no spec is stamped too", func(t *testing.T) {
		s := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: "alices", Namespace: "team-a"}}
		create(t, u.alice, s)
		if s.Spec.Requester == nil || s.Spec.Requester.Username != "alice" {
			t.Fatalf("requester = %+v, want alice", s.Spec.Requester)
		}
	})

	t.Run("nobody can change prompt or requester", func(t *testing.T) {
		for name, c := range map[string]client.Client{"bob": u.bob, "alice": u.alice} {
			expectDenied(t, updateQuery(t, u.admin, c, aliceQuery, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Prompt = "delete everything" }),
				"prompt", name+" changing the prompt")
			expectDenied(t, updateQuery(t, u.admin, c, aliceQuery, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Requester.Username = name + "-forged" }),
				"requester", name+" changing the requester")
		}
	})

	t.Run("only the requester may approve or deny", func(t *testing.T) {
		expectDenied(t, updateQuery(t, u.admin, u.bob, aliceQuery, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Approvals = []string{approvalS1} }),
			"only the query's requester (alice)", "bob approving alice's step")
		expectDenied(t, updateQuery(t, u.admin, u.bob, aliceQuery, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Denials = []string{"s2"} }),
			"only the query's requester (alice)", "bob denying alice's step")
		if err := updateQuery(t, u.admin, u.alice, aliceQuery, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Approvals = []string{approvalS1} }); err != nil {
			t.Fatalf("alice approving her own step: %v", err)
		}
		if got := get(t, u.admin, aliceQuery).Spec.Approvals; !slices.Equal(got, []string{approvalS1}) {
			t.Fatalf("approvals = %v, want [%s]", got, approvalS1)
		}
	})

	t.Run("only the requester may cancel, and a cancel is for good", func(t *testing.T) {
		q := newQuery("to-cancel", "what is slow in team-a?")
		create(t, u.alice, q)
		cancel := func(q *agentsv1alpha1.AgentQuery) { q.Spec.Cancel = true }
		// bob and dana may update every query of team-a through RBAC; only admission
		// stops them, whether they update the object or merge-patch just spec.cancel (as
		// kubectl ask cancel does).
		for name, c := range map[string]client.Client{"bob": u.bob, "dana": u.dana} {
			expectDenied(t, updateQuery(t, u.admin, c, q, cancel),
				"only the query's requester (alice) may cancel it, not "+name, name+" cancelling alice's query")
			expectDenied(t, c.Patch(ctx, get(t, u.admin, q), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))),
				"only the query's requester (alice) may cancel it, not "+name, name+" patching spec.cancel of alice's query")
		}
		if get(t, u.admin, q).Spec.Cancel {
			t.Fatal("alice's query was cancelled by someone else")
		}
		if err := u.alice.Patch(ctx, get(t, u.admin, q), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))); err != nil {
			t.Fatalf("alice cancelling her own query: %v", err)
		}
		if !get(t, u.admin, q).Spec.Cancel {
			t.Fatal("spec.cancel is not set after alice cancelled")
		}
		// Nobody, not even the requester, takes a cancel back: the CRD refuses it.
		for name, c := range map[string]client.Client{"alice": u.alice, "bob": u.bob} {
			expectDenied(t, updateQuery(t, u.admin, c, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Cancel = false }),
				"", name+" undoing the cancel")
		}
		if err := updateQuery(t, u.admin, u.alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Cancel = false }); err == nil ||
			!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "cancel cannot be undone") {
			t.Errorf("alice undoing her cancel: error %v, want the CRD's Invalid \"cancel cannot be undone\"", err)
		}
		if !get(t, u.admin, q).Spec.Cancel {
			t.Error("the cancel was undone")
		}
	})

	t.Run("an update that omits the requester keeps it", func(t *testing.T) {
		err := updateQuery(t, u.admin, u.alice, aliceQuery, func(q *agentsv1alpha1.AgentQuery) {
			q.Spec.Requester = nil
			q.Spec.Approvals = []string{approvalS1, approvalS3}
		})
		if err != nil {
			t.Fatalf("alice re-applying without requester: %v", err)
		}
		if r := get(t, u.admin, aliceQuery).Spec.Requester; r == nil || r.Username != "alice" {
			t.Fatalf("requester after update = %+v, want alice kept", r)
		}
	})

	t.Run("a query may only join a session the requester may read", func(t *testing.T) {
		q := newQuery("into-private", "hello")
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "private"}
		expectDenied(t, u.alice.Create(ctx, q), "may not get AgentSession private", "alice joining private")

		q = newQuery("into-shared", "hello")
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "shared"}
		create(t, u.alice, q)
	})

	t.Run("a service account is stamped with its groups", func(t *testing.T) {
		q := newQuery("from-ci", "what changed today?")
		create(t, u.ci, q)
		r := get(t, u.admin, q).Spec.Requester
		if r == nil || r.Username != "system:serviceaccount:team-a:ci" {
			t.Fatalf("requester = %+v, want the ci service account", r)
		}
		for _, g := range []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"} {
			if !slices.Contains(r.Groups, g) {
				t.Errorf("groups %v lack %s", r.Groups, g)
			}
		}
		if r.UID == "" {
			t.Errorf("service account uid not stamped: %+v", r)
		}
		if len(r.Extra["authentication.kubernetes.io/credential-id"]) == 0 {
			t.Errorf("extra %v lacks the token's credential-id", r.Extra)
		}
	})
}

func newQuery(name, prompt string) *agentsv1alpha1.AgentQuery {
	return &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: prompt},
	}
}

// waitForStamping waits until the enforcement path is live: admission policies and
// webhook configurations take effect asynchronously after they are created.
func waitForStamping(t *testing.T, c client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		s := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: "team-a"}}
		err := c.Create(ctx, s)
		if err == nil && s.Spec.Requester != nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("admission stamping never became active: last error %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func expectDenied(t *testing.T, err error, wantMsg, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: allowed, want denied", what)
		return
	}
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Errorf("%s: error %v is neither Forbidden nor Invalid", what, err)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("%s: error %q does not say %q", what, err, wantMsg)
	}
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func get[T client.Object](t *testing.T, c client.Client, o T) T {
	t.Helper()
	out := o.DeepCopyObject().(T)
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(o), out); err != nil {
		t.Fatalf("getting %s: %v", o.GetName(), err)
	}
	return out
}

func newClient(t *testing.T, c *testcluster.Cluster, cfg *rest.Config) client.Client {
	t.Helper()
	cl, err := c.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// updateQuery applies edit to a fresh copy of q (read as reader) and updates it as c,
// retrying when something else (the operator's controllers) wrote the query meanwhile.
func updateQuery(t *testing.T, reader, c client.Client, q *agentsv1alpha1.AgentQuery, edit func(*agentsv1alpha1.AgentQuery)) error {
	t.Helper()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		fresh := get(t, reader, q)
		edit(fresh)
		return c.Update(t.Context(), fresh)
	})
}
