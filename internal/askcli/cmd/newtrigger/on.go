package newtrigger

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
)

// templateHelp is the data model of a prompt, as the operator renders it.
const templateHelp = `The prompt is a Go text/template rendered each time the trigger fires. Every
trigger sees .Namespace and .Time; an events trigger .Object (kind/name, such as
pod/checkout-7d9f), .Reason, .Message and .Event; an alerts trigger .Alert, the
Alertmanager notification (e.g. {{.Alert.CommonLabels.alertname}}); a schedule
.Schedule. docs/triggers.md lists every field and function. Quote it for your shell.`

// preset is a common events trigger: the event reasons (and kinds of object) that say
// what went wrong.
type preset struct {
	name, short    string
	reasons, kinds []string
}

func presets() []preset {
	return []preset{
		{"crashloop", "a container keeps crashing (BackOff events on Pods)", []string{"BackOff"}, []string{"Pod"}},
		{"pending", "a Pod cannot be scheduled (FailedScheduling events on Pods)", []string{"FailedScheduling"}, []string{"Pod"}},
		{"oom", "a process is killed for lack of memory (OOMKilling events, on any kind of object)", []string{"OOMKilling"}, nil},
		{"probe", "a liveness, readiness or startup probe fails (Unhealthy events on Pods)", []string{"Unhealthy"}, []string{"Pod"}},
		{"mount", "a volume cannot be mounted (FailedMount events on Pods)", []string{"FailedMount"}, []string{"Pod"}},
	}
}

// NewCmdOn builds `on` and its subcommands, one per preset plus event and alert.
func NewCmdOn(f *factory.Factory) *cobra.Command {
	var names []string
	for _, p := range presets() {
		names = append(names, p.name)
	}
	names = append(names, "event", "alert")
	cmd := &cobra.Command{
		Use:   "on (" + strings.Join(names, "|") + ") [flags] PROMPT",
		Short: "Create a trigger: the agent investigates, as you, when a kind of Warning event or an alert happens",
		Long: `Create an AgentTrigger in the namespace. Each time it fires, it creates an AgentQuery
with the prompt; the query runs as you (admission stamps you as the trigger's requester),
so the agent sees and does only what you may. Events triggers watch the Warning events
of the trigger's namespace; a cooldown per object and reason and an hourly limit keep a
storm of events from becoming a storm of queries.

` + templateHelp,
		Example: `  kubectl ask on crashloop -n team-a "why is {{.Object}} crash-looping?"
  kubectl ask on pending --name-pattern 'checkout-*' --cooldown 2h "why is {{.Object}} pending?"
  kubectl ask on event --reason Evicted --kind Pod "why was {{.Object}} evicted?"
  kubectl ask on alert --token-secret am-token/token --match alertname=KubePodCrashLooping 'why does {{.Alert.CommonLabels.alertname}} fire?'
  kubectl ask on oom --dry-run -o yaml "what ran out of memory in {{.Object}}?" > trigger.yaml`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitcode.UsageErrorf("kubectl ask on needs what to react to: one of %s; see 'kubectl ask on --help'", strings.Join(names, ", "))
			}
			return exitcode.UsageErrorf("kubectl ask on does not know %q: use one of %s (or kubectl ask on event --reason REASON)", args[0], strings.Join(names, ", "))
		},
	}
	for _, p := range presets() {
		cmd.AddCommand(newCmdEvents(f, p))
	}
	cmd.AddCommand(newCmdEvents(f, preset{name: "event", short: "Warning events with the given reasons (--reason) happen to the given kinds of object (--kind)"}), newCmdAlert(f))
	return cmd
}

// eventOptions are the options of the events triggers.
type eventOptions struct {
	*Options
	custom       bool
	Reasons      []string
	Kinds        []string
	NamePatterns []string
	Cooldown     time.Duration
	MaxPerHour   int32
}

func newCmdEvents(f *factory.Factory, p preset) *cobra.Command {
	o := &eventOptions{Options: newOptions(f, p.name), custom: p.reasons == nil, Reasons: p.reasons, Kinds: p.kinds}
	use := p.name + " [flags] PROMPT"
	if o.custom {
		use = p.name + " --reason REASON [--kind KIND] [flags] PROMPT"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: "Investigate when " + p.short,
		Long:  "Create a trigger that investigates, as you, when " + p.short + ".\n\n" + templateHelp,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(args); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	o.addFlags(cmd)
	fs := cmd.Flags()
	if o.custom {
		fs.StringSliceVar(&o.Reasons, "reason", nil, "Event reason to react to, e.g. Evicted (repeatable).")
		fs.StringSliceVar(&o.Kinds, "kind", nil, "Kind of the object the event is about, e.g. Pod (repeatable; default: any kind).")
	}
	fs.StringSliceVar(&o.NamePatterns, "name-pattern", nil, "Only objects whose name matches this shell pattern, e.g. 'checkout-*' (repeatable).")
	fs.DurationVar(&o.Cooldown, "cooldown", 0, "At most one query per object and reason within this time, 1m to 168h (default 1h).")
	fs.Int32Var(&o.MaxPerHour, "max-per-hour", 0, "At most this many queries in any hour, 1 to 1000 (default 10).")
	return cmd
}

func (o *eventOptions) validate() error {
	if err := o.Options.validate(); err != nil {
		return err
	}
	switch {
	case o.custom && len(o.Reasons) == 0:
		return exitcode.UsageErrorf("kubectl ask on event needs at least one --reason, e.g. --reason Evicted")
	case o.Cooldown != 0 && (o.Cooldown < time.Minute || o.Cooldown > 168*time.Hour):
		return exitcode.UsageErrorf("--cooldown must be between 1m and 168h, not %s", o.Cooldown)
	case o.MaxPerHour < 0 || o.MaxPerHour > 1000:
		return exitcode.UsageErrorf("--max-per-hour must be between 1 and 1000, not %d", o.MaxPerHour)
	}
	return checkEventFilters(o.Reasons, o.Kinds, o.NamePatterns)
}

func (o *eventOptions) run(ctx context.Context) error {
	if o.custom && o.Name == "" {
		// The first reason says more than "event": evicted-x7k2p.
		o.prefix = strings.ToLower(o.Reasons[0])
		if len(o.prefix) > 40 {
			o.prefix = o.prefix[:40]
		}
	}
	ev := &agentsv1alpha1.EventSource{
		Reasons:           o.Reasons,
		InvolvedObject:    agentsv1alpha1.InvolvedObjectFilter{Kinds: o.Kinds, NamePatterns: o.NamePatterns},
		MaxQueriesPerHour: o.MaxPerHour,
	}
	if o.Cooldown != 0 {
		ev.Cooldown = &metav1.Duration{Duration: o.Cooldown}
	}
	return o.Options.run(ctx, agentsv1alpha1.AgentTriggerSpec{Events: ev})
}
