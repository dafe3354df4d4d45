// Package approve is `kubectl ask approve` and `kubectl ask deny`: show a query's
// proposed changes exactly, ask for confirmation, record the decision as the user, and
// follow the query to its answer.
package approve

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
	"github.com/kubeask/kubeask/internal/askcli/proposal"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// Options of approve and deny.
type Options struct {
	f       *factory.Factory
	Approve bool
	Query   string
	Steps   []string
	Yes     bool
	Wait    bool
	Output  string
}

// NewCmdApprove builds `approve`.
func NewCmdApprove(f *factory.Factory) *cobra.Command { return newCmd(f, true) }

// NewCmdDeny builds `deny`.
func NewCmdDeny(f *factory.Factory) *cobra.Command { return newCmd(f, false) }

func newCmd(f *factory.Factory, approve bool) *cobra.Command {
	o := &Options{f: f, Approve: approve, Wait: true}
	verb, short := "deny", "Refuse proposed changes of a query (all of them unless steps are named)"
	if approve {
		verb, short = "approve", "Show proposed changes of a query, then approve them (all of them unless steps are named)"
	}
	cmd := &cobra.Command{
		Use:   verb + " QUERY [STEP...]",
		Short: short,
		Long: short + `.

The exact change is shown first: the command with its full arguments, the manifest or
patch, and a diff of the live object against the API server's dry run of the change, both
made with your own credentials. An approval names the digest of the arguments shown, so
it runs exactly them. Only the query's requester may decide; the API server enforces it.`,
		Example: fmt.Sprintf("  kubectl ask %[1]s ask-x7k2p\n  kubectl ask %[1]s ask-x7k2p s2 --yes", verb),
		Args:    cmdargs.AtLeast(1, "a QUERY (and optionally STEP ids)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Query, o.Steps = args[0], args[1:]
			if err := output.Validate(o.Output); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation.")
	cmd.Flags().BoolVar(&o.Wait, "wait", true, "Follow the query after the decision until it stops again.")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Print the final query as json, yaml or name instead of the answer.")
	return cmd
}

func (o *Options) verb() string {
	if o.Approve {
		return "approve"
	}
	return "deny"
}

// Run shows, confirms, decides and follows.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	q := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: o.Query}, q); err != nil {
		return c.Explain(err, "get", kube.QueriesResource)
	}
	undecided := follow.Undecided(q)
	if len(undecided) == 0 {
		return exitcode.Newf(exitcode.Failed, "query %s has no proposed step waiting for a decision (phase %s)", q.Name, q.Status.Phase)
	}
	steps := undecided
	if len(o.Steps) > 0 {
		steps = nil
		for _, id := range o.Steps {
			i := slices.IndexFunc(undecided, func(s agentsv1alpha1.Step) bool { return s.ID == id })
			if i < 0 {
				return exitcode.UsageErrorf("step %q of query %s is not waiting for a decision; these are: %s", id, q.Name, ids(undecided))
			}
			steps = append(steps, undecided[i])
		}
	}
	s := o.f.IO
	st := render.Style{Color: s.ErrTTY && s.Color}
	fmt.Fprintf(s.ErrOut, "Query %s (%s) asks to run:\n", q.Name, render.OneLine(q.Spec.Prompt))
	for _, step := range steps {
		proposal.Show(ctx, c, s.ErrOut, st, step)
	}
	if !o.Yes {
		ok, err := o.confirm(fmt.Sprintf("%s %s of query %s? [y/N] ", capitalize(o.verb()), ids(steps), q.Name))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(s.ErrOut, "Nothing decided.")
			return exitcode.Silent(exitcode.AwaitingApproval)
		}
	}
	var chosen []string
	for _, step := range steps {
		chosen = append(chosen, step.ID)
	}
	// An approval names the digest of the arguments shown above: if they changed since,
	// it approves nothing.
	entries, err := proposal.Entries(steps, o.Approve)
	if err != nil {
		return exitcode.Newf(exitcode.Failed, "%v", err)
	}
	q, err = proposal.Decide(ctx, c, client.ObjectKeyFromObject(q), entries, o.Approve)
	if err != nil {
		return err
	}
	past := map[bool]string{true: "Approved", false: "Denied"}[o.Approve]
	fmt.Fprintf(s.ErrOut, "%s %s of query %s.\n", past, strings.Join(chosen, ", "), q.Name)
	if !o.Wait {
		return nil
	}
	followErr := follow.Follow(ctx, follow.Terminal{IO: o.f.IO, Interruptible: o.f.Interruptible}, c, q, follow.Options{Output: o.Output})
	if !o.Approve {
		return followErr
	}
	// An approved change the API server refused (a 403 for you, an invalid object) is
	// not a success, whatever the model then answered: say so, and exit 1.
	final := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(q), final); err != nil {
		return followErr
	}
	if failed := FailedSteps(final, chosen); len(failed) > 0 {
		for _, step := range failed {
			fmt.Fprintf(s.ErrOut, "%s the approved change %s failed: %s\n    %s\n", st.Red("error:"), step.ID,
				render.OneLine(render.StepResult(step)), render.Command(step.Tool, step.Arguments))
		}
		fmt.Fprintf(s.ErrOut, "%s of query %s did not change the cluster as approved; see kubectl ask logs %s -n %s\n",
			plural(len(failed), "approved change"), q.Name, q.Name, q.Namespace)
		return exitcode.Silent(exitcode.Failed)
	}
	return followErr
}

// FailedSteps returns the steps of q among ids that ran and failed, or whose outcome
// is unknown: the call returned an error (the API server's 403, say), could not run,
// or was interrupted while it changed the cluster.
func FailedSteps(q *agentsv1alpha1.AgentQuery, ids []string) []agentsv1alpha1.Step {
	var out []agentsv1alpha1.Step
	for _, s := range q.Status.Steps {
		if !slices.Contains(ids, s.ID) {
			continue
		}
		switch {
		case s.State == agentsv1alpha1.StepFailed, s.State == agentsv1alpha1.StepUnknown,
			s.State == agentsv1alpha1.StepDone && s.Error != "":
			out = append(out, s)
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "The " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// confirm asks on the terminal (or reads a line from a pipe); no input means no.
func (o *Options) confirm(question string) (bool, error) {
	fmt.Fprint(o.f.IO.ErrOut, question)
	line, err := bufio.NewReader(o.f.IO.In).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(o.f.IO.ErrOut)
		if !o.f.IO.InTTY {
			return false, exitcode.UsageErrorf("no confirmation on standard input: pass --yes to %s without asking", o.verb())
		}
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

func ids(steps []agentsv1alpha1.Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.ID)
	}
	return strings.Join(out, ", ")
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
