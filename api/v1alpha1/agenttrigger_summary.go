package v1alpha1

import "strings"

// SourceSummary says in one line what fires the trigger, for listings (kubectl ask
// triggers, the MCP endpoint's triggers_list): "cron 0 9 * * 1-5 (Europe/Paris)",
// "events BackOff on Pod (checkout-*)" or "alerts alertname=KubePodCrashLooping".
func (t *AgentTrigger) SourceSummary() string {
	switch s := t.Spec; {
	case s.Schedule != nil:
		out := "cron " + strings.Join(strings.Fields(s.Schedule.Cron), " ")
		if s.Schedule.TimeZone != "" {
			out += " (" + s.Schedule.TimeZone + ")"
		}
		return out
	case s.Events != nil:
		reasons := strings.Join(s.Events.Reasons, ",")
		if reasons == "" {
			reasons = "(any reason)"
		}
		out := "events " + reasons
		if kinds := s.Events.InvolvedObject.Kinds; len(kinds) > 0 {
			out += " on " + strings.Join(kinds, ",")
		}
		if names := s.Events.InvolvedObject.NamePatterns; len(names) > 0 {
			out += " (" + strings.Join(names, ",") + ")"
		}
		return out
	case s.Alerts != nil:
		out := "alerts"
		for _, m := range s.Alerts.Matchers {
			out += " " + m.String()
		}
		return out
	}
	return "(no source)"
}

// String writes the matcher as Alertmanager does: name=value, name!=value, name=~re,
// name!~re. An unset operator is "=", the CRD's default.
func (m AlertMatcher) String() string {
	op := m.Op
	if op == "" {
		op = MatchEqual
	}
	return m.Name + string(op) + m.Value
}
