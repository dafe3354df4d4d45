package agent

import (
	"context"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// SetBeforeExecute lets tests act between a step's Running record and its execution.
func (a *Agent) SetBeforeExecute(f func(ctx context.Context, step agentsv1alpha1.Step)) {
	a.beforeExecute = f
}

// SetAfterExecute lets tests act between a tool's return and the record of its result.
func (a *Agent) SetAfterExecute(f func(ctx context.Context, step agentsv1alpha1.Step)) {
	a.afterExecute = f
}
