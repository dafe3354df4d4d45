package triggers

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kube"
)

func newCmdSuspend(f *factory.Factory, suspend bool) *cobra.Command {
	verb, short := "resume", "Resume a suspended trigger"
	if suspend {
		verb, short = "suspend", "Stop a trigger from firing (queries it already created are not touched)"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Long: short + `.

Only spec.suspend changes (a merge patch), so anyone RBAC allows to patch the trigger may
do it, not only its requester: admission lets others suspend or resume a trigger, never
change what it does.`,
		Args: cmdargs.Exactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setSuspend(cmd.Context(), f, args[0], suspend)
		},
	}
}

// setSuspend patches spec.suspend alone. A merge patch rather than an update: it
// carries no other field, so it can neither race with nor overwrite the requester's
// own changes, and the admission rule sees only suspend change.
func setSuspend(ctx context.Context, f *factory.Factory, name string, suspend bool) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	t := &agentsv1alpha1.AgentTrigger{}
	t.Name, t.Namespace = name, c.Namespace
	patch := fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend)
	if err := c.Patch(ctx, t, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return c.Explain(err, "patch", kube.TriggersResource)
	}
	past := map[bool]string{true: "suspended", false: "resumed"}[suspend]
	fmt.Fprintf(f.IO.Out, "agenttrigger.agents.kubeask.dev %q %s\n", name, past)
	return nil
}

func newCmdDelete(f *factory.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a trigger: it stops firing, and the queries it created go with it",
		Args:  cmdargs.Exactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			t := &agentsv1alpha1.AgentTrigger{}
			t.Name, t.Namespace = args[0], c.Namespace
			if err := c.Delete(cmd.Context(), t); err != nil {
				return c.Explain(err, "delete", kube.TriggersResource)
			}
			fmt.Fprintf(f.IO.Out, "agenttrigger.agents.kubeask.dev %q deleted\n", args[0])
			return nil
		},
	}
}
