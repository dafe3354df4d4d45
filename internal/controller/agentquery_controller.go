// Package controller holds the reconcilers of kubeask's custom resources.
package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
)

// ReasonAgentNotConfigured says that this operator has no model catalog, so queries
// wait rather than pretend to be answered.
const ReasonAgentNotConfigured = "AgentNotConfigured"

// AgentQueryReconciler hands queries to the agent's worker pool. It never runs the
// agent itself: a slow model must not hold up reconciliation.
type AgentQueryReconciler struct {
	Client client.Client
	// Agents runs queries. Nil means no agent is configured: queries stay Pending with
	// a condition that says so.
	Agents *agent.Pool
}

// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentqueries,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentqueries/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentqueries/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile implements reconcile.Reconciler.
func (r *AgentQueryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	q := &agentsv1alpha1.AgentQuery{}
	if err := r.Client.Get(ctx, req.NamespacedName, q); err != nil {
		if apierrors.IsNotFound(err) && r.Agents != nil {
			r.Agents.Cancel(req.NamespacedName) // deleting a query cancels its run
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if q.Status.Phase.Finished() {
		return ctrl.Result{}, nil
	}
	if r.Agents == nil {
		return ctrl.Result{}, r.wait(ctx, q)
	}
	if q.Status.Phase == agentsv1alpha1.QueryAwaitingApproval && !decided(q) && !q.Spec.Cancel {
		return ctrl.Result{}, nil
	}
	// A query already queued or running, or whose last run ended at this generation, is
	// run again only for a newer generation: the run's own status writes are no news.
	query := agent.Query{Key: req.NamespacedName, UID: q.UID, Generation: q.Generation}
	r.Agents.Submit(query)
	if q.Spec.Cancel {
		// A run that started before the cancel stops after its tool call in flight; the
		// run submitted after it finds spec.cancel and records Cancelled.
		r.Agents.Interrupt(query, agent.ErrQueryCancelled)
	}
	return ctrl.Result{}, nil
}

// decided reports whether the requester has approved or denied a proposed step (an
// approval naming other arguments than the proposed ones too: the agent says so).
func decided(q *agentsv1alpha1.AgentQuery) bool {
	for _, s := range q.Status.Steps {
		if s.State == agentsv1alpha1.StepProposed && q.HasDecisionOn(s.ID) {
			return true
		}
	}
	return false
}

// wait marks a query Pending and says that no agent is configured.
func (r *AgentQueryReconciler) wait(ctx context.Context, q *agentsv1alpha1.AgentQuery) error {
	if q.Status.Phase == agentsv1alpha1.QueryPending && q.Status.ObservedGeneration == q.Generation {
		return nil
	}
	base := q.DeepCopy()
	q.Status.ObservedGeneration = q.Generation
	q.Status.Phase = agentsv1alpha1.QueryPending
	meta.SetStatusCondition(&q.Status.Conditions, metav1.Condition{
		Type: agent.ConditionRunning, Status: metav1.ConditionFalse, Reason: ReasonAgentNotConfigured,
		Message:            "this kubeask operator has no model catalog (--config), so no agent runs; the query waits",
		ObservedGeneration: q.Generation,
	})
	if err := r.Client.Status().Patch(ctx, q, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status of %s/%s: %w", q.Namespace, q.Name, err)
	}
	return nil
}

// SetupWithManager registers the reconciler.
func (r *AgentQueryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&agentsv1alpha1.AgentQuery{}).
		Named("agentquery").
		Complete(r)
}
