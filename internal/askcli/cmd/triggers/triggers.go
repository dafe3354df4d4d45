// Package triggers is `kubectl ask triggers`: list the namespace's AgentTriggers, show
// one with the queries it created, suspend, resume or delete one. Creating them is
// `kubectl ask on` and `kubectl ask every` (package newtrigger).
package triggers

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/cmd/get"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
)

// NewCmd builds `triggers` and its subcommands.
func NewCmd(f *factory.Factory) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "triggers",
		Aliases: []string{"trigger"},
		Short:   "List triggers (what fires them, who they act as, how often they fired)",
		Long: `List the AgentTriggers of the namespace. A trigger makes the agent investigate on a
schedule, on Warning events or on alerts, always as the trigger's requester (the person
who created it). Create them with 'kubectl ask on' and 'kubectl ask every'.`,
		Example: `  kubectl ask triggers
  kubectl ask triggers show crashloop-x7k2p
  kubectl ask triggers suspend crashloop-x7k2p
  kubectl ask triggers resume crashloop-x7k2p
  kubectl ask triggers delete crashloop-x7k2p`,
		Args: cmdargs.Exactly(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.Validate(out); err != nil {
				return err
			}
			return list(cmd.Context(), f, out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "Output format: json, yaml or name.")
	cmd.AddCommand(newCmdShow(f), newCmdSuspend(f, true), newCmdSuspend(f, false), newCmdDelete(f))
	return cmd
}

func list(ctx context.Context, f *factory.Factory, format string) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	l := &agentsv1alpha1.AgentTriggerList{}
	if err := c.List(ctx, l, client.InNamespace(c.Namespace)); err != nil {
		return c.Explain(err, "list", kube.TriggersResource)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	if format != "" {
		return output.Print(f.IO.Out, format, l)
	}
	if len(l.Items) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "No triggers in namespace %s. Create one with: kubectl ask on crashloop \"why is {{.Object}} crash-looping?\"\n", c.Namespace)
		return nil
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tREQUESTER\tSUSPENDED\tREADY\tFIRED\tLAST FIRE\tAGE")
	for i := range l.Items {
		t := &l.Items[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%d\t%s\t%s\n", t.Name, clip(t.SourceSummary(), 60), requester(t), t.Spec.Suspend,
			Ready(t), t.Status.Fired, lastFire(t), get.Age(t.CreationTimestamp))
	}
	return tw.Flush()
}

func requester(t *agentsv1alpha1.AgentTrigger) string {
	if t.Spec.Requester == nil || t.Spec.Requester.Username == "" {
		return "-"
	}
	return t.Spec.Requester.Username
}

func lastFire(t *agentsv1alpha1.AgentTrigger) string {
	if t.Status.LastFireTime == nil {
		return "-"
	}
	return get.Age(*t.Status.LastFireTime) + " ago"
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
