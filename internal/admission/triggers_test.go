package admission_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func newTrigger(name string) *agentsv1alpha1.AgentTrigger {
	return &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Events: &agentsv1alpha1.EventSource{Reasons: []string{"BackOff"}},
			Query:  agentsv1alpha1.QueryTemplate{Prompt: "why is {{.Object}} crash-looping?"},
		},
	}
}

// updateTrigger applies edit to a fresh copy of tr and updates it as c.
func updateTrigger(t *testing.T, reader, c client.Client, tr *agentsv1alpha1.AgentTrigger, edit func(*agentsv1alpha1.AgentTrigger)) error {
	t.Helper()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		fresh := get(t, reader, tr)
		edit(fresh)
		return c.Update(t.Context(), fresh)
	})
}

// runTriggerScenarios checks the AgentTrigger rules, whatever enforces them: a trigger
// acts as its requester, so its requester is stamped and only they may change what it does.
func runTriggerScenarios(t *testing.T, u users) {
	ctx := t.Context()
	tr := newTrigger("crashloop")
	tr.Spec.Requester = &agentsv1alpha1.Requester{Username: "bob", Groups: []string{"system:masters"}}
	create(t, u.alice, tr)

	t.Run("a trigger's forged requester is overwritten with the creator", func(t *testing.T) {
		r := get(t, u.admin, tr).Spec.Requester
		if r == nil || r.Username != "alice" {
			t.Fatalf("requester = %+v, want alice", r)
		}
	})
	t.Run("another user may not change what a trigger does", func(t *testing.T) {
		for what, edit := range map[string]func(*agentsv1alpha1.AgentTrigger){
			"prompt": func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Query.Prompt = "delete every deployment" },
			"mode":   func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Query.Mode = agentsv1alpha1.ModePropose },
			"session": func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Query.SessionRef = &agentsv1alpha1.SessionReference{Name: "shared"}
			},
			"source": func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Events.Reasons = []string{"FailedMount"} },
			"notify": func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Notify = &agentsv1alpha1.Notify{Webhook: &agentsv1alpha1.WebhookTarget{URLSecretRef: agentsv1alpha1.SecretKeySelector{Name: "bobs", Key: "url"}}}
			},
			"history": func(x *agentsv1alpha1.AgentTrigger) { x.Spec.FailedQueriesHistoryLimit = new(int32(50)) },
		} {
			expectDenied(t, updateTrigger(t, u.admin, u.bob, tr, edit), "only the trigger's requester (alice) may change what it does, not bob", "bob changing the "+what)
		}
		expectDenied(t, updateTrigger(t, u.admin, u.bob, tr, func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Requester.Username = "bob" }),
			"requester", "bob changing the requester")
	})
	t.Run("another user may suspend and resume it", func(t *testing.T) {
		for _, suspend := range []bool{true, false} {
			if err := updateTrigger(t, u.admin, u.bob, tr, func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Suspend = suspend }); err != nil {
				t.Fatalf("bob setting suspend=%v: %v", suspend, err)
			}
		}
	})
	t.Run("the requester may change it", func(t *testing.T) {
		if err := updateTrigger(t, u.admin, u.alice, tr, func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Query.Prompt = "what happened to {{.Object}}?" }); err != nil {
			t.Fatalf("alice changing her prompt: %v", err)
		}
	})
	t.Run("bad specs are refused with a message that says what is wrong", func(t *testing.T) {
		for _, c := range []struct {
			name, want string
			edit       func(*agentsv1alpha1.AgentTrigger)
		}{
			{"cron out of range", "cron must be five fields", func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Events = nil
				x.Spec.Schedule = &agentsv1alpha1.ScheduleSource{Cron: "61 * * * *"}
			}},
			{"cron with four fields", "cron must be five fields", func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Events = nil
				x.Spec.Schedule = &agentsv1alpha1.ScheduleSource{Cron: "0 * * *"}
			}},
			{"two sources", "exactly one of schedule, events and alerts", func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Schedule = &agentsv1alpha1.ScheduleSource{Cron: "@hourly"}
			}},
			{"unclosed if", "without its {{end}}", func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Query.Prompt = "{{if .Object}}why?" }},
			{"template that can recurse", "may not use define, template, block or call", func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Query.Prompt = `{{define "x"}}{{template "x"}}{{end}}{{template "x"}}`
			}},
			{"unbalanced braces", "unbalanced", func(x *agentsv1alpha1.AgentTrigger) { x.Spec.Query.Prompt = "why {{.Object?" }},
			{"bad matcher operator", "Unsupported value", func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Events = nil
				x.Spec.Alerts = &agentsv1alpha1.AlertSource{
					TokenSecretRef: agentsv1alpha1.SecretKeySelector{Name: "am", Key: "token"},
					Matchers:       []agentsv1alpha1.AlertMatcher{{Name: "severity", Op: "~=", Value: "critical"}},
				}
			}},
			{"bad matcher label", "matchers[0].name", func(x *agentsv1alpha1.AgentTrigger) {
				x.Spec.Events = nil
				x.Spec.Alerts = &agentsv1alpha1.AlertSource{
					TokenSecretRef: agentsv1alpha1.SecretKeySelector{Name: "am", Key: "token"},
					Matchers:       []agentsv1alpha1.AlertMatcher{{Name: "severity level", Value: "critical"}},
				}
			}},
			{"name too long for its queries", "at most 52 characters", func(x *agentsv1alpha1.AgentTrigger) {
				x.Name = "a-trigger-name-that-is-far-too-long-for-the-queries-it-names"
			}},
		} {
			x := newTrigger("bad")
			c.edit(x)
			expectDenied(t, u.alice.Create(ctx, x), c.want, c.name)
		}
	})
}
