package manager

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	admissionwebhook "github.com/kubeask/kubeask/internal/admission/webhook"
	"github.com/kubeask/kubeask/internal/certs"
	"github.com/kubeask/kubeask/internal/controller"
	"github.com/kubeask/kubeask/internal/version"
)

// NewScheme returns the scheme the manager uses: built-in types and the kubeask API.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := agentsv1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// RESTConfig loads the manager's own credentials: --kubeconfig, else in-cluster, else
// $KUBECONFIG and ~/.kube/config.
func (o *Options) RESTConfig() (*rest.Config, error) {
	if o.Kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
}

// Run runs the manager until ctx ends.
func (o *Options) Run(ctx context.Context, cfg *rest.Config) error {
	logger := log.FromContext(ctx)
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = float32(o.KubeAPIQPS), o.KubeAPIBurst
	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	mgrOpts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.ProbeAddr,
		PprofBindAddress:              o.PprofAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.LeaseDuration,
		RenewDeadline:                 &o.RenewDeadline,
		RetryPeriod:                   &o.RetryPeriod,
		GracefulShutdownTimeout:       &o.GracefulShutdown,
		// The cache holds only what the controllers watch (kubeask's own kinds). Secrets
		// and everything read on a user's behalf go straight to the API server.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	}
	if o.Triggers {
		// Event triggers watch Warning events only: the operator's view of events stays
		// a fraction of the cluster's.
		mgrOpts.Cache.ByObject = map[client.Object]cache.ByObject{
			&corev1.Event{}: {Field: fields.OneTermEqualSelector("type", corev1.EventTypeWarning)},
		}
	}
	if o.SeveralPerProcess {
		mgrOpts.Controller.SkipNameValidation = &o.SeveralPerProcess
	}
	if len(o.WatchNamespaces) > 0 {
		mgrOpts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.WatchNamespaces {
			mgrOpts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	var rotator *certs.Rotator
	if o.Admission == AdmissionWebhook {
		mgrOpts.WebhookServer = webhook.NewServer(webhook.Options{Port: o.WebhookPort, CertDir: o.WebhookCertDir})
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	if o.Admission == AdmissionWebhook {
		// The serving certificate must exist before the webhook server starts, so it is
		// prepared now with a direct client; the rotator then injects the CA bundle and
		// renews the certificate.
		direct, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		rotator = &certs.Rotator{
			Reader: direct, Writer: direct,
			Namespace: o.Namespace, SecretName: o.WebhookSecret,
			Hosts: o.webhookHosts(), CertDir: o.WebhookCertDir,
			WebhookConfigName: o.WebhookConfigName,
		}
		if err := rotator.PrepareFiles(ctx); err != nil {
			return fmt.Errorf("preparing webhook certificates: %w", err)
		}
		if err := mgr.Add(rotator); err != nil {
			return err
		}
		srv := mgr.GetWebhookServer()
		srv.Register(admissionwebhook.MutatePath, &webhook.Admission{Handler: admissionwebhook.Stamper{}})
		srv.Register(admissionwebhook.ValidatePath, &webhook.Admission{Handler: &admissionwebhook.Validator{Client: direct}})
		if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
			return err
		}
	}

	sh, err := o.newShared(cfg)
	if err != nil {
		return err
	}
	a, pool, err := o.newAgent(mgr, cfg, sh)
	if err != nil {
		return err
	}
	if pool == nil {
		logger.Info("no --config given: no agent runs, queries wait")
	}
	if err := (&controller.AgentQueryReconciler{Client: mgr.GetClient(), Agents: pool}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the AgentQuery controller: %w", err)
	}
	cat := sh.catalog
	if a != nil {
		if err := mgr.Add(&catalogPublisher{Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(), Namespace: o.Namespace, Public: cat.Public(o.AllowedModes)}); err != nil {
			return err
		}
	}
	// The session controller reads the catalog and the allowed modes to say whether a
	// session is Ready.
	if err := (&controller.AgentSessionReconciler{Client: mgr.GetClient(), Catalog: cat, AllowedModes: o.AllowedModes}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the AgentSession controller: %w", err)
	}
	if o.Triggers {
		if err := o.addTriggers(mgr, cat, sh.ids); err != nil {
			return err
		}
	}
	if err := o.addMCP(ctx, mgr, cfg, sh); err != nil {
		return err
	}
	if err := o.addUI(ctx, mgr, cfg, sh); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	logger.Info("starting kubeask-manager", "version", version.String(), "admission", o.Admission, "namespace", o.Namespace, "leaderElection", o.LeaderElect)
	return mgr.Start(ctx)
}
