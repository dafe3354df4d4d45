package triggers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func TestSourceAndReady(t *testing.T) {
	tests := []struct {
		name   string
		spec   agentsv1alpha1.AgentTriggerSpec
		conds  []metav1.Condition
		source string
		ready  string
	}{
		{"cron in a zone", agentsv1alpha1.AgentTriggerSpec{Schedule: &agentsv1alpha1.ScheduleSource{Cron: "0  9 * * 1-5", TimeZone: "Europe/Paris"}},
			[]metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}, "cron 0 9 * * 1-5 (Europe/Paris)", "True"},
		{"cron in UTC", agentsv1alpha1.AgentTriggerSpec{Schedule: &agentsv1alpha1.ScheduleSource{Cron: "@hourly"}}, nil, "cron @hourly", "-"},
		{"events", agentsv1alpha1.AgentTriggerSpec{Events: &agentsv1alpha1.EventSource{Reasons: []string{"BackOff"},
			InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Pod"}, NamePatterns: []string{"checkout-*"}}}},
			[]metav1.Condition{{Type: "Other", Status: metav1.ConditionTrue}, {Type: "Ready", Status: metav1.ConditionFalse}}, "events BackOff on Pod (checkout-*)", "False"},
		{"events of any kind", agentsv1alpha1.AgentTriggerSpec{Events: &agentsv1alpha1.EventSource{Reasons: []string{"OOMKilling", "Evicted"}}}, nil, "events OOMKilling,Evicted", "-"},
		{"events of any reason", agentsv1alpha1.AgentTriggerSpec{Events: &agentsv1alpha1.EventSource{}}, nil, "events (any reason)", "-"},
		{"alerts", agentsv1alpha1.AgentTriggerSpec{Alerts: &agentsv1alpha1.AlertSource{Matchers: []agentsv1alpha1.AlertMatcher{
			{Name: "alertname", Value: "KubePodCrashLooping"}, {Name: "severity", Op: "=~", Value: "critical|page"}}}},
			nil, "alerts alertname=KubePodCrashLooping severity=~critical|page", "-"},
		{"none", agentsv1alpha1.AgentTriggerSpec{}, nil, "(no source)", "-"},
	}
	for _, tt := range tests {
		tr := &agentsv1alpha1.AgentTrigger{Spec: tt.spec, Status: agentsv1alpha1.AgentTriggerStatus{Conditions: tt.conds}}
		if got := tr.SourceSummary(); got != tt.source {
			t.Errorf("%s: Source = %q, want %q", tt.name, got, tt.source)
		}
		if got := Ready(tr); got != tt.ready {
			t.Errorf("%s: Ready = %q, want %q", tt.name, got, tt.ready)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1h", 2*time.Hour + 30*time.Minute: "2h30m", 90 * time.Second: "1m30s", 5 * time.Minute: "5m", 168 * time.Hour: "168h"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
