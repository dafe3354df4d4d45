package triggers

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// conditionReady is the condition the operator sets on every trigger: whether it can
// fire and, if not, why.
const conditionReady = "Ready"

// Ready is the status of t's Ready condition ("True", "False", "Unknown"), or "-" when
// no operator has looked at the trigger yet.
func Ready(t *agentsv1alpha1.AgentTrigger) string {
	if c := meta.FindStatusCondition(t.Status.Conditions, conditionReady); c != nil {
		return string(c.Status)
	}
	return "-"
}

// limits says how often an events or alerts trigger may fire, "" for a schedule.
func limits(t *agentsv1alpha1.AgentTrigger) string {
	switch s := t.Spec; {
	case s.Events != nil:
		var parts []string
		if s.Events.Cooldown != nil {
			parts = append(parts, "cooldown "+shortDuration(s.Events.Cooldown.Duration)+" per object and reason")
		}
		if s.Events.MaxQueriesPerHour > 0 {
			parts = append(parts, fmt.Sprintf("at most %d queries an hour", s.Events.MaxQueriesPerHour))
		}
		if s.Events.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(s.Events.NamespaceSelector)
			if err == nil {
				parts = append(parts, "namespaces matching "+orDefault(sel.String(), "(all)"))
			}
		}
		return strings.Join(parts, ", ")
	case s.Alerts != nil:
		out := "token in secret " + s.Alerts.TokenSecretRef.Name + "/" + s.Alerts.TokenSecretRef.Key
		if s.Alerts.MaxQueriesPerHour > 0 {
			out += fmt.Sprintf(", at most %d queries an hour", s.Alerts.MaxQueriesPerHour)
		}
		return out
	case s.Schedule != nil && s.Schedule.ConcurrencyPolicy != "":
		return "concurrency " + string(s.Schedule.ConcurrencyPolicy)
	}
	return ""
}

// shortDuration writes 2h rather than time's 2h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
