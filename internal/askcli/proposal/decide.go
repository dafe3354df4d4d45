package proposal

import (
	"context"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/kube"
)

// Decide adds ids to the query's approvals (approve) or denials, as the user: the API
// server's admission lets only the query's requester do it. It is a merge patch of the
// spec's list alone, so the agent's concurrent status writes never conflict with it.
// It returns the updated query.
func Decide(ctx context.Context, c *kube.Client, key client.ObjectKey, ids []string, approve bool) (*agentsv1alpha1.AgentQuery, error) {
	q := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, key, q); err != nil {
		return nil, c.Explain(err, "get", kube.QueriesResource)
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
	if err := c.Patch(ctx, q, client.MergeFrom(before)); err != nil {
		return nil, c.Explain(err, "patch", kube.QueriesResource)
	}
	return q, nil
}
