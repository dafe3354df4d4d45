// Package sessions is `kubectl ask sessions`: list sessions, show one's conversation,
// delete one.
package sessions

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/cmd/get"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// NewCmd builds `sessions` and its subcommands.
func NewCmd(f *factory.Factory) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "sessions",
		Aliases: []string{"session"},
		Short:   "List sessions (model, mode, participants, last activity)",
		Args:    cmdargs.Exactly(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.Validate(out); err != nil {
				return err
			}
			return list(cmd.Context(), f, out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "Output format: json, yaml or name.")
	// `sessions list` is what many expect from other CLIs: the same as `sessions`.
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List sessions, as `kubectl ask sessions` does",
		Args:  cmdargs.Exactly(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.Validate(out); err != nil {
				return err
			}
			return list(cmd.Context(), f, out)
		},
	}
	listCmd.Flags().StringVarP(&out, "output", "o", "", "Output format: json, yaml or name.")
	cmd.AddCommand(
		listCmd,
		&cobra.Command{
			Use:   "show NAME",
			Short: "Show a session's conversation: who asked what, and the answers",
			Args:  cmdargs.Exactly("NAME"),
			RunE:  func(cmd *cobra.Command, args []string) error { return show(cmd.Context(), f, args[0]) },
		},
		&cobra.Command{
			Use:   "delete NAME",
			Short: "Delete a session (its queries go with it)",
			Args:  cmdargs.Exactly("NAME"),
			RunE:  func(cmd *cobra.Command, args []string) error { return remove(cmd.Context(), f, args[0]) },
		},
	)
	return cmd
}

func list(ctx context.Context, f *factory.Factory, format string) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	l := &agentsv1alpha1.AgentSessionList{}
	if err := c.List(ctx, l, client.InNamespace(c.Namespace)); err != nil {
		return c.Explain(err, "list", kube.SessionsResource)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	if format != "" {
		return output.Print(f.IO.Out, format, l)
	}
	if len(l.Items) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "No sessions in namespace %s.\n", c.Namespace)
		return nil
	}
	// A session that names no model runs its queries with the catalog's default; the
	// operator records the model each query got, so the newest query says which.
	effective := map[string]string{}
	queries := &agentsv1alpha1.AgentQueryList{}
	if err := c.List(ctx, queries, client.InNamespace(c.Namespace)); err == nil {
		effective = EffectiveModels(queries.Items)
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMODEL\tMODE\tQUERIES\tPARTICIPANTS\tLAST ACTIVITY\tAGE")
	for _, s := range l.Items {
		last := "-"
		if s.Status.LastActivityTime != nil {
			last = get.Age(*s.Status.LastActivityTime) + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, modelColumn(s.Spec.Model, effective[s.Name]), or(string(s.Spec.DefaultMode), "ReadOnly"),
			s.Status.Queries, or(strings.Join(s.Status.Participants, ","), "-"), last, get.Age(s.CreationTimestamp))
	}
	return tw.Flush()
}

func show(ctx context.Context, f *factory.Factory, name string) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	s := &agentsv1alpha1.AgentSession{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s); err != nil {
		return c.Explain(err, "get", kube.SessionsResource)
	}
	l := &agentsv1alpha1.AgentQueryList{}
	if err := c.List(ctx, l, client.InNamespace(c.Namespace)); err != nil {
		return c.Explain(err, "list", kube.QueriesResource)
	}
	var turns []agentsv1alpha1.AgentQuery
	for _, q := range l.Items {
		if q.Spec.SessionRef != nil && q.Spec.SessionRef.Name == name {
			turns = append(turns, q)
		}
	}
	sort.SliceStable(turns, func(i, j int) bool { return earlier(&turns[i], &turns[j]) })
	io := f.IO
	st := render.Style{Color: io.OutTTY && io.Color}
	fmt.Fprintf(io.Out, "%s %s (model %s, mode %s, participants: %s)\n", st.Bold("Session"), s.Name,
		modelColumn(s.Spec.Model, EffectiveModels(turns)[s.Name]), or(string(s.Spec.DefaultMode), "ReadOnly"), or(strings.Join(s.Status.Participants, ", "), "none yet"))
	if len(turns) == 0 {
		fmt.Fprintln(io.Out, "No questions yet. Ask with: kubectl ask -s "+name+" \"…\"")
		return nil
	}
	for _, q := range turns {
		who := "someone"
		if q.Spec.Requester != nil {
			who = q.Spec.Requester.Username
		}
		fmt.Fprintf(io.Out, "\n%s %s %s\n", st.Cyan(who+" asked"), st.Dim("("+get.Age(q.CreationTimestamp)+" ago, "+q.Name+"):"), q.Spec.Prompt)
		switch q.Status.Phase {
		case agentsv1alpha1.QuerySucceeded:
			follow.Answer(io, q.Status.Answer)
		case agentsv1alpha1.QueryFailed, agentsv1alpha1.QueryCancelled:
			reason, msg := follow.Failure(q.DeepCopy())
			fmt.Fprintf(io.Out, "%s (%s): %s\n", q.Status.Phase, reason, msg)
		default:
			fmt.Fprintf(io.Out, "(%s)\n", or(string(q.Status.Phase), "Pending"))
		}
	}
	return nil
}

func remove(ctx context.Context, f *factory.Factory, name string) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	s := &agentsv1alpha1.AgentSession{}
	s.Name, s.Namespace = name, c.Namespace
	if err := c.Delete(ctx, s); err != nil {
		return c.Explain(err, "delete", kube.SessionsResource)
	}
	fmt.Fprintf(f.IO.Out, "agentsession.agents.kubeask.dev %q deleted\n", name)
	return nil
}

// earlier orders a session's queries as they were asked. Timestamps have a one-second
// resolution; within a second, the one that finished first (then the one last written
// first: etcd revisions grow) comes first, which is the order of a conversation.
func earlier(a, b *agentsv1alpha1.AgentQuery) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	ac, bc := a.Status.CompletionTime, b.Status.CompletionTime
	if ac != nil && bc != nil && !ac.Equal(bc) {
		return ac.Before(bc)
	}
	ar, aerr := strconv.ParseUint(a.ResourceVersion, 10, 64)
	br, berr := strconv.ParseUint(b.ResourceVersion, 10, 64)
	return aerr == nil && berr == nil && ar < br
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// EffectiveModels maps each session to the model its newest accepted query runs with
// (status.model, decided by the operator when it accepted the query).
func EffectiveModels(queries []agentsv1alpha1.AgentQuery) map[string]string {
	out := map[string]string{}
	newest := map[string]metav1.Time{}
	for _, q := range queries {
		ref := q.Spec.SessionRef
		if ref == nil || ref.Name == "" || q.Status.Model == "" {
			continue
		}
		if t, ok := newest[ref.Name]; ok && q.CreationTimestamp.Before(&t) {
			continue
		}
		newest[ref.Name], out[ref.Name] = q.CreationTimestamp, q.Status.Model
	}
	return out
}

// modelColumn is the session's model, or the default's name when it names none and a
// query already ran ("demo (default)").
func modelColumn(spec, effective string) string {
	switch {
	case spec != "":
		return spec
	case effective != "":
		return effective + " (default)"
	}
	return "(default)"
}
