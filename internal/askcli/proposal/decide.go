package proposal

import (
	"context"
	"slices"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/kube"
)

// Decide adds ids to the query's approvals (approve) or denials, as the user: the API
// server's admission lets only the query's requester do it. It is a merge patch of the
// spec's list alone, and it returns the updated query.
//
// A merge patch replaces the whole list, so two decisions made at once (two terminals,
// approve and the interactive prompt) would each write the list they read, and the later
// would drop the earlier. The patch therefore carries the resourceVersion it was computed
// from: the API server refuses it with a conflict if the query changed in between (a
// decision, or the agent's status write), and it is computed again from a fresh read.
func Decide(ctx context.Context, c *kube.Client, key client.ObjectKey, ids []string, approve bool) (*agentsv1alpha1.AgentQuery, error) {
	var q *agentsv1alpha1.AgentQuery
	var verb string // what failed, for the explanation
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		verb = "get"
		q = &agentsv1alpha1.AgentQuery{}
		if err := c.Get(ctx, key, q); err != nil {
			return err
		}
		before := q.DeepCopy()
		list := &q.Spec.Denials
		if approve {
			list = &q.Spec.Approvals
		}
		for _, id := range ids {
			if !slices.Contains(*list, id) {
				*list = append(*list, id)
			}
		}
		verb = "patch"
		return c.Patch(ctx, q, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		return nil, c.Explain(err, verb, kube.QueriesResource)
	}
	return q, nil
}
