package triggers

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/cmd/get"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// recentQueries is how many of a trigger's queries show lists, newest first.
const recentQueries = 10

// ShowOptions of `triggers show`.
type ShowOptions struct {
	f      *factory.Factory
	Name   string
	Output string
}

func newCmdShow(f *factory.Factory) *cobra.Command {
	o := &ShowOptions{f: f}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a trigger: what fires it, what it asks, its counters and conditions, and the queries it created",
		Args:  cmdargs.Exactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := output.Validate(o.Output); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Print the trigger as json, yaml or name instead.")
	return cmd
}

// Run shows the trigger.
func (o *ShowOptions) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	t := &agentsv1alpha1.AgentTrigger{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: o.Name}, t); err != nil {
		return c.Explain(err, "get", kube.TriggersResource)
	}
	if o.Output != "" {
		return output.Print(o.f.IO.Out, o.Output, t)
	}
	st := render.Style{Color: o.f.IO.OutTTY && o.f.IO.Color}
	describe(o.f.IO.Out, st, t)
	// Someone may read a trigger without being allowed to read queries: the trigger is
	// still worth showing, so the queries' error is a note, not a failure.
	l := &agentsv1alpha1.AgentQueryList{}
	if err := c.List(ctx, l, client.InNamespace(c.Namespace), client.MatchingLabels{agentsv1alpha1.LabelTrigger: t.Name}); err != nil {
		fmt.Fprintf(o.f.IO.Out, "%s cannot list them: %v\n", st.Bold("Queries:"), c.Explain(err, "list", kube.QueriesResource))
		return nil
	}
	printQueries(o.f.IO.Out, st, l.Items)
	return nil
}

func describe(w io.Writer, st render.Style, t *agentsv1alpha1.AgentTrigger) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", st.Bold(k+":"), v)
		}
	}
	row("Name", t.Name)
	row("Namespace", t.Namespace)
	row("Requester", requester(t)+" (every query it creates runs as this user)")
	row("Source", t.SourceSummary())
	row("Limits", limits(t))
	q := t.Spec.Query
	mode := orDefault(string(q.Mode), string(agentsv1alpha1.ModeReadOnly))
	session := "-"
	if q.SessionRef != nil {
		session = q.SessionRef.Name
	}
	row("Query", fmt.Sprintf("mode %s, model %s, profile %s, session %s", mode, orDefault(q.Model, "(default)"), orDefault(q.Profile, "(default)"), session))
	row("Prompt", render.OneLine(q.Prompt))
	row("Notify", notify(t.Spec.Notify))
	row("Suspended", fmt.Sprint(t.Spec.Suspend))
	s := t.Status
	row("Fired", fmt.Sprintf("%d (skipped: %d by cooldown, %d by limits)", s.Fired, s.SuppressedByCooldown, s.SuppressedByLimit))
	if s.Deliveries > 0 || s.FailedDeliveries > 0 || s.LastDeliveryError != "" {
		row("Deliveries", fmt.Sprintf("%d delivered, %d failed", s.Deliveries, s.FailedDeliveries))
		row("Last delivery error", s.LastDeliveryError)
	}
	if s.LastFireTime != nil {
		row("Last fire", lastFire(t)+" ("+orDefault(s.LastQuery, "-")+")")
	}
	row("Active", strings.Join(s.Active, ", "))
	row("Age", get.Age(t.CreationTimestamp))
	_ = tw.Flush()
	fmt.Fprintln(w, st.Bold("Conditions:"))
	if len(s.Conditions) == 0 {
		fmt.Fprintln(w, "  none yet: no kubeask operator with triggers has looked at this trigger")
	}
	for _, cond := range s.Conditions {
		fmt.Fprintf(w, "  %s=%s (%s): %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	if s.ObservedGeneration != 0 && s.ObservedGeneration < t.Generation {
		fmt.Fprintln(w, "  (the operator has not seen the latest change yet)")
	}
}

func notify(n *agentsv1alpha1.Notify) string {
	if n == nil {
		return ""
	}
	var parts []string
	if n.Webhook != nil {
		parts = append(parts, "webhook (URL in secret "+n.Webhook.URLSecretRef.Name+"/"+n.Webhook.URLSecretRef.Key+")")
	}
	if n.Slack != nil {
		parts = append(parts, "slack (URL in secret "+n.Slack.URLSecretRef.Name+"/"+n.Slack.URLSecretRef.Key+")")
	}
	return strings.Join(parts, ", ")
}

func printQueries(w io.Writer, st render.Style, qs []agentsv1alpha1.AgentQuery) {
	if len(qs) == 0 {
		fmt.Fprintf(w, "%s none yet\n", st.Bold("Queries:"))
		return
	}
	sort.SliceStable(qs, func(i, j int) bool { return qs[j].CreationTimestamp.Before(&qs[i].CreationTimestamp) })
	title := fmt.Sprintf("Queries (%d, newest first):", len(qs))
	if len(qs) > recentQueries {
		title = fmt.Sprintf("Queries (the last %d of %d):", recentQueries, len(qs))
		qs = qs[:recentQueries]
	}
	fmt.Fprintln(w, st.Bold(title))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tPHASE\tAGE\tSUMMARY")
	for _, q := range qs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", q.Name, orDefault(string(q.Status.Phase), "Pending"), get.Age(q.CreationTimestamp), clip(render.OneLine(q.Status.Summary), 60))
	}
	_ = tw.Flush()
}
