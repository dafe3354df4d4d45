package sessions

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func TestEffectiveModels(t *testing.T) {
	at := func(min int) metav1.Time { return metav1.NewTime(time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC)) }
	q := func(session, model string, min int) agentsv1alpha1.AgentQuery {
		q := agentsv1alpha1.AgentQuery{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(min)}}
		if session != "" {
			q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: session}
		}
		q.Status.Model = model
		return q
	}
	got := EffectiveModels([]agentsv1alpha1.AgentQuery{
		q("a", "old", 1), q("a", "new", 3), q("a", "older", 0),
		q("b", "", 5), q("b", "demo", 2), // not accepted yet: no model
		q("", "lonely", 4),
	})
	want := map[string]string{"a": "new", "b": "demo"}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Errorf("EffectiveModels = %v, want %v", got, want)
	}
}

func TestModelColumn(t *testing.T) {
	tests := []struct{ spec, effective, want string }{
		{"fast", "demo", "fast"},
		{"", "demo", "demo (default)"},
		{"", "", "(default)"},
	}
	for _, tt := range tests {
		if got := modelColumn(tt.spec, tt.effective); got != tt.want {
			t.Errorf("modelColumn(%q, %q) = %q, want %q", tt.spec, tt.effective, got, tt.want)
		}
	}
}
