// Package newtrigger is `kubectl ask on ...` and `kubectl ask every ...`: commands that
// create the common AgentTriggers with the user's kubeconfig (so admission stamps the
// user as the requester every query of the trigger will run as), or print them as
// manifests for GitOps with --dry-run.
package newtrigger

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
)

// maxPromptTemplate is the CRD's limit on spec.query.prompt.
const maxPromptTemplate = 8192

// The values of --dry-run, as in kubectl.
const (
	dryRunNone   = "none"
	dryRunClient = "client"
	dryRunServer = "server"
)

// Options are what every trigger-creating command shares: the trigger's name, the
// query it creates each time it fires, where answers go, and how to print the result.
type Options struct {
	f *factory.Factory

	Name          string
	Prompt        string
	Session       string
	Model         string
	Profile       string
	Mode          string
	Timeout       time.Duration
	MaxSteps      int32
	NotifyWebhook string
	NotifySlack   string
	DryRun        string
	Output        string

	// prefix names the trigger when --name is not given: the generateName of a created
	// one, the name of a printed manifest (GitOps tools need a fixed name).
	prefix string
	// notes, when set, says after creation what else the user has to do.
	notes func(t *agentsv1alpha1.AgentTrigger) string

	mode           *agentsv1alpha1.Mode
	webhook, slack *agentsv1alpha1.SecretKeySelector
}

func newOptions(f *factory.Factory, prefix string) *Options {
	return &Options{f: f, prefix: prefix, DryRun: dryRunNone}
}

// addFlags binds the shared flags to cmd.
func (o *Options) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.Name, "name", o.Name, "Name of the trigger (default: generated from what fires it, e.g. crashloop-x7k2p; with --dry-run, crashloop).")
	fs.StringVarP(&o.Session, "session", "s", o.Session, "Put the trigger's queries into this AgentSession (created if it does not exist).")
	fs.StringVar(&o.Model, "model", o.Model, "Model of the queries, by its name in the platform's catalog.")
	fs.StringVar(&o.Profile, "profile", o.Profile, "Platform profile of the queries (system prompt, tools, allowed modes).")
	fs.StringVar(&o.Mode, "mode", o.Mode, "What the agent may do with changes: ReadOnly (default) or Propose; Auto only where the platform allows it for triggers.")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the agent may work on each query, between 10s and 1h.")
	fs.Int32Var(&o.MaxSteps, "max-steps", o.MaxSteps, "Most tool calls of each query, 1 to 100.")
	fs.StringVar(&o.NotifyWebhook, "notify-webhook-secret", o.NotifyWebhook, "SECRET/KEY holding the URL of a webhook that receives each answer as JSON (read as you).")
	fs.StringVar(&o.NotifySlack, "notify-slack-secret", o.NotifySlack, "SECRET/KEY holding the URL of a Slack incoming webhook that receives each answer (read as you).")
	fs.StringVar(&o.DryRun, "dry-run", o.DryRun, `"client" (or just --dry-run): print the trigger's manifest without sending it; "server": have the API server validate it as you first, then print it.`)
	fs.Lookup("dry-run").NoOptDefVal = dryRunClient
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Print the created trigger as json, yaml or name instead of its name (--dry-run prints yaml unless told otherwise).")
}

// complete takes the prompt from args ("-" reads it from standard input) and decodes
// the flags.
func (o *Options) complete(args []string) error {
	o.Prompt = strings.TrimSpace(strings.Join(args, " "))
	if o.Prompt == "-" {
		b, err := io.ReadAll(io.LimitReader(o.f.IO.In, maxPromptTemplate+1))
		if err != nil {
			return fmt.Errorf("reading the prompt from standard input: %w", err)
		}
		o.Prompt = strings.TrimSpace(string(b))
	}
	if o.Mode != "" {
		o.mode = cmdargs.ParseMode(o.Mode)
	}
	var err error
	if o.webhook, err = secretRef("--notify-webhook-secret", o.NotifyWebhook); err != nil {
		return err
	}
	o.slack, err = secretRef("--notify-slack-secret", o.NotifySlack)
	return err
}

// validate checks everything that can be checked before talking to a cluster.
func (o *Options) validate() error {
	switch {
	case o.Prompt == "":
		return exitcode.UsageErrorf(`what should the agent be asked each time? e.g. "why is {{.Object}} crash-looping?"`)
	case len(o.Prompt) > maxPromptTemplate:
		return exitcode.UsageErrorf("the prompt is %d bytes long; a trigger's prompt may have at most %d bytes", len(o.Prompt), maxPromptTemplate)
	}
	if err := (cmdargs.QueryFlags{Mode: o.Mode, Timeout: o.Timeout, MaxSteps: o.MaxSteps, Model: o.Model, Profile: o.Profile}).Validate(); err != nil {
		return err
	}
	switch {
	case o.DryRun != dryRunNone && o.DryRun != dryRunClient && o.DryRun != dryRunServer:
		return exitcode.UsageErrorf(`--dry-run must be "none", "client" or "server", not %q`, o.DryRun)
	}
	if err := checkTemplate(o.Prompt); err != nil {
		return exitcode.UsageErrorf("the prompt is not a valid Go template: %v", err)
	}
	for flag, name := range map[string]string{"--name": o.Name, "--session": o.Session} {
		if name == "" {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return exitcode.UsageErrorf("%s %q is not a valid name: %s", flag, name, strings.Join(errs, "; "))
		}
	}
	return output.Validate(o.Output)
}

// query is the template of the queries the trigger creates.
func (o *Options) query() agentsv1alpha1.QueryTemplate {
	q := agentsv1alpha1.QueryTemplate{Prompt: o.Prompt, Model: o.Model, Profile: o.Profile, MaxSteps: o.MaxSteps}
	if o.mode != nil {
		q.Mode = *o.mode
	}
	if o.Timeout != 0 {
		q.Timeout = &metav1.Duration{Duration: o.Timeout}
	}
	if o.Session != "" {
		q.SessionRef = &agentsv1alpha1.SessionReference{Name: o.Session}
	}
	return q
}

func (o *Options) notify() *agentsv1alpha1.Notify {
	if o.webhook == nil && o.slack == nil {
		return nil
	}
	n := &agentsv1alpha1.Notify{}
	if o.webhook != nil {
		n.Webhook = &agentsv1alpha1.WebhookTarget{URLSecretRef: *o.webhook}
	}
	if o.slack != nil {
		n.Slack = &agentsv1alpha1.WebhookTarget{URLSecretRef: *o.slack}
	}
	return n
}

// run creates the trigger whose source is in spec, or prints it with --dry-run.
func (o *Options) run(ctx context.Context, spec agentsv1alpha1.AgentTriggerSpec) error {
	spec.Query = o.query()
	spec.Notify = o.notify()
	t := &agentsv1alpha1.AgentTrigger{
		TypeMeta:   metav1.TypeMeta{APIVersion: agentsv1alpha1.GroupVersion.String(), Kind: "AgentTrigger"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Spec:       spec,
	}
	if o.DryRun == dryRunClient {
		// Nothing is sent: the namespace comes from the kubeconfig and -n alone, so a
		// manifest can be written without access to the cluster.
		ns, _, err := o.f.Flags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return fmt.Errorf("reading the namespace from kubeconfig: %w", err)
		}
		t.Namespace = ns
		return o.printManifest(t)
	}
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	t.Namespace = c.Namespace
	// A server dry run checks what the API server checks (the CRD's rules, admission,
	// RBAC) as the user, without creating anything. It also comes first when a session
	// is to be created, so that a refused trigger leaves no session behind.
	if o.DryRun == dryRunServer || o.Session != "" {
		probe := t.DeepCopy()
		if probe.Name == "" {
			probe.GenerateName = o.prefix + "-"
		}
		if err := c.Create(ctx, probe, client.DryRunAll); err != nil {
			return c.Explain(err, "create", kube.TriggersResource)
		}
	}
	if o.DryRun == dryRunServer {
		return o.printManifest(t)
	}
	if o.Session != "" {
		if err := ensureSession(ctx, c, o.Session, o.f.IO.ErrOut); err != nil {
			return err
		}
	}
	if t.Name == "" {
		t.GenerateName = o.prefix + "-"
	}
	t.Labels = map[string]string{"app.kubernetes.io/created-by": "kubectl-ask"}
	if err := c.Create(ctx, t); err != nil {
		return c.Explain(err, "create", kube.TriggersResource)
	}
	return o.printCreated(t)
}

func (o *Options) printCreated(t *agentsv1alpha1.AgentTrigger) error {
	if o.Output != "" {
		return output.Print(o.f.IO.Out, o.Output, t)
	}
	fmt.Fprintln(o.f.IO.Out, t.Name)
	who := "you"
	if t.Spec.Requester != nil {
		who = t.Spec.Requester.Username
	}
	fmt.Fprintf(o.f.IO.ErrOut, "Created trigger %s in namespace %s; its queries run as %s. See it with: kubectl ask triggers show %s -n %s\n",
		t.Name, t.Namespace, who, t.Name, t.Namespace)
	if o.notes != nil {
		fmt.Fprint(o.f.IO.ErrOut, o.notes(t))
	}
	return nil
}

// printManifest prints t as it would be applied: a fixed name, no status, no fields the
// API server fills in. spec.requester stays out: admission stamps whoever applies it.
func (o *Options) printManifest(t *agentsv1alpha1.AgentTrigger) error {
	if t.Name == "" {
		t.Name = o.prefix
	}
	m, err := manifest(t)
	if err != nil {
		return err
	}
	format := o.Output
	if format == "" {
		format = "yaml"
	}
	return output.Print(o.f.IO.Out, format, m)
}
