package follow

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

func TestCodeAndStopped(t *testing.T) {
	proposed := []agentsv1alpha1.Step{{ID: "s1", State: agentsv1alpha1.StepProposed, Digest: "sha256:" + strings.Repeat("a", 64)}}
	approval := agentsv1alpha1.ApprovalFor(proposed[0])
	otherArguments := "s1@sha256:" + strings.Repeat("b", 64)
	failed := func(reason string) []metav1.Condition {
		return []metav1.Condition{{Type: "Running", Status: metav1.ConditionFalse, Reason: reason, Message: "m"}}
	}
	tests := []struct {
		name      string
		q         agentsv1alpha1.AgentQuery
		code      int
		isStopped bool
	}{
		{"answered", query(agentsv1alpha1.QuerySucceeded, nil, nil, nil), exitcode.Answered, true},
		{"failed", query(agentsv1alpha1.QueryFailed, nil, nil, failed("UnknownModel")), exitcode.Failed, true},
		{"timed out", query(agentsv1alpha1.QueryFailed, nil, nil, failed("Timeout")), exitcode.Cancelled, true},
		{"cancelled", query(agentsv1alpha1.QueryCancelled, nil, nil, nil), exitcode.Cancelled, true},
		{"awaiting", query(agentsv1alpha1.QueryAwaitingApproval, proposed, nil, nil), exitcode.AwaitingApproval, true},
		// Approved but not yet picked up by the agent: keep following.
		{"approved, not picked up", query(agentsv1alpha1.QueryAwaitingApproval, proposed, []string{approval}, nil), exitcode.AwaitingApproval, false},
		// An approval of other arguments approves nothing: the step still waits for a decision.
		{"approved for other arguments", query(agentsv1alpha1.QueryAwaitingApproval, proposed, []string{otherArguments}, nil), exitcode.AwaitingApproval, true},
		{"running", query(agentsv1alpha1.QueryRunning, nil, nil, nil), exitcode.Cancelled, false},
		{"pending", query("", nil, nil, nil), exitcode.Cancelled, false},
	}
	for _, tt := range tests {
		if got := Code(&tt.q); got != tt.code {
			t.Errorf("%s: Code = %d, want %d", tt.name, got, tt.code)
		}
		if got := Stopped(&tt.q); got != tt.isStopped {
			t.Errorf("%s: Stopped = %v, want %v", tt.name, got, tt.isStopped)
		}
	}
}

func query(phase agentsv1alpha1.QueryPhase, steps []agentsv1alpha1.Step, approvals []string, conds []metav1.Condition) agentsv1alpha1.AgentQuery {
	q := agentsv1alpha1.AgentQuery{}
	q.Status.Phase, q.Status.Steps, q.Spec.Approvals, q.Status.Conditions = phase, steps, approvals, conds
	return q
}
