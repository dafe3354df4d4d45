// Package logs is `kubectl ask logs QUERY`: every step of a query in full.
package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// Options of logs.
type Options struct {
	f     *factory.Factory
	Query string
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f}
	return &cobra.Command{
		Use:     "logs QUERY",
		Short:   "Show every step of a query in full: arguments, output, errors, timing",
		Example: `  kubectl ask logs ask-x7k2p`,
		Args:    cmdargs.Exactly("QUERY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Query = args[0]
			return o.Run(cmd.Context())
		},
	}
}

// Run prints the steps.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	q := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: o.Query}, q); err != nil {
		return c.Explain(err, "get", kube.QueriesResource)
	}
	s := o.f.IO
	st := render.Style{Color: s.OutTTY && s.Color}
	fmt.Fprintf(s.Out, "%s %s\n", st.Bold("Prompt:"), q.Spec.Prompt)
	if len(q.Status.Steps) == 0 {
		fmt.Fprintf(s.Out, "No steps yet (phase %s).\n", q.Status.Phase)
		return nil
	}
	for _, step := range q.Status.Steps {
		fmt.Fprintln(s.Out)
		head := fmt.Sprintf("%s %s %s", st.Bold(step.ID), step.Tool, step.State)
		if !step.ReadOnly {
			head += st.Yellow(" (changes the cluster)")
		}
		if step.StartTime != nil {
			head += st.Dim(" started " + step.StartTime.Format(time.RFC3339))
		}
		if step.Duration != nil {
			head += st.Dim(", took " + step.Duration.Duration.String())
		}
		fmt.Fprintln(s.Out, head)
		fmt.Fprintf(s.Out, "  $ %s\n", render.Command(step.Tool, step.Arguments))
		section(s.Out, st, "arguments", arguments(step.Arguments))
		section(s.Out, st, "output", step.Output)
		section(s.Out, st, "error", step.Error)
		if step.Truncated {
			fmt.Fprintln(s.Out, st.Dim("  (arguments or output were cut to fit the query's status)"))
		}
	}
	fmt.Fprintf(s.Out, "\n%s %s\n", st.Bold("Phase:"), q.Status.Phase)
	return nil
}

func section(w interface{ Write([]byte) (int, error) }, st render.Style, name, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	fmt.Fprintf(w, "  %s\n", st.Dim(name+":"))
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", l)
	}
}

// arguments pretty-prints the JSON arguments, showing a manifest as the YAML it is.
func arguments(raw string) string {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return raw
	}
	manifest, _ := m["manifest"].(string)
	delete(m, "manifest")
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return raw
	}
	out := string(b)
	if manifest != "" {
		out += "\nmanifest:\n" + manifest
	}
	return out
}
