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
// server's admission lets only the query's requester do it. It retries on conflicts
// with the agent's status writes and returns the updated query.
func Decide(ctx context.Context, c *kube.Client, key client.ObjectKey, ids []string, approve bool) (*agentsv1alpha1.AgentQuery, error) {
	q := &agentsv1alpha1.AgentQuery{}
	verb := "update"
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, key, q); err != nil {
			verb = "get"
			return err
		}
		verb = "update"
		for _, id := range ids {
			list := &q.Spec.Denials
			if approve {
				list = &q.Spec.Approvals
			}
			if !slices.Contains(*list, id) {
				*list = append(*list, id)
			}
		}
		return c.Update(ctx, q)
	})
	if err != nil {
		return nil, c.Explain(err, verb, kube.QueriesResource)
	}
	return q, nil
}
