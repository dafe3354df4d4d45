package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/trigger/engine"
	"github.com/kubeask/kubeask/internal/trigger/schedule"
	"github.com/kubeask/kubeask/internal/trigger/validation"
)

// recheckNotReady is how often a trigger that cannot fire is checked again, so that a
// requester who regains the right to create queries sees it fire again.
const recheckNotReady = time.Minute

// AgentTriggerReconciler checks that a trigger can fire (valid spec, a requester the
// platform acts as, who may create queries there), runs its schedule, keeps its
// history within its limits and writes its status.
type AgentTriggerReconciler struct {
	Client client.Client
	Firer  *engine.Firer
	// Identity checks the requester against the platform's deny lists.
	Identity *identity.Factory
	// AllowAutoMode is the platform's triggers.allowAutoMode.
	AllowAutoMode bool

	changed chan event.TypedGenericEvent[*agentsv1alpha1.AgentTrigger]
}

// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agenttriggers,verbs=get;list;watch
// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agenttriggers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Changed asks for a trigger's status to be written (the Firer's counts changed).
func (r *AgentTriggerReconciler) Changed(key types.NamespacedName) {
	t := &agentsv1alpha1.AgentTrigger{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	select {
	case r.changed <- event.TypedGenericEvent[*agentsv1alpha1.AgentTrigger]{Object: t}:
	default: // the queue is full of triggers to write already; the next reconcile writes this one too
	}
}

// Reconcile implements reconcile.Reconciler.
func (r *AgentTriggerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	t := &agentsv1alpha1.AgentTrigger{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if t.DeletionTimestamp != nil {
		r.Firer.Forget(t.UID)
		return ctrl.Result{}, nil
	}
	base := t.DeepCopy()
	stats := r.Firer.TakeStats(t.UID)
	applyStats(&t.Status, stats)

	result := ctrl.Result{}
	ready := r.readiness(ctx, t)
	if ready == nil && stats.NotReady != nil {
		ready = stats.NotReady
	}
	if ready != nil {
		setReady(t, metav1.ConditionFalse, ready.Reason, ready.Message)
		result.RequeueAfter = recheckNotReady
	} else {
		setReady(t, metav1.ConditionTrue, "Ready", readyMessage(t))
	}
	t.Status.ObservedGeneration = t.Generation

	queries, err := r.queries(ctx, t)
	if err != nil {
		r.Firer.ReturnStats(t.UID, stats)
		return ctrl.Result{}, err
	}
	if err := r.collect(ctx, t, queries); err != nil {
		r.Firer.ReturnStats(t.UID, stats)
		return ctrl.Result{}, err
	}
	if ready == nil && t.Spec.Schedule != nil && !t.Spec.Suspend {
		next, err := r.runSchedule(ctx, t, queries)
		if err != nil {
			var notReady *engine.NotReadyError
			if !errors.As(err, &notReady) {
				r.Firer.ReturnStats(t.UID, stats)
				return ctrl.Result{}, err
			}
			setReady(t, metav1.ConditionFalse, notReady.Reason, notReady.Message)
			result.RequeueAfter = recheckNotReady
		} else if result.RequeueAfter == 0 || next < result.RequeueAfter {
			result.RequeueAfter = next
		}
		// A firing's counts went to the Firer; write them with this status.
		more := r.Firer.TakeStats(t.UID)
		applyStats(&t.Status, more)
		stats = mergeStats(stats, more)
	}
	if err := r.writeStatus(ctx, base, t); err != nil {
		r.Firer.ReturnStats(t.UID, stats)
		return ctrl.Result{}, err
	}
	return result, nil
}

// readiness reports why t cannot fire, or nil.
func (r *AgentTriggerReconciler) readiness(ctx context.Context, t *agentsv1alpha1.AgentTrigger) *engine.NotReadyError {
	if errs := validation.Validate(&t.Spec); len(errs) > 0 {
		return &engine.NotReadyError{Reason: engine.ReasonInvalidSpec, Message: errs.ToAggregate().Error()}
	}
	if t.Spec.Query.Mode == agentsv1alpha1.ModeAuto && !r.AllowAutoMode {
		return &engine.NotReadyError{Reason: engine.ReasonModeNotAllowed,
			Message: "the platform does not allow triggers to create Auto queries (model catalog: triggers.allowAutoMode); use ReadOnly or Propose"}
	}
	if t.Spec.Requester == nil {
		return &engine.NotReadyError{Reason: engine.ReasonRequesterRefused, Message: "the trigger has no requester: are kubeask's admission rules installed?"}
	}
	if err := r.Identity.Check(identity.FromRequester(t.Spec.Requester)); err != nil {
		return &engine.NotReadyError{Reason: engine.ReasonRequesterRefused, Message: err.Error()}
	}
	allowed, err := r.may(ctx, t.Spec.Requester, &authorizationv1.ResourceAttributes{
		Namespace: t.Namespace, Verb: "create", Group: agentsv1alpha1.GroupVersion.Group, Resource: "agentqueries",
	})
	if err != nil {
		return &engine.NotReadyError{Reason: engine.ReasonRequesterForbidden, Message: "could not check the requester's rights: " + err.Error()}
	}
	if !allowed {
		return &engine.NotReadyError{Reason: engine.ReasonRequesterForbidden,
			Message: fmt.Sprintf("%s may not create AgentQueries in namespace %s, so the trigger cannot fire", t.Spec.Requester.Username, t.Namespace)}
	}
	if ref := t.Spec.Query.SessionRef; ref != nil {
		allowed, err := r.may(ctx, t.Spec.Requester, &authorizationv1.ResourceAttributes{
			Namespace: t.Namespace, Verb: "get", Group: agentsv1alpha1.GroupVersion.Group, Resource: "agentsessions", Name: ref.Name,
		})
		if err != nil || !allowed {
			return &engine.NotReadyError{Reason: engine.ReasonSessionForbidden,
				Message: fmt.Sprintf("%s may not get AgentSession %s in namespace %s, so the trigger's queries cannot join it", t.Spec.Requester.Username, ref.Name, t.Namespace)}
		}
	}
	return nil
}

// may asks the API server whether the requester may do what attrs say.
func (r *AgentTriggerReconciler) may(ctx context.Context, req *agentsv1alpha1.Requester, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: req.Username, UID: req.UID, Groups: req.Groups, ResourceAttributes: attrs,
	}}
	if len(req.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(req.Extra))
		for k, v := range req.Extra {
			sar.Spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	if err := r.Client.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

func readyMessage(t *agentsv1alpha1.AgentTrigger) string {
	if t.Spec.Suspend {
		return "the trigger is valid and suspended"
	}
	return "the trigger fires as " + t.Spec.Requester.Username
}

func setReady(t *agentsv1alpha1.AgentTrigger, status metav1.ConditionStatus, reason, msg string) {
	if len(msg) > 32768 {
		msg = msg[:32768]
	}
	meta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{
		Type: engine.ConditionReady, Status: status, Reason: reason, Message: msg, ObservedGeneration: t.Generation,
	})
}

// queries lists the trigger's queries from the cache, oldest first.
func (r *AgentTriggerReconciler) queries(ctx context.Context, t *agentsv1alpha1.AgentTrigger) ([]agentsv1alpha1.AgentQuery, error) {
	var list agentsv1alpha1.AgentQueryList
	if err := r.Client.List(ctx, &list, client.InNamespace(t.Namespace), client.MatchingLabels{agentsv1alpha1.LabelTrigger: t.Name}); err != nil {
		return nil, fmt.Errorf("listing the queries of trigger %s/%s: %w", t.Namespace, t.Name, err)
	}
	out := slices.DeleteFunc(list.Items, func(q agentsv1alpha1.AgentQuery) bool { return !metav1.IsControlledBy(&q, t) })
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out, nil
}

// collect records the unfinished queries in status.active and deletes finished ones
// beyond the history limits, oldest first. A finished query is kept until its answer
// was delivered.
func (r *AgentTriggerReconciler) collect(ctx context.Context, t *agentsv1alpha1.AgentTrigger, queries []agentsv1alpha1.AgentQuery) error {
	var active []string
	var succeeded, failed []*agentsv1alpha1.AgentQuery
	retain := counted(t)
	now := r.Firer.Now()
	for i := range queries {
		q := &queries[i]
		switch {
		case !q.Status.Phase.Finished():
			active = append(active, q.Name)
		case q.Annotations[agentsv1alpha1.AnnotationNotified] == "":
			// not delivered yet: the query controller delivers it, then it may go
		case now.Sub(q.CreationTimestamp.Time) < retain:
			// it still counts for the cooldown or the hourly limit, also after a restart
		case t.Spec.Alerts != nil && q.Annotations[agentsv1alpha1.AnnotationAlertResolved] == "":
			// its alert group is still open: it keeps the group from firing again
		case q.Status.Phase == agentsv1alpha1.QuerySucceeded:
			succeeded = append(succeeded, q)
		default:
			failed = append(failed, q)
		}
	}
	if len(active) > 100 {
		active = active[len(active)-100:]
	}
	t.Status.Active = active
	var errs []error
	for _, excess := range [][]*agentsv1alpha1.AgentQuery{
		beyond(succeeded, t.Spec.SuccessfulQueriesHistoryLimit, 3),
		beyond(failed, t.Spec.FailedQueriesHistoryLimit, 1),
	} {
		for _, q := range excess {
			if err := r.Client.Delete(ctx, q, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting old query %s/%s: %w", q.Namespace, q.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// counted is how long a trigger's queries count for its de-duplication and limits, so
// the history limits never delete them sooner: the queries are what a restarted
// operator counts.
func counted(t *agentsv1alpha1.AgentTrigger) time.Duration {
	switch {
	case t.Spec.Events != nil:
		d := time.Hour
		if c := t.Spec.Events.Cooldown; c != nil && c.Duration > d {
			d = c.Duration
		}
		return d
	case t.Spec.Alerts != nil:
		return time.Hour
	}
	return 0
}

// beyond returns the oldest queries past the limit (def when unset).
func beyond(qs []*agentsv1alpha1.AgentQuery, limit *int32, def int) []*agentsv1alpha1.AgentQuery {
	keep := def
	if limit != nil {
		keep = int(*limit)
	}
	if len(qs) <= keep {
		return nil
	}
	return qs[:len(qs)-keep]
}

// runSchedule fires the latest due run of a scheduled trigger and returns how long
// until the next one.
func (r *AgentTriggerReconciler) runSchedule(ctx context.Context, t *agentsv1alpha1.AgentTrigger, queries []agentsv1alpha1.AgentQuery) (time.Duration, error) {
	src := t.Spec.Schedule
	sched, err := schedule.Parse(src.Cron, src.TimeZone)
	if err != nil {
		return 0, &engine.NotReadyError{Reason: engine.ReasonInvalidSpec, Message: "spec.schedule: " + err.Error()}
	}
	now := r.Firer.Now()
	var last time.Time
	if t.Status.LastFireTime != nil {
		last = t.Status.LastFireTime.Time
	}
	var deadline *time.Duration
	if src.StartingDeadlineSeconds != nil {
		d := time.Duration(*src.StartingDeadlineSeconds) * time.Second
		deadline = &d
	}
	run, ok, next := sched.Due(last, t.CreationTimestamp.Time, now, deadline)
	wait := next.Sub(now)
	if wait < time.Second {
		wait = time.Second
	}
	if !ok {
		return wait, nil
	}
	unfinished := slices.DeleteFunc(slices.Clone(queries), func(q agentsv1alpha1.AgentQuery) bool { return q.Status.Phase.Finished() })
	switch src.ConcurrencyPolicy {
	case agentsv1alpha1.ConcurrencyForbid, "":
		if len(unfinished) > 0 {
			// As a CronJob does: the run waits for the unfinished query (and is skipped
			// if the starting deadline passes meanwhile). Look again soon.
			return min(wait, 10*time.Second), nil
		}
	case agentsv1alpha1.ConcurrencyReplace:
		for i := range unfinished {
			if err := r.Client.Delete(ctx, &unfinished[i], client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
				return 0, fmt.Errorf("replacing query %s: %w", unfinished[i].Name, err)
			}
		}
	}
	name, outcome, err := r.Firer.Fire(ctx, t, engine.Firing{
		Name:   fmt.Sprintf("%s-%d", t.Name, run.Unix()/60),
		Data:   engine.ScheduleData(t, run),
		Source: fmt.Sprintf("schedule %q at %s", src.Cron, run.UTC().Format(time.RFC3339)),
	})
	if err != nil {
		return 0, err
	}
	if outcome == engine.Duplicate {
		// Created before, by this replica or another: the run is done.
		r.Firer.Record(t, func(s *engine.Stats) {
			if s.LastFire == nil {
				s.LastFire = &metav1.Time{Time: run}
			}
		})
	}
	log.FromContext(ctx).V(1).Info("scheduled run", "trigger", t.Name, "run", run, "query", name, "outcome", outcome)
	return wait, nil
}

// applyStats adds a Firer's counts to a status.
func applyStats(st *agentsv1alpha1.AgentTriggerStatus, s engine.Stats) {
	st.Fired += s.Fired
	st.SuppressedByCooldown += s.Duplicate
	st.SuppressedByLimit += s.Limited
	st.SuppressedNotReadable += s.NotReadable
	st.Deliveries += s.Deliveries
	st.FailedDeliveries += s.FailedDeliveries
	if s.LastDeliveryError != "" {
		st.LastDeliveryError = truncate(s.LastDeliveryError, 1024)
	}
	if s.LastFire != nil && (st.LastFireTime == nil || st.LastFireTime.Before(s.LastFire)) {
		st.LastFireTime = s.LastFire
	}
	if s.LastQuery != "" {
		st.LastQuery = s.LastQuery
	}
}

func mergeStats(a, b engine.Stats) engine.Stats {
	a.Fired += b.Fired
	a.Duplicate += b.Duplicate
	a.Limited += b.Limited
	a.NotReadable += b.NotReadable
	a.Deliveries += b.Deliveries
	a.FailedDeliveries += b.FailedDeliveries
	if b.LastDeliveryError != "" {
		a.LastDeliveryError = b.LastDeliveryError
	}
	if b.LastFire != nil {
		a.LastFire, a.LastQuery = b.LastFire, b.LastQuery
	}
	return a
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// writeStatus patches the status when it changed, with an optimistic lock so that
// counts are never lost to a concurrent writer.
func (r *AgentTriggerReconciler) writeStatus(ctx context.Context, base, t *agentsv1alpha1.AgentTrigger) error {
	if equalStatus(&base.Status, &t.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, t, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("writing the status of trigger %s/%s: %w", t.Namespace, t.Name, err)
	}
	return nil
}

func equalStatus(a, b *agentsv1alpha1.AgentTriggerStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

// SetupWithManager registers the reconciler: triggers, the queries they own, and the
// Firer's news.
func (r *AgentTriggerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.changed = make(chan event.TypedGenericEvent[*agentsv1alpha1.AgentTrigger], 1024)
	return ctrl.NewControllerManagedBy(mgr).
		For(&agentsv1alpha1.AgentTrigger{}).
		Owns(&agentsv1alpha1.AgentQuery{}).
		WatchesRawSource(source.Channel(r.changed, &handler.TypedEnqueueRequestForObject[*agentsv1alpha1.AgentTrigger]{})).
		Named("agenttrigger").
		Complete(r)
}
