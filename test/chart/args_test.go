package chart_test

import (
	"flag"
	"io"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

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
		"extras":  {"--set", "impersonation.userExtraKeys={scopes,authentication.kubernetes.io/credential-id}", "--set", "agent.denyGroups={ci-bots}"},
	}
	for name, args := range renderings {
		t.Run(name, func(t *testing.T) {
			d := convert[appsv1.Deployment](t, one(t, render(t, "kubeask", args...), "Deployment"))
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
		})
	}
}
