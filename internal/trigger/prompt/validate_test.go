package prompt

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name, text, source string
		// wantErr is empty for a prompt that is valid for the source.
		wantErr string
	}{
		{"schedule", `Check {{.Namespace}} at {{.Time.Format "15:04"}} ({{.Schedule.Cron}}, {{.Trigger}}, {{.Source}})`, SourceSchedule, ""},
		{"event", `Why {{.Reason}} on {{.Object}}? {{.Event.Message}} {{.Count}} {{.Kind}} {{.Name}} {{.Type}} {{.Message}}`, SourceEvent, ""},
		{"alert", `{{range .Alerts}}{{.Labels.alertname}} {{.Annotations.summary}}{{end}} {{.Alert.Status}}`, SourceAlert, ""},
		{"a label the sample lacks", `Team {{.Alert.CommonLabels.team}} is paged`, SourceAlert, ""},
		{"a prompt from an annotation the sample lacks", `{{index .Alert.CommonAnnotations "ask"}}`, SourceAlert, ""},
		{"fields of the range element", `{{range $a := .Alerts}}{{$a.Status}} {{.Fingerprint}} {{$.Namespace}}{{end}}`, SourceAlert, ""},
		{"with dot", `{{with .Event}}{{.Reason}} {{.Object.Name}}{{end}}`, SourceEvent, ""},

		{"event field in a schedule trigger", `Look at {{.Event.Reason}}`, SourceSchedule,
			"prompt:1:16: .Event is only set when an event fires the trigger, and this trigger fires on a schedule; its prompt can use .Trigger, .Namespace, .Time, .Source and .Schedule"},
		{"event shortcut in an alert trigger", `{{.Reason}}`, SourceAlert,
			".Reason is only set when an event fires the trigger, and this trigger fires on alerts"},
		{"alert field in an event trigger", "Hi\n{{.Alert.Status}}", SourceEvent,
			"prompt:2:8: .Alert is only set when an alert fires the trigger, and this trigger fires on events; its prompt can use .Trigger, .Namespace, .Time, .Source, .Object, .Kind, .Name, .Reason, .Message, .Type, .Count and .Event"},
		{"alerts shortcut in a schedule trigger", `{{range .Alerts}}x{{end}}`, SourceSchedule, ".Alerts is only set when an alert fires the trigger"},
		{"schedule in an event trigger", `{{with .Schedule}}{{.Cron}}{{end}}`, SourceEvent, ".Schedule is only set when the schedule fires the trigger"},
		{"through $ inside range", `{{range .Alerts}}{{$.Event.Reason}}{{end}}`, SourceAlert, ".Event is only set"},
		{"inside with .", `{{with .}}{{.Event.Reason}}{{end}}`, SourceSchedule, ".Event is only set"},
		{"in a parenthesized pipeline", `{{printf "%s" (.Event.Reason)}}`, SourceSchedule, ".Event is only set"},
		{"chained on dot", `{{(.).Event.Reason}}`, SourceSchedule, ".Event is only set"},
		{"guarded by if, still refused", `{{if .Event}}{{.Event.Reason}}{{end}}x`, SourceSchedule, ".Event is only set"},
		{"found by rendering the sample", `{{$d := .}}{{$d.Event.Reason}}`, SourceSchedule,
			"nil pointer evaluating *prompt.Event.Reason (found by rendering the prompt over a sample schedule)"},
		{"unknown field", `{{.Nope}}`, SourceEvent, "can't evaluate field Nope in type prompt.Data (see the data model in docs/triggers.md)"},
		{"unknown nested field", `{{.Event.Nope}}`, SourceEvent, "can't evaluate field Nope"},
		{"field of a list", `{{.Alert.Alerts.Status}}`, SourceAlert, "can't evaluate field Status"},
		{"range over a number", `{{range 3}}x{{end}}`, SourceSchedule, "range over a number (3) is not allowed"},
		{"wrong argument type", `{{join ", " .Count}}`, SourceEvent, "join wants a list or a map"},
		{"renders to nothing", `{{/* nothing */}}`, SourceSchedule, "renders to empty text"},
		{"parse error", `{{.Reason`, SourceEvent, "unclosed action"},
		{"forbidden action", `{{template "x"}}`, SourceEvent, "template and block are not allowed"},
		{"unknown source", `x`, "webhook", `unknown trigger source "webhook"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.text, tc.source)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Validate accepted %q for a %s trigger, want an error containing %q", tc.text, tc.source, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("Validate error\n%s\ndoes not contain\n%s", err, tc.wantErr)
			}
		})
	}
}

// TestSamples: each source's sample sets its own part of the data and no other, so
// that Validate finds a reference to another source's part.
func TestSamples(t *testing.T) {
	for _, source := range []string{SourceSchedule, SourceEvent, SourceAlert} {
		d := mustSample(t, source)
		if d.Source != source || d.Trigger == "" || d.Namespace == "" || d.Time.IsZero() {
			t.Errorf("%s sample lacks the common fields: %+v", source, d)
		}
		if (d.Event != nil) != (source == SourceEvent) || (d.Reason != "") != (source == SourceEvent) {
			t.Errorf("%s sample: Event = %v, Reason = %q", source, d.Event, d.Reason)
		}
		if (d.Alert != nil) != (source == SourceAlert) || (len(d.Alerts) > 0) != (source == SourceAlert) {
			t.Errorf("%s sample: Alert = %v, %d alerts", source, d.Alert, len(d.Alerts))
		}
		if (d.Schedule != nil) != (source == SourceSchedule) {
			t.Errorf("%s sample: Schedule = %v", source, d.Schedule)
		}
	}
}
