package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kubeask/kubeask/internal/controller"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/trigger/alerts"
	"github.com/kubeask/kubeask/internal/trigger/engine"
	"github.com/kubeask/kubeask/internal/trigger/notify"
)

// addTriggers adds the AgentTrigger controllers and, with --alerts-bind-address, the
// Alertmanager receiver.
func (o *Options) addTriggers(mgr ctrl.Manager, cat *catalog.Catalog, ids *identity.Factory) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	firer := &engine.Firer{
		Client: mgr.GetClient(),
		Users:  engine.Users{Identity: ids, Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()},
		Now:    now,
	}
	triggers := &controller.AgentTriggerReconciler{
		Client: mgr.GetClient(), Firer: firer, Identity: ids,
		AllowAutoMode: cat != nil && cat.Triggers.AllowAutoMode,
	}
	firer.Changed = triggers.Changed
	if err := triggers.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the AgentTrigger controller: %w", err)
	}
	notifier := &notify.Notifier{Client: notify.NewClient()}
	if err := (&controller.TriggerQueryReconciler{
		Client: mgr.GetClient(), Firer: firer, Notifier: notifier, Events: mgr.GetEventRecorder("kubeask-trigger"),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the trigger notification controller: %w", err)
	}
	if err := (&controller.TriggerEventReconciler{
		Client: mgr.GetClient(), Events: &engine.Events{Client: mgr.GetClient(), Firer: firer},
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the trigger event controller: %w", err)
	}
	if o.AlertsAddr == "" || o.AlertsAddr == "0" {
		return nil
	}
	a := &engine.Alerts{Client: mgr.GetClient(), Firer: firer, Notifier: notifier}
	return mgr.Add(&alertsServer{addr: o.AlertsAddr, handler: a.Receiver()})
}

// alertsServer serves the Alertmanager receiver. It runs on every replica, like the
// webhook server: Alertmanager may reach any of them.
type alertsServer struct {
	addr    string
	handler http.Handler
}

var _ manager.LeaderElectionRunnable = (*alertsServer)(nil)

func (s *alertsServer) NeedLeaderElection() bool { return false }

func (s *alertsServer) Start(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle(alerts.PathPrefix, s.handler)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("alerts receiver: %w", err)
	}
	log.FromContext(ctx).Info("serving the Alertmanager receiver", "address", ln.Addr().String(), "path", alerts.PathPrefix+"<namespace>/<trigger>")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
