package agent

import (
	"context"

	"golang.org/x/time/rate"

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

// StatusWriter exposes the status writer to the tests that run it against the API server.
type StatusWriter = statusWriter

// NewStatusWriter starts a status writer.
var NewStatusWriter = newStatusWriter

// Save, Write and Stop expose save, write and stop.
func (w *statusWriter) Save(st *agentsv1alpha1.AgentQueryStatus) error { return w.save(st) }
func (w *statusWriter) Write(ctx context.Context, st *agentsv1alpha1.AgentQueryStatus) error {
	return w.write(ctx, st)
}
func (w *statusWriter) Stop() { w.stop() }

// ErrQueryGone is what the writer returns once its query is deleted.
var ErrQueryGone = errQueryGone

// ErrQueryLost is what the writer returns once another run holds its query.
var ErrQueryLost = errQueryLost

// RunID returns the runID the writer claims the query with.
func (w *statusWriter) RunID() string { return w.runID }

// SetProgressBudget sets the shared budget of the writer's background writes.
func (w *statusWriter) SetProgressBudget(l *rate.Limiter) { w.progress = l }
