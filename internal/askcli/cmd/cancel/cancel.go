// Package cancel is `kubectl ask cancel QUERY`: ask the operator to stop a query, as
// the user, by setting its spec.cancel.
package cancel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// Options of cancel.
type Options struct {
	f     *factory.Factory
	Query string
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f}
	return &cobra.Command{
		Use:   "cancel QUERY",
		Short: "Stop a query: it ends Cancelled and runs nothing more",
		Long: `Stop a query: it ends Cancelled and runs nothing more.

This sets spec.cancel on the query, as you; the operator stops the run after the tool
call in flight (a change being made is finished and recorded, never cut off), and a
query waiting for approval or still pending never runs again. A cancel cannot be undone:
ask again with a new query. Only the query's requester may cancel it; the API server
enforces it. The query and its steps stay, to read with kubectl ask get.

Exit codes: 0 the query is cancelled or will be (also when it already was), 1 it could
not be: not found, refused (RBAC, or you are not its requester), or already finished
(Succeeded or Failed).`,
		Example: `  kubectl ask cancel ask-x7k2p
  kubectl ask cancel -n team-a ask-x7k2p`,
		Args: cmdargs.Exactly("QUERY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
}

// Complete takes the query's name from the arguments.
func (o *Options) Complete(args []string) { o.Query = strings.TrimSpace(args[0]) }

// Validate refuses an empty name before anything is sent.
func (o *Options) Validate() error {
	if o.Query == "" {
		return exitcode.UsageErrorf("kubectl ask cancel needs the name of a QUERY; list them with: kubectl ask get")
	}
	return nil
}

// errFinished stops the retry loop when the query ended before it could be cancelled.
var errFinished = errors.New("query finished")

// Run sets spec.cancel, unless the query already ended.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: c.Namespace, Name: o.Query}
	q := &agentsv1alpha1.AgentQuery{}
	verb := "get"
	// The patch names the resourceVersion it was decided on, so a query that finishes
	// between the read and the write is read again and reported as finished rather
	// than marked cancelled after the fact.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		verb = "get"
		q = &agentsv1alpha1.AgentQuery{}
		if err := c.Get(ctx, key, q); err != nil {
			return err
		}
		if q.Status.Phase.Finished() || q.Spec.Cancel {
			return errFinished
		}
		verb = "patch"
		before := q.DeepCopy()
		q.Spec.Cancel = true
		return c.Patch(ctx, q, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	s := o.f.IO
	switch {
	case errors.Is(err, errFinished):
		return o.alreadyStopping(q)
	case apierrors.IsNotFound(err) && !kube.NotInstalled(err):
		return exitcode.Newf(exitcode.Failed, "query %s not found in namespace %s; list the queries with: kubectl ask get -n %s", o.Query, c.Namespace, c.Namespace)
	case err != nil:
		return c.Explain(err, verb, kube.QueriesResource)
	}
	fmt.Fprintf(s.Out, "agentquery.agents.kubeask.dev %q cancelled\n", q.Name)
	fmt.Fprintf(s.ErrOut, "Query %s (%s, %s) is cancelled: %s\n", q.Name, render.OneLine(q.Spec.Prompt), phase(q), whatHappens(q))
	return nil
}

// alreadyStopping reports a query that ended, or was cancelled, before this command.
func (o *Options) alreadyStopping(q *agentsv1alpha1.AgentQuery) error {
	switch {
	case q.Status.Phase == agentsv1alpha1.QueryCancelled:
		fmt.Fprintf(o.f.IO.ErrOut, "Query %s is already Cancelled.\n", q.Name)
		return nil
	case q.Status.Phase.Finished():
		return exitcode.Newf(exitcode.Failed, "query %s already %s; nothing to cancel", q.Name, q.Status.Phase)
	}
	fmt.Fprintf(o.f.IO.ErrOut, "Query %s (%s) was already cancelled: %s\n", q.Name, phase(q), whatHappens(q))
	return nil
}

// phase names a query's phase for people: a query nobody has picked up yet has none.
func phase(q *agentsv1alpha1.AgentQuery) string {
	if q.Status.Phase == "" {
		return string(agentsv1alpha1.QueryPending)
	}
	return string(q.Status.Phase)
}

// whatHappens says what the operator does with a cancelled query in its phase.
func whatHappens(q *agentsv1alpha1.AgentQuery) string {
	if q.Status.Phase == agentsv1alpha1.QueryRunning {
		return "the run stops after the tool call in flight (a change being made is finished and recorded), then the query ends Cancelled."
	}
	return "it runs nothing more and ends Cancelled."
}
