// Package manager builds and runs kubeask-manager: the controllers, the admission
// webhook (on clusters without admission policies) and, later, the MCP endpoint.
package manager

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	mcpserver "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/webui"
)

// Admission modes: who enforces the requester-stamping rules.
const (
	// AdmissionPolicy: the API server, with the MutatingAdmissionPolicy and
	// ValidatingAdmissionPolicies the chart installs (Kubernetes 1.36+). The manager
	// serves no webhook.
	AdmissionPolicy = "policy"
	// AdmissionWebhook: the manager, as a mutating and a validating webhook with a
	// self-managed CA.
	AdmissionWebhook = "webhook"
)

// Options configure kubeask-manager. They are plain data: AddFlags binds them to a
// flag set, Complete fills defaults from the environment, Validate checks them.
type Options struct {
	Kubeconfig  string
	MetricsAddr string
	ProbeAddr   string
	// PprofAddr serves net/http/pprof (for profiling the operator); "" or "0" disables it.
	PprofAddr               string
	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	Namespace               string
	Admission               string

	WebhookPort       int
	WebhookCertDir    string
	WebhookService    string
	WebhookSecret     string
	WebhookConfigName string
	WebhookHosts      []string

	GracefulShutdown time.Duration
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (client-go's
	// meanings). A leader that cannot renew within RenewDeadline stops; its queries'
	// status writes are fenced anyway (see internal/agent's statusWriter).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration

	// ConfigPath is the platform's model catalog, profiles and limits. Empty runs no
	// agent: queries wait with a condition saying so.
	ConfigPath string
	// AgentWorkers is how many queries run at once.
	AgentWorkers int
	// ToolOutputBytes bounds each tool result given to the model.
	ToolOutputBytes int
	// StatusUpdateInterval is the least time between two progress writes of a query's
	// status (see agent.Agent.StatusInterval).
	StatusUpdateInterval time.Duration
	// StatusUpdateQPS is the budget of progress writes per second shared by all queries.
	StatusUpdateQPS float64
	// AllowedModes are the agent modes this installation runs queries in; a query in
	// another mode fails. The chart passes agent.allowedModes, which also decides the
	// verbs the manager may impersonate: the check holds even where RBAC is broader.
	// Complete fills in every mode when none is given.
	AllowedModes []agentsv1alpha1.Mode
	// ImpersonateExtra are the user-extra keys kept when impersonating a requester.
	ImpersonateExtra []string
	// DenyUsers and DenyGroups are requesters the agent never acts as.
	DenyUsers, DenyGroups []string
	// WatchNamespaces restricts the operator to these namespaces; empty watches all.
	WatchNamespaces []string
	// KubeAPIQPS and KubeAPIBurst bound the manager's requests to the API server, per
	// client: status writes of many concurrent queries need more than client-go's
	// default of 5 per second.
	KubeAPIQPS   float64
	KubeAPIBurst int
	// SeveralPerProcess lets more than one manager run in one process (tests do): it
	// turns off controller-runtime's check that controller names are unique.
	SeveralPerProcess bool
	// KubectlPath is the kubectl binary of the kubectl tool; empty disables that tool.
	KubectlPath string
	// MCP configures the MCP endpoint (--mcp-* flags); disabled by default.
	MCP mcpserver.Options
	// UI configures the web UI (--ui-* flags); disabled by default.
	UI webui.Options
	// Triggers runs the AgentTrigger controllers (and the watch of Warning events).
	Triggers bool
	// AlertsAddr serves the Alertmanager receiver of AgentTriggers; "" or "0" disables it.
	AlertsAddr string
	// Now is the clock of the trigger controllers; nil is time.Now. Tests move it.
	Now func() time.Time
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{ //nolint:gosec // G101: WebhookSecret is the name of a Secret, not a credential
		MetricsAddr:          ":8080",
		ProbeAddr:            ":8081",
		LeaderElectionID:     "kubeask-manager.agents.kubeask.dev",
		Admission:            AdmissionPolicy,
		WebhookPort:          9443,
		WebhookCertDir:       os.TempDir() + "/kubeask-webhook-certs",
		WebhookService:       "kubeask-webhook",
		WebhookSecret:        "kubeask-webhook-certs",
		WebhookConfigName:    "kubeask",
		GracefulShutdown:     30 * time.Second,
		LeaseDuration:        15 * time.Second,
		RenewDeadline:        10 * time.Second,
		RetryPeriod:          2 * time.Second,
		AgentWorkers:         16,
		ToolOutputBytes:      16 << 10,
		StatusUpdateInterval: 500 * time.Millisecond,
		StatusUpdateQPS:      20,
		KubeAPIQPS:           100,
		KubeAPIBurst:         200,
		MCP:                  mcpserver.NewOptions(),
		UI:                   webui.NewOptions(),
		Triggers:             true,
	}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig. Empty: in-cluster config, then $KUBECONFIG.")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "Address of the Prometheus metrics endpoint; 0 disables it.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "Address of /healthz and /readyz.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "Address of net/http/pprof, for profiling; empty or 0 disables it (the default).")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader, so that only one replica runs the controllers.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "Name of the leader-election Lease.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader-election Lease; default --namespace.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "The manager's own namespace; default $POD_NAMESPACE, else kubeask-system.")
	fs.StringVar(&o.Admission, "admission", o.Admission, "Who enforces requester stamping: policy (admission policies, Kubernetes 1.36+) or webhook (served here).")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "Port of the admission webhook server (--admission=webhook).")
	fs.StringVar(&o.WebhookCertDir, "webhook-cert-dir", o.WebhookCertDir, "Directory the webhook serving certificate is written to.")
	fs.StringVar(&o.WebhookService, "webhook-service-name", o.WebhookService, "Service in front of the webhook; its DNS names go into the serving certificate.")
	fs.StringVar(&o.WebhookSecret, "webhook-secret-name", o.WebhookSecret, "Secret in --namespace holding the webhook CA and serving certificate.")
	fs.StringVar(&o.WebhookConfigName, "webhook-configuration-name", o.WebhookConfigName, "Mutating- and ValidatingWebhookConfiguration that receive the CA bundle.")
	fs.Func("webhook-host", "Extra DNS name or IP for the serving certificate (repeatable), e.g. 127.0.0.1 outside a cluster.", appendTo(&o.WebhookHosts))
	fs.DurationVar(&o.GracefulShutdown, "graceful-shutdown-timeout", o.GracefulShutdown, "How long runnables get to stop.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a standby waits after the last renewal before it takes over the leader's Lease.")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "How long the leader keeps trying to renew its Lease before it stops leading.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "How often replicas try to acquire or renew the Lease.")
	fs.StringVar(&o.ConfigPath, "config", o.ConfigPath, "Platform config file: model catalog, profiles, limits. Empty runs no agent.")
	fs.IntVar(&o.AgentWorkers, "agent-workers", o.AgentWorkers, "How many queries the agent runs at once.")
	fs.IntVar(&o.ToolOutputBytes, "tool-output-bytes", o.ToolOutputBytes, "Byte budget of each tool result given to the model.")
	fs.DurationVar(&o.StatusUpdateInterval, "status-update-interval", o.StatusUpdateInterval,
		"Least time between two writes of a query's progress; changes to the cluster and the end of a run are written at once. 0 writes every step as it starts and ends.")
	fs.Float64Var(&o.StatusUpdateQPS, "status-update-qps", o.StatusUpdateQPS,
		"Progress writes per second shared by all queries, so that many queries at once do not spend the API server on progress; changes to the cluster and the end of a run are written at once and not counted. 0: no limit.")
	fs.Func("allowed-mode", "An agent mode queries may run in: ReadOnly, Propose or Auto (repeatable); default all three. A query in another mode fails.", func(s string) error {
		o.AllowedModes = append(o.AllowedModes, agentsv1alpha1.Mode(s))
		return nil
	})
	fs.Func("impersonate-extra", "A user-extra key kept when impersonating a requester (repeatable).", appendTo(&o.ImpersonateExtra))
	fs.Func("deny-user", "A username the agent never acts as, e.g. a GitOps controller's service account (repeatable).", appendTo(&o.DenyUsers))
	fs.Func("deny-group", "A group whose members the agent never acts as (repeatable).", appendTo(&o.DenyGroups))
	fs.Func("watch-namespace", "Only serve queries and sessions in this namespace (repeatable); default all.", appendTo(&o.WatchNamespaces))
	fs.Float64Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second to the API server, per client.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of requests to the API server, per client.")
	fs.StringVar(&o.KubectlPath, "kubectl-path", o.KubectlPath, "kubectl binary for the kubectl tool; empty disables the tool.")
	fs.BoolVar(&o.Triggers, "triggers", o.Triggers, "Run AgentTriggers: create their queries as their authors, watching Warning events for event triggers.")
	fs.StringVar(&o.AlertsAddr, "alerts-bind-address", o.AlertsAddr, "Address of the Alertmanager receiver of AgentTriggers (/alerts/<namespace>/<trigger>); empty or 0 disables it (the default).")
	o.MCP.AddFlags(fs)
	o.UI.AddFlags(fs)
}

func appendTo(list *[]string) func(string) error {
	return func(s string) error {
		*list = append(*list, s)
		return nil
	}
}

// Complete fills what the flags left empty from the environment.
func (o *Options) Complete() {
	if o.Namespace == "" {
		o.Namespace = os.Getenv("POD_NAMESPACE")
	}
	if o.Namespace == "" {
		o.Namespace = "kubeask-system"
	}
	if o.LeaderElectionNamespace == "" {
		o.LeaderElectionNamespace = o.Namespace
	}
	if len(o.AllowedModes) == 0 {
		o.AllowedModes = allModes()
	}
}

// allModes returns the agent modes, in the order of increasing trust.
func allModes() []agentsv1alpha1.Mode {
	return []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto}
}

// Validate reports every invalid option at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Admission != AdmissionPolicy && o.Admission != AdmissionWebhook {
		errs = append(errs, fmt.Errorf("--admission must be %q or %q, not %q", AdmissionPolicy, AdmissionWebhook, o.Admission))
	}
	if o.WebhookPort <= 0 || o.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port %d is not a port", o.WebhookPort))
	}
	if o.Admission == AdmissionWebhook && (o.WebhookSecret == "" || o.WebhookCertDir == "") {
		errs = append(errs, errors.New("--admission=webhook needs --webhook-secret-name and --webhook-cert-dir"))
	}
	if o.AgentWorkers <= 0 {
		errs = append(errs, fmt.Errorf("--agent-workers must be positive, not %d", o.AgentWorkers))
	}
	if len(o.AllowedModes) == 0 {
		errs = append(errs, errors.New("--allowed-mode: no mode is allowed (run Complete, or pass at least one of ReadOnly, Propose, Auto)"))
	}
	for _, m := range o.AllowedModes {
		if !slices.Contains(allModes(), m) {
			errs = append(errs, fmt.Errorf("--allowed-mode %q is not a mode (want ReadOnly, Propose or Auto)", m))
		}
	}
	if o.StatusUpdateInterval < 0 || o.StatusUpdateInterval > time.Minute {
		errs = append(errs, fmt.Errorf("--status-update-interval must be between 0 and 1m, not %s", o.StatusUpdateInterval))
	}
	if o.StatusUpdateQPS < 0 {
		errs = append(errs, fmt.Errorf("--status-update-qps must not be negative, not %g", o.StatusUpdateQPS))
	}
	if o.ToolOutputBytes < 1024 {
		errs = append(errs, fmt.Errorf("--tool-output-bytes must be at least 1024, not %d", o.ToolOutputBytes))
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst <= 0 {
		errs = append(errs, errors.New("--kube-api-qps and --kube-api-burst must be positive"))
	}
	if o.GracefulShutdown < 0 {
		errs = append(errs, errors.New("--graceful-shutdown-timeout must not be negative"))
	}
	// client-go's own rule (leaderelection.NewLeaderElector), checked here so that a bad
	// value is a flag error rather than a failure after start.
	if o.LeaderElect && !(o.LeaseDuration > o.RenewDeadline && o.RenewDeadline > time.Duration(1.2*float64(o.RetryPeriod)) && o.RetryPeriod > 0) {
		errs = append(errs, fmt.Errorf("leader election needs --leader-elect-lease-duration (%s) > --leader-elect-renew-deadline (%s) > 1.2 × --leader-elect-retry-period (%s) > 0",
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod))
	}
	if !o.Triggers && o.AlertsAddr != "" && o.AlertsAddr != "0" {
		errs = append(errs, errors.New("--alerts-bind-address needs --triggers"))
	}
	if err := o.MCP.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.UI.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// webhookHosts are the serving certificate's names: the Service's DNS names and the
// extra hosts.
func (o *Options) webhookHosts() []string {
	var hosts []string
	if o.WebhookService != "" {
		hosts = append(hosts,
			fmt.Sprintf("%s.%s.svc", o.WebhookService, o.Namespace),
			fmt.Sprintf("%s.%s.svc.cluster.local", o.WebhookService, o.Namespace))
	}
	return append(hosts, o.WebhookHosts...)
}
