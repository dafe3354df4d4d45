// Package get is `kubectl ask get [QUERY]`: list the namespace's queries, or show one.
package get

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// Options of get.
type Options struct {
	f       *factory.Factory
	Query   string
	Session string
	Output  string
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f}
	cmd := &cobra.Command{
		Use:   "get [QUERY]",
		Short: "List queries, or show one with its steps and answer",
		Example: `  kubectl ask get
  kubectl ask get ask-x7k2p
  kubectl ask get ask-x7k2p -o json`,
		Args: cmdargs.AtMost(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Query = args[0]
			}
			if err := output.Validate(o.Output); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json, yaml or name.")
	cmd.Flags().StringVar(&o.Session, "session", "", "List only the queries of this session.")
	return cmd
}

// Run lists or shows.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	if o.Query != "" {
		q := &agentsv1alpha1.AgentQuery{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: o.Query}, q); err != nil {
			return c.Explain(err, "get", kube.QueriesResource)
		}
		if o.Output != "" {
			return output.Print(o.f.IO.Out, o.Output, q)
		}
		Describe(o.f, q)
		return nil
	}
	list := &agentsv1alpha1.AgentQueryList{}
	if err := c.List(ctx, list, client.InNamespace(c.Namespace)); err != nil {
		return c.Explain(err, "list", kube.QueriesResource)
	}
	if o.Session != "" {
		kept := list.Items[:0]
		for _, q := range list.Items {
			if q.Spec.SessionRef != nil && q.Spec.SessionRef.Name == o.Session {
				kept = append(kept, q)
			}
		}
		list.Items = kept
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return list.Items[i].CreationTimestamp.Before(&list.Items[j].CreationTimestamp)
	})
	if o.Output != "" {
		return output.Print(o.f.IO.Out, o.Output, list)
	}
	if len(list.Items) == 0 {
		fmt.Fprintf(o.f.IO.ErrOut, "No queries in namespace %s.\n", c.Namespace)
		return nil
	}
	tw := tabwriter.NewWriter(o.f.IO.Out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSESSION\tREQUESTER\tPHASE\tAGE\tSUMMARY")
	for _, q := range list.Items {
		session, requester := "", ""
		if q.Spec.SessionRef != nil {
			session = q.Spec.SessionRef.Name
		}
		if q.Spec.Requester != nil {
			requester = q.Spec.Requester.Username
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", q.Name, dash(session), dash(requester), dash(string(q.Status.Phase)),
			Age(q.CreationTimestamp), clip(q.Status.Summary, 60))
	}
	return tw.Flush()
}

// Describe shows one query for a person: what was asked, by whom, the steps, the outcome.
func Describe(f *factory.Factory, q *agentsv1alpha1.AgentQuery) {
	s := f.IO
	st := render.Style{Color: s.OutTTY && s.Color}
	tw := tabwriter.NewWriter(s.Out, 0, 0, 1, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", st.Bold(k+":"), v)
		}
	}
	row("Name", q.Name)
	row("Namespace", q.Namespace)
	if q.Spec.SessionRef != nil {
		row("Session", q.Spec.SessionRef.Name)
	}
	if q.Spec.Requester != nil {
		row("Requester", q.Spec.Requester.Username)
	}
	row("Phase", string(q.Status.Phase))
	row("Model", q.Status.Model)
	row("Mode", string(q.Status.Mode))
	row("Age", Age(q.CreationTimestamp))
	if u := q.Status.Usage; u.LLMCalls > 0 {
		row("Usage", fmt.Sprintf("%d model calls, %d tool calls, %d+%d tokens", u.LLMCalls, u.ToolCalls, u.InputTokens, u.OutputTokens))
	}
	row("Prompt", render.OneLine(q.Spec.Prompt))
	_ = tw.Flush()
	if len(q.Status.Steps) > 0 {
		fmt.Fprintln(s.Out, st.Bold("Steps:"))
		for _, step := range q.Status.Steps {
			fmt.Fprintln(s.Out, "  "+strings.ReplaceAll(render.StepLine(st, step, s.Width-2), "\n", "\n  "))
		}
	}
	switch q.Status.Phase {
	case agentsv1alpha1.QuerySucceeded:
		fmt.Fprintln(s.Out, st.Bold("Answer:"))
		follow.Answer(s, q.Status.Answer)
	case agentsv1alpha1.QueryFailed, agentsv1alpha1.QueryCancelled:
		reason, msg := follow.Failure(q)
		fmt.Fprintf(s.Out, "%s %s: %s\n", st.Bold("Failure:"), reason, msg)
	case agentsv1alpha1.QueryAwaitingApproval:
		fmt.Fprintf(s.Out, "%s kubectl ask approve %s -n %s (or deny)\n", st.Bold("Waiting for your decision:"), q.Name, q.Namespace)
	}
}

// Age is kubectl's age of an object ("5m", "2d3h").
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
