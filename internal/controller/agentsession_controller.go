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
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// SessionIndex indexes AgentQueries by the name of their session.
const SessionIndex = "spec.sessionRef.name"

// ConditionReady is the AgentSession condition saying whether the session's queries can
// run as the session asks: True when this operator runs an agent and the session's
// model, profile and defaultMode are in its catalog and allowed (see sessionReady).
const ConditionReady = "Ready"

// ReasonReady is the reason of a session's Ready=True.
const ReasonReady = "Ready"

// AgentSessionReconciler keeps a session's status (query count, participants, last
// activity, usage, Ready) in step with its queries and the platform's catalog, makes the
// queries owned by the session so they go with it, and deletes a session idle for longer
// than ttlSecondsAfterIdle, never while one of its queries is still unfinished.
type AgentSessionReconciler struct {
	Client client.Client
	// APIReader reads from the API server, not the cache: the last look for unfinished
	// queries before an idle session is deleted. SetupWithManager sets the manager's
	// when it is nil.
	APIReader client.Reader
	// Catalog is the platform's model catalog the agent runs queries with; nil when
	// this operator runs no agent (no --config), and the session is not Ready.
	Catalog *catalog.Catalog
	// AllowedModes are the modes the installation runs queries in (--allowed-mode);
	// empty allows all.
	AllowedModes []agentsv1alpha1.Mode
	Now          func() time.Time
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
	// The status first: it does not depend on the adoptions, which conflict whenever
	// the agent writes a query meanwhile and would hold it back.
	status := sessionStatus(s, queries.Items, sessionReady(s, r.Catalog, r.AllowedModes))
	if !equality.Semantic.DeepEqual(status, s.Status) {
		base := s.DeepCopy()
		s.Status = status
		if err := r.Client.Status().Patch(ctx, s, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	for i := range queries.Items {
		if err := r.adopt(ctx, s, &queries.Items[i]); err != nil {
			if apierrors.IsConflict(err) {
				// The agent wrote the query meanwhile; try again on a fresh copy.
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			return ctrl.Result{}, err
		}
	}
	return r.expire(ctx, s, queries.Items)
}

// sessionStatus derives a session's status from its queries (sorted oldest first) and
// its Ready condition.
func sessionStatus(s *agentsv1alpha1.AgentSession, queries []agentsv1alpha1.AgentQuery, ready metav1.Condition) agentsv1alpha1.AgentSessionStatus {
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
	// The conditions are a copy of the stored ones, so SetStatusCondition keeps the
	// transition time while the status stays the same and the status is stable.
	meta.SetStatusCondition(&st.Conditions, ready)
	return st
}

// sessionReady is the session's Ready condition: whether a query that takes the
// session's model, profile and defaultMode can run with them here. It is False when
// this operator runs no agent, when the catalog lacks the model or the profile, or when
// the profile or the installation does not allow the defaultMode; the reasons are those
// a query would fail with. Who may use the model and the profile is checked per query,
// against that query's requester, and is not part of it.
func sessionReady(s *agentsv1alpha1.AgentSession, cat *catalog.Catalog, allowed []agentsv1alpha1.Mode) metav1.Condition {
	c := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: s.Generation}
	if cat == nil {
		c.Reason = ReasonAgentNotConfigured
		c.Message = "this kubeask operator has no model catalog (--config), so no agent runs; the session's queries wait"
		return c
	}
	profile, err := cat.Profile(s.Spec.Profile)
	if err != nil {
		c.Reason, c.Message = agent.ReasonUnknownProfile, "spec.profile: "+err.Error()
		return c
	}
	model, err := cat.Model(s.Spec.Model)
	if err != nil {
		c.Reason, c.Message = agent.ReasonUnknownModel, "spec.model: "+err.Error()
		return c
	}
	mode := s.Spec.DefaultMode
	if mode == "" {
		mode = agentsv1alpha1.ModeReadOnly
	}
	if len(allowed) > 0 && !slices.Contains(allowed, mode) {
		c.Reason = agent.ReasonModeNotAllowed
		c.Message = fmt.Sprintf("spec.defaultMode: this installation does not allow mode %s: it allows %v (kubeask-manager --allowed-mode, chart value agent.allowedModes)", mode, allowed)
		return c
	}
	if !profile.AllowsMode(mode) {
		allows := profile.Modes
		if len(allows) == 0 {
			allows = []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly}
		}
		c.Reason = agent.ReasonModeNotAllowed
		c.Message = fmt.Sprintf("spec.defaultMode: profile %q does not allow mode %s (it allows %v)", profile.Name, mode, allows)
		return c
	}
	c.Status, c.Reason = metav1.ConditionTrue, ReasonReady
	c.Message = fmt.Sprintf("the session's queries run with model %s, profile %s and mode %s unless they choose otherwise", model.Name, profile.Name, mode)
	if mode == agentsv1alpha1.ModeAuto {
		c.Message += " (Auto for its requester's queries only; others' run in Propose)"
	}
	return c
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
// A session with a query still Pending, Running or AwaitingApproval is not idle, however
// long ago its last activity was: deleting it would delete that query with it.
func (r *AgentSessionReconciler) expire(ctx context.Context, s *agentsv1alpha1.AgentSession, queries []agentsv1alpha1.AgentQuery) (ctrl.Result, error) {
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
	// When the query ends, its update reconciles the session again, with the query's
	// completion as the session's last activity.
	if slices.ContainsFunc(queries, unfinished) {
		return ctrl.Result{}, nil
	}
	// The cache may not hold yet a query created a moment ago: the API server decides.
	if busy, err := r.hasUnfinishedQuery(ctx, s); err != nil || busy {
		return ctrl.Result{}, err
	}
	if err := r.Client.Delete(ctx, s, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &s.UID}); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("deleting idle session %s: %w", s.Name, err)
	}
	return ctrl.Result{}, nil
}

func unfinished(q agentsv1alpha1.AgentQuery) bool { return !q.Status.Phase.Finished() }

// hasUnfinishedQuery asks the API server whether s has a query that is not finished,
// with the field selectors the AgentQuery CRD declares (a query without a phase yet
// counts: a missing field compares as ""), reading at most one.
func (r *AgentSessionReconciler) hasUnfinishedQuery(ctx context.Context, s *agentsv1alpha1.AgentSession) (bool, error) {
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector(SessionIndex, s.Name),
		fields.OneTermNotEqualSelector("status.phase", string(agentsv1alpha1.QuerySucceeded)),
		fields.OneTermNotEqualSelector("status.phase", string(agentsv1alpha1.QueryFailed)),
		fields.OneTermNotEqualSelector("status.phase", string(agentsv1alpha1.QueryCancelled)),
	)
	var list agentsv1alpha1.AgentQueryList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingFieldsSelector{Selector: sel}, client.Limit(1)); err != nil {
		return false, fmt.Errorf("listing unfinished queries of session %s/%s: %w", s.Namespace, s.Name, err)
	}
	return len(list.Items) > 0, nil
}

// SetupWithManager registers the reconciler and the query index it uses.
func (r *AgentSessionReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
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
