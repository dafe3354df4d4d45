// Package ask is the main command of the plugin: `kubectl ask "question"` creates an
// AgentQuery as the user and follows it; with -i it holds a conversation in a session;
// with --all-contexts or --contexts it asks several clusters at once.
package ask

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
)

// Options are the flags and arguments of `kubectl ask`.
type Options struct {
	f *factory.Factory

	Prompt            string
	Session           string
	Model             string
	Profile           string
	Mode              string
	Timeout           time.Duration
	MaxSteps          int32
	Wait              bool
	Output            string
	Interactive       bool
	CancelOnInterrupt bool
	AllContexts       bool
	Contexts          []string

	mode *agentsv1alpha1.Mode
}

// NewOptions returns the defaults.
func NewOptions(f *factory.Factory) *Options { return &Options{f: f, Wait: true} }

// AddFlags binds the options to cmd's local flags.
func (o *Options) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&o.Session, "session", "s", o.Session, "Ask in this AgentSession (created if it does not exist), so that the question sees the session's earlier queries.")
	fs.StringVar(&o.Model, "model", o.Model, "Model to use, by its name in the platform's catalog (default: the session's, else the catalog's).")
	fs.StringVar(&o.Profile, "profile", o.Profile, "Platform profile to use (system prompt, tools, allowed modes).")
	fs.StringVar(&o.Mode, "mode", o.Mode, "What the agent may do with changes: ReadOnly (default), Propose (changes wait for kubectl ask approve) or Auto.")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the agent may work on the query, between 10s and 1h (default: 5m).")
	fs.Int32Var(&o.MaxSteps, "max-steps", o.MaxSteps, "Most tool calls the agent may make, 1 to 100 (default: 20).")
	fs.BoolVar(&o.Wait, "wait", o.Wait, "Follow the query until it is answered; --wait=false prints the query's name and exits.")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Print the final query as json, yaml or name instead of the answer.")
	fs.BoolVarP(&o.Interactive, "interactive", "i", o.Interactive, "Hold a conversation: ask one question after another in one session.")
	fs.BoolVar(&o.CancelOnInterrupt, "cancel-on-interrupt", o.CancelOnInterrupt, "On Ctrl-C, delete (cancel) the query instead of detaching from it.")
	fs.BoolVar(&o.AllContexts, "all-contexts", o.AllContexts, "Ask the same question in the cluster of every kubeconfig context, in parallel.")
	fs.StringSliceVar(&o.Contexts, "contexts", o.Contexts, "Ask the same question in the clusters of these kubeconfig contexts (comma-separated), in parallel.")
}

// Complete takes the question from the arguments ("-" reads it from standard input).
func (o *Options) Complete(args []string) error {
	o.Prompt = strings.TrimSpace(strings.Join(args, " "))
	if o.Prompt == "-" {
		b, err := io.ReadAll(io.LimitReader(o.f.IO.In, agentsv1alpha1.MaxPromptLength+1))
		if err != nil {
			return fmt.Errorf("reading the question from standard input: %w", err)
		}
		o.Prompt = strings.TrimSpace(string(b))
	}
	if o.Mode != "" {
		o.mode = cmdargs.ParseMode(o.Mode)
	}
	return nil
}

// Validate checks everything that can be checked before talking to a cluster.
func (o *Options) Validate() error {
	switch {
	case o.Prompt == "" && !o.Interactive:
		return exitcode.UsageErrorf(`what is the question? e.g. kubectl ask "why is checkout crashing?" (or -i for a conversation)`)
	case len(o.Prompt) > agentsv1alpha1.MaxPromptLength:
		return exitcode.UsageErrorf("the question is %d bytes long; the limit is %d bytes", len(o.Prompt), agentsv1alpha1.MaxPromptLength)
	}
	if err := (cmdargs.QueryFlags{Mode: o.Mode, Timeout: o.Timeout, MaxSteps: o.MaxSteps, Model: o.Model, Profile: o.Profile}).Validate(); err != nil {
		return err
	}
	switch {
	case o.AllContexts && len(o.Contexts) > 0:
		return exitcode.UsageErrorf("use --all-contexts or --contexts, not both")
	case o.CancelOnInterrupt && !o.Wait:
		return exitcode.UsageErrorf("--cancel-on-interrupt needs --wait (there is nothing to interrupt with --wait=false)")
	case o.Interactive && (o.multi() || !o.Wait || o.Output != ""):
		return exitcode.UsageErrorf("-i cannot be combined with --all-contexts, --contexts, --wait=false or -o")
	}
	if o.Session != "" {
		if errs := validation.IsDNS1123Subdomain(o.Session); len(errs) > 0 {
			return exitcode.UsageErrorf("--session %q is not a valid name: %s", o.Session, strings.Join(errs, "; "))
		}
	}
	return output.Validate(o.Output)
}

func (o *Options) multi() bool { return o.AllContexts || len(o.Contexts) > 0 }

// Run asks.
func (o *Options) Run(ctx context.Context) error {
	if o.multi() {
		return o.runMulti(ctx)
	}
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	if o.Interactive {
		return o.runInteractive(ctx, c)
	}
	q, err := o.create(ctx, c, o.Session, o.Prompt, o.f.IO.ErrOut)
	if err != nil {
		return err
	}
	if !o.Wait {
		return o.printCreated(q)
	}
	return follow.Follow(ctx, follow.Terminal{IO: o.f.IO, Interruptible: o.f.Interruptible}, c, q, follow.Options{CancelOnInterrupt: o.CancelOnInterrupt, Output: o.Output})
}

func (o *Options) printCreated(q *agentsv1alpha1.AgentQuery) error {
	if o.Output != "" {
		return output.Print(o.f.IO.Out, o.Output, q)
	}
	fmt.Fprintln(o.f.IO.Out, q.Name)
	if o.f.IO.ErrTTY {
		fmt.Fprintf(o.f.IO.ErrOut, "Follow it with: kubectl ask attach %s -n %s\n", q.Name, q.Namespace)
	}
	return nil
}

// create makes the query (and its session, if it is missing) as the user.
// Progress notes go to notes.
func (o *Options) create(ctx context.Context, c *kube.Client, session, prompt string, notes io.Writer) (*agentsv1alpha1.AgentQuery, error) {
	if session != "" {
		if err := o.ensureSession(ctx, c, session, notes); err != nil {
			return nil, err
		}
	}
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ask-", Namespace: c.Namespace,
			Labels: map[string]string{"app.kubernetes.io/created-by": "kubectl-ask"}},
		Spec: agentsv1alpha1.AgentQuerySpec{Prompt: prompt, Model: o.Model, Profile: o.Profile, Mode: o.mode, MaxSteps: o.MaxSteps},
	}
	if session != "" {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: session}
	}
	if o.Timeout != 0 {
		q.Spec.Timeout = &metav1.Duration{Duration: o.Timeout}
	}
	if err := c.Create(ctx, q); err != nil {
		return nil, c.Explain(err, "create", kube.QueriesResource)
	}
	return q, nil
}

// ensureSession creates the session when it does not exist, with the model, profile
// and mode given on the command line as its defaults.
func (o *Options) ensureSession(ctx context.Context, c *kube.Client, name string, notes io.Writer) error {
	s := &agentsv1alpha1.AgentSession{}
	err := c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) || kube.NotInstalled(err) {
		return c.Explain(err, "get", kube.SessionsResource)
	}
	s = &agentsv1alpha1.AgentSession{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace},
		Spec:       agentsv1alpha1.AgentSessionSpec{Model: o.Model, Profile: o.Profile},
	}
	if o.mode != nil {
		s.Spec.DefaultMode = *o.mode
	}
	if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return c.Explain(err, "create", kube.SessionsResource)
	}
	if o.Output == "" {
		fmt.Fprintf(notes, "Created session %s in namespace %s.\n", name, c.Namespace)
	}
	return nil
}
