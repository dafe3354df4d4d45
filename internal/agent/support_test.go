package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func assertCondition(t *testing.T, q *agentsv1alpha1.AgentQuery, typ, reason, say string) {
	t.Helper()
	c := meta.FindStatusCondition(q.Status.Conditions, typ)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason || !strings.Contains(c.Message, say) {
		t.Errorf("condition %s = %+v, want False/%s saying %q", typ, c, reason, say)
	}
}

func replicas(t *testing.T) int32 {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "checkout"}, d); err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func timeAfter(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }

// rbacBinding lets alice (group dev) work in ns.
type rbacBinding struct{ ns string }

func (b *rbacBinding) ensure(t *testing.T) {
	t.Helper()
	if err := b.create(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (b *rbacBinding) ensureB(tb *testing.B) {
	if err := b.create(tb.Context()); err != nil {
		tb.Fatal(err)
	}
}

func (b *rbacBinding) create(ctx context.Context) error {
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "team-member", Namespace: b.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "dev"}},
	}
	if err := admin.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// The authorizer sees a new binding a moment after it is created: wait until alice
	// may create queries in ns, so that the test does not race RBAC propagation.
	deadline := time.Now().Add(30 * time.Second)
	for {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: b.ns, Verb: "create", Group: agentsv1alpha1.GroupVersion.Group, Resource: "agentqueries",
			},
		}}
		if err := alice.Create(ctx, review); err != nil {
			return err
		}
		if review.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("alice still may not create queries in %s", b.ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// update applies edit to a fresh copy of q as c, retrying on conflicts with the
// agent's status writes.
func update(t *testing.T, c client.Client, q *agentsv1alpha1.AgentQuery, edit func(*agentsv1alpha1.AgentQuery)) error {
	t.Helper()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		fresh := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), fresh); err != nil {
			return err
		}
		edit(fresh)
		return c.Update(t.Context(), fresh)
	})
}
