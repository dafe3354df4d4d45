package validation

import (
	"strings"
	"testing"

	// The manager imports time/tzdata; so do the tests, to need no zone files.
	_ "time/tzdata"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func scheduleSpec(cron, zone, text string) *agentsv1alpha1.AgentTriggerSpec {
	return &agentsv1alpha1.AgentTriggerSpec{
		Schedule: &agentsv1alpha1.ScheduleSource{Cron: cron, TimeZone: zone},
		Query:    agentsv1alpha1.QueryTemplate{Prompt: text},
	}
}

func eventSpec(e agentsv1alpha1.EventSource, text string) *agentsv1alpha1.AgentTriggerSpec {
	return &agentsv1alpha1.AgentTriggerSpec{Events: &e, Query: agentsv1alpha1.QueryTemplate{Prompt: text}}
}

func alertSpec(ms []agentsv1alpha1.AlertMatcher, text string) *agentsv1alpha1.AgentTriggerSpec {
	return &agentsv1alpha1.AgentTriggerSpec{
		Alerts: &agentsv1alpha1.AlertSource{TokenSecretRef: agentsv1alpha1.SecretKeySelector{Name: "am", Key: "token"}, Matchers: ms},
		Query:  agentsv1alpha1.QueryTemplate{Prompt: text},
	}
}

// wantErr is one expected error: its type, path and a part of its message.
type wantErr struct {
	typ    field.ErrorType
	path   string
	detail string
}

func TestValidate(t *testing.T) {
	deadline := int64(0)
	cases := []struct {
		name string
		spec *agentsv1alpha1.AgentTriggerSpec
		want []wantErr
	}{
		{"valid schedule", scheduleSpec("0 9 * * 1-5", "Europe/Paris", "Check {{.Namespace}} ({{.Schedule.Cron}})"), nil},
		{"valid events", eventSpec(agentsv1alpha1.EventSource{
			Type: "Warning", Reasons: []string{"BackOff"},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
			InvolvedObject:    agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Pod"}, NamePatterns: []string{"checkout-*"}},
		}, "Why {{.Reason}} on {{.Object}}?"), nil},
		{"valid alerts", alertSpec([]agentsv1alpha1.AlertMatcher{{Name: "severity", Op: "=~", Value: "critical|warning"}},
			"{{range .Alerts}}{{.Labels.alertname}}{{end}}"), nil},

		{"nil spec", nil, []wantErr{{field.ErrorTypeRequired, "spec", ""}}},
		{"no source", &agentsv1alpha1.AgentTriggerSpec{Query: agentsv1alpha1.QueryTemplate{Prompt: "x"}},
			[]wantErr{{field.ErrorTypeRequired, "spec", "set exactly one of schedule, events and alerts"}}},
		{"two sources", &agentsv1alpha1.AgentTriggerSpec{
			Schedule: &agentsv1alpha1.ScheduleSource{Cron: "@daily"}, Alerts: &agentsv1alpha1.AlertSource{},
			Query: agentsv1alpha1.QueryTemplate{Prompt: "x"}},
			[]wantErr{{field.ErrorTypeForbidden, "spec.alerts", "set exactly one of schedule, events and alerts; schedule is set too"}}},
		{"three sources", &agentsv1alpha1.AgentTriggerSpec{
			Schedule: &agentsv1alpha1.ScheduleSource{Cron: "@daily"}, Events: &agentsv1alpha1.EventSource{}, Alerts: &agentsv1alpha1.AlertSource{},
			Query: agentsv1alpha1.QueryTemplate{Prompt: "x"}},
			[]wantErr{{field.ErrorTypeForbidden, "spec.events", ""}, {field.ErrorTypeForbidden, "spec.alerts", ""}}},

		{"bad cron", scheduleSpec("60 * * * *", "", "x"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.schedule.cron", `minute field "60": 60 is out of range 0-59`}}},
		{"TZ in cron", scheduleSpec("TZ=Europe/Paris 0 9 * * *", "", "x"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.schedule.cron", "put the time zone in timeZone"}}},
		{"bad zone and bad cron", scheduleSpec("* * * *", "Europe/Pariss", "x"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.schedule.timeZone", "unknown time zone"}, {field.ErrorTypeInvalid, "spec.schedule.cron", "has 4 fields"}}},
		{"deadline", &agentsv1alpha1.AgentTriggerSpec{
			Schedule: &agentsv1alpha1.ScheduleSource{Cron: "@daily", StartingDeadlineSeconds: &deadline},
			Query:    agentsv1alpha1.QueryTemplate{Prompt: "x"}},
			[]wantErr{{field.ErrorTypeInvalid, "spec.schedule.startingDeadlineSeconds", "at least 1"}}},

		{"event field in a schedule prompt", scheduleSpec("@daily", "", "Look at {{.Event.Reason}}"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.query.prompt", ".Event is only set when an event fires the trigger, and this trigger fires on a schedule"}}},
		{"alert field in an event prompt", eventSpec(agentsv1alpha1.EventSource{}, "{{.Alert.Status}}"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.query.prompt", ".Alert is only set"}}},
		{"prompt parse error", alertSpec(nil, "{{if .Alert}}x"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.query.prompt", "unexpected EOF"}}},
		{"prompt and source both wrong", scheduleSpec("@often", "", "{{call .X}}"),
			[]wantErr{{field.ErrorTypeInvalid, "spec.schedule.cron", "unknown descriptor"}, {field.ErrorTypeInvalid, "spec.query.prompt", "call is not allowed"}}},

		{"bad matchers", alertSpec([]agentsv1alpha1.AlertMatcher{
			{Name: "severity", Op: "==", Value: "x"},
			{Name: "alertname", Op: "=", Value: "KubePodCrashLooping"},
			{Name: "pod", Op: "=~", Value: "checkout-("},
			{Name: "app-name", Op: "=", Value: "x"},
		}, "x"), []wantErr{
			{field.ErrorTypeInvalid, "spec.alerts.matchers[0].op", `must be "=", "!=", "=~" or "!~"`},
			{field.ErrorTypeInvalid, "spec.alerts.matchers[2].value", "is not a valid regular expression (RE2 syntax): missing closing )"},
			{field.ErrorTypeInvalid, "spec.alerts.matchers[3].name", "must be a label name"},
		}},
		{"bad name patterns", eventSpec(agentsv1alpha1.EventSource{
			InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: []string{"ok-*", "bad-[", "also[-"}},
		}, "x"), []wantErr{
			{field.ErrorTypeInvalid, "spec.events.involvedObject.namePatterns[1]", "is not a valid pattern"},
			{field.ErrorTypeInvalid, "spec.events.involvedObject.namePatterns[2]", "is not a valid pattern"},
		}},
		{"Normal events", eventSpec(agentsv1alpha1.EventSource{Type: "Normal"}, "x"),
			[]wantErr{{field.ErrorTypeNotSupported, "spec.events.type", `supported values: "Warning"`}}},
		{"bad namespace selector", eventSpec(agentsv1alpha1.EventSource{
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn}}},
		}, "x"), []wantErr{{field.ErrorTypeRequired, "spec.events.namespaceSelector.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Validate(tc.spec)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(tc.want), errs.ToAggregate())
			}
			for i, w := range tc.want {
				e := errs[i]
				if e.Type != w.typ || e.Field != w.path || !strings.Contains(e.Error(), w.detail) {
					t.Errorf("error %d = %q (%s at %s), want %s at %s containing %q", i, e.Error(), e.Type, e.Field, w.typ, w.path, w.detail)
				}
			}
		})
	}
}

// TestValidatePromptMessage: a long prompt is not repeated in the message.
func TestValidatePromptMessage(t *testing.T) {
	text := strings.Repeat("Tell me everything. ", 300) + "{{.Nope}}"
	errs := Validate(scheduleSpec("@daily", "", text))
	if len(errs) != 1 {
		t.Fatalf("errors: %v", errs)
	}
	if msg := errs[0].Error(); strings.Contains(msg, "Tell me everything") || !strings.Contains(msg, "can't evaluate field Nope") {
		t.Errorf("message = %q", msg)
	}
}
