package controller

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// SessionIndex indexes AgentQueries by the name of their session.
const SessionIndex = "spec.sessionRef.name"

// ConditionReady is the AgentSession condition saying the session can take queries.
const ConditionReady = "Ready"

// AgentSessionReconciler keeps a session's status (query count, participants, last
// activity, usage) in step with its queries, makes the queries owned by the session so
// they go with it, and deletes a session idle for longer than ttlSecondsAfterIdle.
type AgentSessionReconciler struct {
	Client client.Client
	Now    func() time.Time
}

// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentsessions,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentsessions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentsessions/finalizers,verbs=update

// Reconcile implements reconcile.Reconciler.
func (r *AgentSessionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &agentsv1alpha1.AgentSession{}
	if err := r.Client.Get(ctx, req.NamespacedName, s); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !s.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	var queries agentsv1alpha1.AgentQueryList
	if err := r.Client.List(ctx, &queries, client.InNamespace(s.Namespace), client.MatchingFields{SessionIndex: s.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing queries of session %s: %w", req, err)
	}
	slices.SortFunc(queries.Items, func(a, b agentsv1alpha1.AgentQuery) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	for i := range queries.Items {
		if err := r.adopt(ctx, s, &queries.Items[i]); err != nil {
			if apierrors.IsConflict(err) {
				// The agent wrote the query meanwhile; try again on a fresh copy.
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			return ctrl.Result{}, err
		}
	}

	status := sessionStatus(s, queries.Items)
	if !equality.Semantic.DeepEqual(status, s.Status) {
		base := s.DeepCopy()
		s.Status = status
		if err := r.Client.Status().Patch(ctx, s, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	return r.expire(ctx, s)
}

// sessionStatus derives a session's status from its queries (sorted oldest first).
func sessionStatus(s *agentsv1alpha1.AgentSession, queries []agentsv1alpha1.AgentQuery) agentsv1alpha1.AgentSessionStatus {
	st := agentsv1alpha1.AgentSessionStatus{
		ObservedGeneration: s.Generation,
		Queries:            count32(len(queries)),
		Conditions:         slices.Clone(s.Status.Conditions),
	}
	last := s.CreationTimestamp
	for _, q := range queries {
		if r := q.Spec.Requester; r != nil && !slices.Contains(st.Participants, r.Username) && len(st.Participants) < 64 {
			st.Participants = append(st.Participants, r.Username)
		}
		st.Usage = st.Usage.Add(q.Status.Usage)
		for _, t := range []*metav1.Time{&q.CreationTimestamp, q.Status.CompletionTime} {
			if t != nil && t.After(last.Time) {
				last = *t
			}
		}
	}
	st.LastActivityTime = &last
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready",
		Message: "the session accepts queries", ObservedGeneration: s.Generation,
	})
	// SetStatusCondition stamps a fresh transition time on new conditions; keep the old
	// one when nothing changed so that the status is stable.
	if old := meta.FindStatusCondition(s.Status.Conditions, ConditionReady); old != nil && old.Status == metav1.ConditionTrue {
		meta.FindStatusCondition(st.Conditions, ConditionReady).LastTransitionTime = old.LastTransitionTime
	}
	return st
}

// adopt makes q owned by s, so that deleting the session deletes its queries.
func (r *AgentSessionReconciler) adopt(ctx context.Context, s *agentsv1alpha1.AgentSession, q *agentsv1alpha1.AgentQuery) error {
	for _, o := range q.OwnerReferences {
		if o.UID == s.UID {
			return nil
		}
	}
	base := q.DeepCopy()
	q.OwnerReferences = append(q.OwnerReferences, metav1.OwnerReference{
		APIVersion: agentsv1alpha1.GroupVersion.String(), Kind: "AgentSession", Name: s.Name, UID: s.UID,
	})
	if err := r.Client.Patch(ctx, q, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("adopting query %s into session %s: %w", q.Name, s.Name, err)
	}
	return nil
}

// expire deletes s once it has been idle for ttlSecondsAfterIdle, or requeues for then.
func (r *AgentSessionReconciler) expire(ctx context.Context, s *agentsv1alpha1.AgentSession) (ctrl.Result, error) {
	if s.Spec.TTLSecondsAfterIdle == nil || s.Status.LastActivityTime == nil {
		return ctrl.Result{}, nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	deadline := s.Status.LastActivityTime.Add(time.Duration(*s.Spec.TTLSecondsAfterIdle) * time.Second)
	if left := deadline.Sub(now()); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	if err := r.Client.Delete(ctx, s, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &s.UID}); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("deleting idle session %s: %w", s.Name, err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler and the query index it uses.
func (r *AgentSessionReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(ctx, &agentsv1alpha1.AgentQuery{}, SessionIndex, func(o client.Object) []string {
		q := o.(*agentsv1alpha1.AgentQuery)
		if q.Spec.SessionRef == nil {
			return nil
		}
		return []string{q.Spec.SessionRef.Name}
	})
	if err != nil {
		return fmt.Errorf("indexing queries by session: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&agentsv1alpha1.AgentSession{}).
		Watches(&agentsv1alpha1.AgentQuery{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			q := o.(*agentsv1alpha1.AgentQuery)
			if q.Spec.SessionRef == nil {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.SessionRef.Name}}}
		})).
		Named("agentsession").
		Complete(r)
}

// count32 is the length n as a status count, an int32, saturating: more than 2^31-1 of
// anything cannot be listed anyway.
func count32(n int) int32 {
	switch {
	case n < 0:
		return 0
	case n > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(n)
}
