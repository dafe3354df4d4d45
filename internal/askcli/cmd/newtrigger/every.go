package newtrigger

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	// Time zones are checked here, where a typo can still be fixed, and a client may
	// lack the system's zone database (Windows, scratch images).
	_ "time/tzdata"

	"github.com/spf13/cobra"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
)

// everyOptions are the options of `every`.
type everyOptions struct {
	*Options
	Cron     string
	TimeZone string
}

// NewCmdEvery builds `every`.
func NewCmdEvery(f *factory.Factory) *cobra.Command {
	o := &everyOptions{Options: newOptions(f, "schedule")}
	cmd := &cobra.Command{
		Use:   "every (DURATION | --cron EXPRESSION [--time-zone ZONE]) [flags] PROMPT",
		Short: "Create a trigger: the agent investigates, as you, on a schedule",
		Long: `Create an AgentTrigger that creates a query with the prompt on a schedule, with
CronJob semantics; each query runs as you (admission stamps you as the requester).

DURATION is turned into the cron expression that fires exactly that often: every N
minutes where N divides 60 (5m is "*/5 * * * *"), every N hours where N divides 24
(1h is "0 * * * *", 6h "0 */6 * * *"), 1d (midnight) or 7d (Sunday midnight). Other
periods cannot be written exactly as a cron expression: give --cron yourself. Times are
UTC unless --time-zone names an IANA zone.

` + templateHelp,
		Example: `  kubectl ask every 1h "summarize warnings in team-a"
  kubectl ask every --cron "0 9 * * 1-5" --time-zone Europe/Paris "what changed in team-a since yesterday?"
  kubectl ask every 6h --dry-run -o yaml "anything unusual in team-a?" > trigger.yaml`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(args); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), agentsv1alpha1.AgentTriggerSpec{
				Schedule: &agentsv1alpha1.ScheduleSource{Cron: o.Cron, TimeZone: o.TimeZone},
			})
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVar(&o.Cron, "cron", "", `A five-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 9 * * 1-5", instead of DURATION.`)
	cmd.Flags().StringVar(&o.TimeZone, "time-zone", "", "IANA time zone of the schedule, e.g. Europe/Paris (default UTC).")
	return cmd
}

// complete takes DURATION (unless --cron is given) and then the prompt from args.
func (o *everyOptions) complete(args []string) error {
	if o.Cron == "" {
		if len(args) == 0 {
			return exitcode.UsageErrorf(`kubectl ask every needs how often: a DURATION such as 1h, or --cron "0 9 * * 1-5"`)
		}
		cron, err := cronFor(args[0])
		if err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
		o.prefix = "every-" + nameSafe(args[0])
		o.Cron, args = cron, args[1:]
	}
	return o.Options.complete(args)
}

func (o *everyOptions) validate() error {
	if err := o.Options.validate(); err != nil {
		return err
	}
	if o.TimeZone != "" {
		if _, err := time.LoadLocation(o.TimeZone); err != nil || o.TimeZone == "Local" {
			return exitcode.UsageErrorf("--time-zone %q is not an IANA time zone such as Europe/Paris or America/New_York", o.TimeZone)
		}
	}
	return nil
}

// cronFor is the cron expression that fires exactly every s, or an error that says why
// there is none. s is a Go duration or a number of days ("1d").
func cronFor(s string) (string, error) {
	d, err := parsePeriod(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a duration such as 15m, 1h, 6h or 1d (to ask a question that starts with \"every\", quote the whole question)", s)
	}
	const day = 24 * time.Hour
	switch {
	case d <= 0 || d%time.Minute != 0:
	case d < time.Hour && time.Hour%d == 0:
		if d == time.Minute {
			return "* * * * *", nil
		}
		return fmt.Sprintf("*/%d * * * *", d/time.Minute), nil
	case d < day && d%time.Hour == 0 && day%d == 0:
		if d == time.Hour {
			return "0 * * * *", nil
		}
		return fmt.Sprintf("0 */%d * * *", d/time.Hour), nil
	case d == day:
		return "0 0 * * *", nil
	case d == 7*day:
		return "0 0 * * 0", nil
	}
	return "", fmt.Errorf("every %s cannot be written exactly as a cron expression: use a number of minutes that divides 60 (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m), of hours that divides 24 (1h, 2h, 3h, 4h, 6h, 8h, 12h), 1d or 7d, or give --cron, e.g. --cron \"0 */2 * * *\"", s)
}

// nameSafe keeps what a DURATION may hold that a name may too: "1h" names every-1h.
func nameSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.ToLower(s))
}

// parsePeriod reads a Go duration, or whole days as "Nd", which time.ParseDuration
// does not know.
func parsePeriod(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
