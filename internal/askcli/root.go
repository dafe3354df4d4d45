// Package askcli is the kubectl ask plugin: a thin client that creates AgentQuery
// objects with the user's own kubeconfig and follows them. cmd/kubectl-ask only calls
// Main; each command lives in its own package under cmd/, as options with
// Complete, Validate and Run.
package askcli

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubeask/kubeask/internal/askcli/catalogcomplete"
	"github.com/kubeask/kubeask/internal/askcli/cmd/approve"
	"github.com/kubeask/kubeask/internal/askcli/cmd/ask"
	"github.com/kubeask/kubeask/internal/askcli/cmd/attach"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cancel"
	"github.com/kubeask/kubeask/internal/askcli/cmd/get"
	"github.com/kubeask/kubeask/internal/askcli/cmd/logs"
	"github.com/kubeask/kubeask/internal/askcli/cmd/mcpbridge"
	"github.com/kubeask/kubeask/internal/askcli/cmd/newtrigger"
	"github.com/kubeask/kubeask/internal/askcli/cmd/sessions"
	"github.com/kubeask/kubeask/internal/askcli/cmd/triggers"
	"github.com/kubeask/kubeask/internal/askcli/cmd/ui"
	"github.com/kubeask/kubeask/internal/askcli/cmd/version"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
)

// Main runs the plugin with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, s *iostreams.IOStreams) int {
	// controller-runtime's client logs through a process-wide logger and complains on
	// stderr when none is set; the plugin reports errors itself.
	crlog.SetLogger(logr.Discard())
	return Run(ctx, factory.New(s), args)
}

// Run runs the plugin with a given factory (tests pass their own) and returns the exit
// code, having printed any error.
func Run(ctx context.Context, f *factory.Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if msg := exitcode.Message(err); msg != "" {
		fmt.Fprintln(f.IO.ErrOut, "error: "+msg)
	}
	return exitcode.Of(err)
}

// NewCmdRoot builds `kubectl ask` and its subcommands.
func NewCmdRoot(f *factory.Factory) *cobra.Command {
	o := ask.NewOptions(f)
	root := &cobra.Command{
		Use:   "kubectl-ask [flags] QUESTION",
		Short: "Ask the kubeask agent about your cluster, with your own permissions",
		Long: `Ask the kubeask agent about your cluster. The question becomes an AgentQuery
created with your kubeconfig; the operator answers it acting as you, so the agent
sees and does only what you may. Steps are shown as they happen, then the answer.

Exit codes: 0 answered, 1 failed, 2 usage error, 3 awaiting approval,
4 cancelled, timed out or interrupted, 5 kubeask is not installed in the cluster.`,
		Example: `  kubectl ask "why is checkout crashing?"
  kubectl ask -n team-a -s incident-42 "and what changed in the last hour?"
  kubectl ask -i -s incident-42
  kubectl ask --mode Propose "scale checkout to 4"     # then: kubectl ask approve QUERY
  kubectl ask cancel QUERY                             # stop a query; it ends Cancelled
  kubectl ask --all-contexts "is anything crash-looping?"
  kubectl ask on crashloop -n team-a "why is {{.Object}} crash-looping?"   # then: kubectl ask triggers
  kubectl ask every 1h "summarize the warnings in team-a"
  q=$(kubectl ask --wait=false "summarize the warnings in team-a") && kubectl ask attach "$q"`,
		Annotations:       map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ask"},
		Args:              cobra.ArbitraryArgs,
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return exitcode.UsageErrorf("%v; see 'kubectl ask --help'", err)
	})
	addKubeconfigFlags(root.PersistentFlags(), f)
	o.AddFlags(root)

	root.AddCommand(
		get.NewCmd(f),
		logs.NewCmd(f),
		attach.NewCmd(f),
		sessions.NewCmd(f),
		approve.NewCmdApprove(f),
		approve.NewCmdDeny(f),
		cancel.NewCmd(f),
		mcpbridge.NewCmd(f),
		triggers.NewCmd(f),
		newtrigger.NewCmdOn(f),
		newtrigger.NewCmdEvery(f),
		ui.NewCmd(f),
		version.NewCmd(f),
	)
	// --model, --profile and --mode, wherever they are (ask, the trigger commands),
	// complete from the catalog the operator publishes.
	var register func(*cobra.Command)
	register = func(c *cobra.Command) {
		catalogcomplete.Register(c, f.Client)
		for _, sub := range c.Commands() {
			register(sub)
		}
	}
	register(root)
	return root
}

// addKubeconfigFlags adds kubectl's standard flags (--kubeconfig, --context, -n, --as,
// ...) from cli-runtime. kubectl's -s shorthand of --server is dropped: -s is --session
// here, as the issue asks; --server keeps its long form.
func addKubeconfigFlags(fs *pflag.FlagSet, f *factory.Factory) {
	tmp := pflag.NewFlagSet("kubeconfig", pflag.ContinueOnError)
	f.Flags.AddFlags(tmp)
	tmp.VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "server" {
			fl.Shorthand = ""
		}
		fs.AddFlag(fl)
	})
}
