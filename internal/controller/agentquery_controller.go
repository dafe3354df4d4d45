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
)

// Condition types and reasons of AgentQuery.
const (
	// ConditionAccepted says whether the query is well-formed and may run.
	ConditionAccepted = "Accepted"
	// ConditionRunning says whether the agent is working on the query.
	ConditionRunning = "Running"

	ReasonAccepted          = "Accepted"
	ReasonRequesterMissing  = "RequesterMissing"
	ReasonSessionNotFound   = "SessionNotFound"
	ReasonAgentNotAvailable = "AgentNotAvailable"
)

// AgentQueryReconciler accepts queries. This version validates them and marks them
// Pending; it runs no agent yet and says so in a condition rather than pretending to
// answer.
type AgentQueryReconciler struct {
	Client client.Client
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
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if q.Status.Phase.Finished() || (q.Status.Phase != "" && q.Status.ObservedGeneration == q.Generation) {
		return ctrl.Result{}, nil
	}
	base := q.DeepCopy()
	q.Status.ObservedGeneration = q.Generation

	phase, accepted := r.accept(ctx, q)
	meta.SetStatusCondition(&q.Status.Conditions, accepted)
	q.Status.Phase = phase
	if phase == agentsv1alpha1.QueryFailed {
		q.Status.Summary = truncate(accepted.Message, agentsv1alpha1.MaxSummaryLength)
		now := metav1.Now()
		q.Status.CompletionTime = &now
	} else {
		meta.SetStatusCondition(&q.Status.Conditions, metav1.Condition{
			Type: ConditionRunning, Status: metav1.ConditionFalse, Reason: ReasonAgentNotAvailable,
			Message:            "no agent runs in this version of kubeask yet; the query waits",
			ObservedGeneration: q.Generation,
		})
	}
	if err := r.Client.Status().Patch(ctx, q, client.MergeFrom(base)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("updating status of %s: %w", req, err)
	}
	return ctrl.Result{}, nil
}

// accept decides whether q can run and returns its phase and Accepted condition.
func (r *AgentQueryReconciler) accept(ctx context.Context, q *agentsv1alpha1.AgentQuery) (agentsv1alpha1.QueryPhase, metav1.Condition) {
	cond := metav1.Condition{Type: ConditionAccepted, ObservedGeneration: q.Generation}
	switch {
	case q.Spec.Requester == nil || q.Spec.Requester.Username == "":
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonRequesterMissing
		cond.Message = "spec.requester is empty, so the query cannot act as anyone: the kubeask admission policy or webhook that stamps it is not installed"
		return agentsv1alpha1.QueryFailed, cond
	case q.Spec.SessionRef != nil:
		s := &agentsv1alpha1.AgentSession{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: q.Namespace, Name: q.Spec.SessionRef.Name}, s)
		if apierrors.IsNotFound(err) {
			cond.Status, cond.Reason = metav1.ConditionFalse, ReasonSessionNotFound
			cond.Message = fmt.Sprintf("AgentSession %q does not exist in namespace %s", q.Spec.SessionRef.Name, q.Namespace)
			return agentsv1alpha1.QueryFailed, cond
		}
	}
	cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, ReasonAccepted, "the query is valid"
	return agentsv1alpha1.QueryPending, cond
}

// SetupWithManager registers the reconciler.
func (r *AgentQueryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&agentsv1alpha1.AgentQuery{}).
		Named("agentquery").
		Complete(r)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
