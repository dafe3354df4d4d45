package chart_test

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/manager"
)

// TestManagerAcceptsTheChartsArguments parses the manager container's arguments, as
// each rendering passes them, with the manager's own flag set: a flag the chart passes
// but the manager lacks would crash-loop the pod.
func TestManagerAcceptsTheChartsArguments(t *testing.T) {
	renderings := map[string][]string{
		"default": nil,
		"webhook": {"--set", "admission.mode=webhook"},
		"mcp":     {"--set", "mcp.enabled=true"},
		"mcp-public": {"--set", "mcp.enabled=true", "--set", "mcp.publicURL=https://kubeask.example.com",
			"--set", "mcp.authorizationServers={https://issuer.example.com,https://other.example.com}", "--set", "mcp.maxSSEStreams=3"},
		"ui": {"--set", "ui.enabled=true", "--set", "ui.tlsSecretName=ui-tls", "--set", "ui.publicURL=https://kubeask.example.com",
			"--set", "ui.oidc.issuerURL=https://issuer.example.com", "--set", "ui.oidc.clientID=kubernetes", "--set", "ui.audiences={kubeask-ui}"},
		"extras":    {"--set", "impersonation.userExtraKeys={scopes,authentication.kubernetes.io/credential-id}", "--set", "agent.denyGroups={ci-bots}"},
		"read-only": {"--set", "agent.allowedModes={ReadOnly}"},
		"auto":      {"--set", "agent.allowedModes={ReadOnly,Propose,Auto}"},
	}
	// The modes the manager enforces are the ones the chart's RBAC was shaped for.
	wantModes := map[string][]agentsv1alpha1.Mode{
		"read-only": {agentsv1alpha1.ModeReadOnly},
		"auto":      {agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto},
	}
	for name, args := range renderings {
		t.Run(name, func(t *testing.T) {
			objs := render(t, "kubeask", args...)
			d := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
			fs := flag.NewFlagSet("kubeask-manager", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts := manager.NewOptions()
			opts.AddFlags(fs)
			(&zap.Options{}).BindFlags(fs)
			if err := fs.Parse(d.Spec.Template.Spec.Containers[0].Args); err != nil {
				t.Fatalf("the manager rejects the chart's arguments %v: %v", d.Spec.Template.Spec.Containers[0].Args, err)
			}
			opts.Complete()
			if err := opts.Validate(); err != nil {
				t.Fatalf("the chart's arguments do not validate: %v", err)
			}
			if opts.ConfigPath == "" || len(opts.DenyUsers) == 0 || len(opts.ImpersonateExtra) == 0 {
				t.Errorf("options from the chart: config %q, deny users %v, extra %v", opts.ConfigPath, opts.DenyUsers, opts.ImpersonateExtra)
			}
			// The Lease and the webhook Secret the manager uses are the ones the chart creates
			// (and deletes on uninstall): the manager may not create them.
			if opts.LeaderElectionID != one(t, objs, "Lease").GetName() {
				t.Errorf("the manager elects on the Lease %q, not on the chart's", opts.LeaderElectionID)
			}
			if name == "webhook" && opts.WebhookSecret != one(t, objs, "Secret").GetName() {
				t.Errorf("the manager keeps its certificates in the Secret %q, not in the chart's", opts.WebhookSecret)
			}
			// SIGTERM leaves the manager its graceful shutdown, and a tool call in flight
			// finishes and is recorded: the kubelet must not kill it before.
			grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
			if need := opts.GracefulShutdown + agent.ToolTimeout; grace == nil || time.Duration(*grace)*time.Second < need {
				t.Errorf("terminationGracePeriodSeconds %v does not cover --graceful-shutdown-timeout and a tool call (%s)", grace, need)
			}
			// The MCP flags are passed only when set, and reach the manager as given.
			switch name {
			case "mcp-public":
				m := opts.MCP
				if m.PublicURL != "https://kubeask.example.com" || !slices.Equal(m.AuthorizationServers, []string{"https://issuer.example.com", "https://other.example.com"}) || m.MaxSSEStreams != 3 {
					t.Errorf("MCP options from the chart: public URL %q, authorization servers %v, SSE streams %d", m.PublicURL, m.AuthorizationServers, m.MaxSSEStreams)
				}
			default:
				for _, a := range d.Spec.Template.Spec.Containers[0].Args {
					if strings.HasPrefix(a, "--mcp-public-url") || strings.HasPrefix(a, "--mcp-authorization-server") || strings.HasPrefix(a, "--mcp-max-sse-streams") {
						t.Errorf("rendering %s passes %s, which its values do not set", name, a)
					}
				}
			}
			want, ok := wantModes[name]
			if !ok {
				want = []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose} // values.yaml
			}
			if !slices.Equal(opts.AllowedModes, want) {
				t.Errorf("the manager allows modes %v, want agent.allowedModes %v", opts.AllowedModes, want)
			}
		})
	}
}
