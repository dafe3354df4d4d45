package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/engine"
	"github.com/kubeask/kubeask/internal/trigger/notify"
)

// EventRecorder records Kubernetes Events (the events.k8s.io recorder).
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// TriggerQueryReconciler delivers the answer of a finished trigger-created query: a
// Kubernetes Event on the involved object (or on the trigger), and the trigger's
// notify targets, whose Secrets are read as the trigger's requester. The query is then
// annotated as notified, so a restart never delivers it twice.
type TriggerQueryReconciler struct {
	Client   client.Client
	Firer    *engine.Firer
	Notifier *notify.Notifier
	Events   EventRecorder
}

// Reconcile implements reconcile.Reconciler.
func (r *TriggerQueryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	q := &agentsv1alpha1.AgentQuery{}
	if err := r.Client.Get(ctx, req.NamespacedName, q); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !q.Status.Phase.Finished() || q.Annotations[agentsv1alpha1.AnnotationNotified] != "" {
		return ctrl.Result{}, nil
	}
	t := &agentsv1alpha1.AgentTrigger{}
	owner := q.Labels[agentsv1alpha1.LabelTrigger]
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: q.Namespace, Name: owner}, t)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && !ownedByTrigger(q, t)):
		return ctrl.Result{}, r.markNotified(ctx, q, "no trigger")
	case err != nil:
		return ctrl.Result{}, err
	}

	r.recordEvent(q, t)
	outcome := "event"
	if t.Spec.Notify != nil && (t.Spec.Notify.Webhook != nil || t.Spec.Notify.Slack != nil) {
		res := r.deliver(ctx, t, notify.Message{
			Trigger: t.Name, Namespace: q.Namespace, Query: q.Name, Phase: q.Status.Phase,
			Summary: q.Status.Summary, Answer: q.Status.Answer,
			Source:         q.Annotations[agentsv1alpha1.AnnotationTriggerSource],
			InvolvedObject: involvedKindName(q.Annotations[agentsv1alpha1.AnnotationInvolvedObject]),
			Requester:      q.Spec.Requester.Username,
			Time:           completion(q),
		})
		outcome = "delivered"
		if !res.Delivered() {
			outcome = "delivery failed"
		}
	}
	return ctrl.Result{}, r.markNotified(ctx, q, outcome)
}

// deliver sends msg to t's notify targets as t's requester and counts the outcome.
func (r *TriggerQueryReconciler) deliver(ctx context.Context, t *agentsv1alpha1.AgentTrigger, msg notify.Message) notify.Result {
	asRequester, err := r.Firer.Users.ClientFor(t.Spec.Requester)
	var res notify.Result
	if err != nil {
		res = notify.Result{Targets: []notify.TargetResult{{Target: "all", Error: err.Error()}}}
	} else {
		res = r.Notifier.Deliver(ctx, asRequester, t.Namespace, t.Spec.Notify, msg)
	}
	r.Firer.Record(t, func(s *engine.Stats) {
		if res.Delivered() {
			s.Deliveries++
			return
		}
		s.FailedDeliveries++
		s.LastDeliveryError = res.Error()
	})
	return res
}

// recordEvent records that the query finished on the object it is about. The Event
// names the query but carries none of its answer: whoever may read Events there need
// not be allowed to read what the requester's agent found.
func (r *TriggerQueryReconciler) recordEvent(q *agentsv1alpha1.AgentQuery, t *agentsv1alpha1.AgentTrigger) {
	var regarding runtime.Object = t
	if ref := involvedReference(q.Annotations[agentsv1alpha1.AnnotationInvolvedObject]); ref != nil {
		regarding = ref
	}
	eventType, reason := corev1.EventTypeNormal, "AgentInvestigated"
	if q.Status.Phase != agentsv1alpha1.QuerySucceeded {
		eventType, reason = corev1.EventTypeWarning, "AgentInvestigationFailed"
	}
	r.Events.Eventf(regarding, q, eventType, reason, "Investigate",
		"kubeask trigger %s investigated as %s: %s (kubectl get agentquery -n %s %s)",
		t.Name, q.Spec.Requester.Username, strings.ToLower(string(q.Status.Phase)), q.Namespace, q.Name)
}

// markNotified annotates q so its answer is never delivered again.
func (r *TriggerQueryReconciler) markNotified(ctx context.Context, q *agentsv1alpha1.AgentQuery, outcome string) error {
	base := q.DeepCopy()
	if q.Annotations == nil {
		q.Annotations = map[string]string{}
	}
	q.Annotations[agentsv1alpha1.AnnotationNotified] = time.Now().UTC().Format(time.RFC3339) + " " + outcome
	if err := r.Client.Patch(ctx, q, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("marking query %s/%s notified: %w", q.Namespace, q.Name, err)
	}
	return nil
}

func ownedByTrigger(q *agentsv1alpha1.AgentQuery, t *agentsv1alpha1.AgentTrigger) bool {
	for _, o := range q.OwnerReferences {
		if o.UID == t.UID {
			return true
		}
	}
	return false
}

func completion(q *agentsv1alpha1.AgentQuery) time.Time {
	if q.Status.CompletionTime != nil {
		return q.Status.CompletionTime.Time
	}
	return time.Now()
}

// involvedReference parses AnnotationInvolvedObject ("apiVersion/kind/namespace/name",
// where apiVersion may hold a slash itself).
func involvedReference(s string) *corev1.ObjectReference {
	parts := strings.Split(s, "/")
	if len(parts) < 4 {
		return nil
	}
	n := len(parts)
	return &corev1.ObjectReference{
		APIVersion: strings.Join(parts[:n-3], "/"), Kind: parts[n-3], Namespace: parts[n-2], Name: parts[n-1],
	}
}

func involvedKindName(s string) string {
	ref := involvedReference(s)
	if ref == nil {
		return ""
	}
	return strings.ToLower(ref.Kind) + "/" + ref.Name
}

// SetupWithManager registers the reconciler for queries created by triggers.
func (r *TriggerQueryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	fromTrigger := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[agentsv1alpha1.LabelTrigger] != ""
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&agentsv1alpha1.AgentQuery{}, builder.WithPredicates(fromTrigger)).
		// Deliveries wait on other people's servers: several at once.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("agenttrigger-notify").
		Complete(r)
}
