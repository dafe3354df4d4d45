// Package attach is `kubectl ask attach QUERY`: follow a query that already exists, as
// `kubectl ask` would have, e.g. after --wait=false or a detach.
package attach

import (
	"context"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
)

// Options of attach.
type Options struct {
	f                 *factory.Factory
	Query             string
	Output            string
	CancelOnInterrupt bool
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f}
	cmd := &cobra.Command{
		Use:   "attach QUERY",
		Short: "Follow a query: its steps as they happen, then its answer",
		Example: `  q=$(kubectl ask --wait=false "why is checkout slow?")
  kubectl ask attach "$q"`,
		Args: cmdargs.Exactly("QUERY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Query = args[0]
			if err := output.Validate(o.Output); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Print the final query as json, yaml or name instead of the answer.")
	cmd.Flags().BoolVar(&o.CancelOnInterrupt, "cancel-on-interrupt", false, "On Ctrl-C, delete (cancel) the query instead of detaching from it.")
	return cmd
}

// Run follows the query.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	q := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: o.Query}, q); err != nil {
		return c.Explain(err, "get", kube.QueriesResource)
	}
	return follow.Follow(ctx, follow.Terminal{IO: o.f.IO, Interruptible: o.f.Interruptible}, c, q, follow.Options{CancelOnInterrupt: o.CancelOnInterrupt, Output: o.Output})
}
