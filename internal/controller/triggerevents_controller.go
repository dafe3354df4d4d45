package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/kubeask/kubeask/internal/trigger/engine"
)

// TriggerEventReconciler hands Warning events to the event triggers. The manager's
// cache holds Warning events only (a field selector), and an event repeated by its
// source is an update of the same object: the work queue folds a storm of them into
// few reconciles, and the engine's de-duplication does the rest.
type TriggerEventReconciler struct {
	Client client.Client
	Events *engine.Events
}

// Reconcile implements reconcile.Reconciler.
func (r *TriggerEventReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ev := &corev1.Event{}
	if err := r.Client.Get(ctx, req.NamespacedName, ev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, r.Events.Handle(ctx, ev)
}

// SetupWithManager registers the reconciler.
func (r *TriggerEventReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Event{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("agenttrigger-events").
		Complete(r)
}
