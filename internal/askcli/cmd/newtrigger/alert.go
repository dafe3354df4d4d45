package newtrigger

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
)

// alertOptions are the options of `on alert`.
type alertOptions struct {
	*Options
	TokenSecret string
	Matches     []string
	MaxPerHour  int32

	token    *agentsv1alpha1.SecretKeySelector
	matchers []agentsv1alpha1.AlertMatcher
}

func newCmdAlert(f *factory.Factory) *cobra.Command {
	o := &alertOptions{Options: newOptions(f, "alert")}
	o.notes = o.receiverNote
	cmd := &cobra.Command{
		Use:   "alert --token-secret SECRET/KEY [--match MATCHER]... [flags] PROMPT",
		Short: "Investigate when Alertmanager sends an alert",
		Long: `Create a trigger that investigates, as you, the alerts Alertmanager posts to the
kubeask manager's alert receiver at /alerts/<namespace>/<trigger>. Alertmanager must
send the bearer token kept in --token-secret (read as you). --match selects the alerts,
as Alertmanager's matchers do: name=value, name!=value, name=~regexp, name!~regexp.

` + templateHelp,
		Example: `  kubectl ask on alert --token-secret am-token/token --match alertname=KubePodCrashLooping 'why does {{.Alert.CommonLabels.alertname}} fire?'
  kubectl ask on alert --token-secret am-token/token --match 'severity=~"critical|page"' --match namespace=team-a 'investigate {{.Alert.CommonLabels}}'`,
		Args: cobra.ArbitraryArgs,
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
	fs.StringVar(&o.TokenSecret, "token-secret", "", "SECRET/KEY holding the bearer token Alertmanager must send (required).")
	// An array, not a slice: a regular expression may hold commas.
	fs.StringArrayVar(&o.Matches, "match", nil, "Only alerts whose labels match, e.g. alertname=KubePodCrashLooping (repeatable; all must match).")
	fs.Int32Var(&o.MaxPerHour, "max-per-hour", 0, "At most this many queries in any hour, 1 to 1000 (default 10).")
	return cmd
}

func (o *alertOptions) complete(args []string) error {
	if err := o.Options.complete(args); err != nil {
		return err
	}
	var err error
	if o.token, err = secretRef("--token-secret", o.TokenSecret); err != nil {
		return err
	}
	for _, s := range o.Matches {
		m, err := alertMatcher(s)
		if err != nil {
			return exitcode.UsageErrorf("--match %v", err)
		}
		o.matchers = append(o.matchers, m)
	}
	return nil
}

func (o *alertOptions) validate() error {
	if err := o.Options.validate(); err != nil {
		return err
	}
	switch {
	case o.token == nil:
		return exitcode.UsageErrorf("kubectl ask on alert needs --token-secret SECRET/KEY: the Secret key holding the bearer token Alertmanager will send")
	case o.MaxPerHour < 0 || o.MaxPerHour > 1000:
		return exitcode.UsageErrorf("--max-per-hour must be between 1 and 1000, not %d", o.MaxPerHour)
	}
	return nil
}

func (o *alertOptions) run(ctx context.Context) error {
	return o.Options.run(ctx, agentsv1alpha1.AgentTriggerSpec{Alerts: &agentsv1alpha1.AlertSource{
		TokenSecretRef: *o.token, Matchers: o.matchers, MaxQueriesPerHour: o.MaxPerHour,
	}})
}

// receiverNote says where Alertmanager must send alerts for t: only known once the
// trigger has its (possibly generated) name.
func (o *alertOptions) receiverNote(t *agentsv1alpha1.AgentTrigger) string {
	return fmt.Sprintf("Point an Alertmanager webhook at the kubeask alert receiver (manager flag --alerts-bind-address, chart value alerts.enabled), path /alerts/%s/%s, with the token in secret %s (key %s) as its bearer credentials; see docs/triggers.md.\n",
		t.Namespace, t.Name, o.token.Name, o.token.Key)
}
