package agent_test

import (
	"context"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// These tests stand for a leader that is paused (a GC pause, a frozen node, SIGSTOP)
// while a second replica, which took over its lease, runs the same query: the paused
// run is held at one moment by a hook or by the model, the other run goes to the end,
// then the paused one resumes. Whatever the moment, the change runs at most once and
// the resumed run writes nothing over the newer record.

// pausedRun starts a's run of q and returns a channel with what Run returned.
func pausedRun(t *testing.T, a *agent.Agent, q *agentsv1alpha1.AgentQuery) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.Run(context.WithoutCancel(t.Context()), client.ObjectKeyFromObject(q)) }()
	return done
}

func TestAPausedRunDoesNotMakeAChangeTheNextRunMade(t *testing.T) {
	crashFixture(t, "paused-model")
	prompt := "Add an env var to paused-model."
	inner := appendEnvScript("paused-model")
	paused, resume := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	// The first model call (the paused run's) answers only once the other run is done:
	// the paused run then gets the same tool call the other run already executed.
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		if calls.Add(1) == 1 {
			close(paused)
			<-resume
		}
		return inner(req)
	})
	q := autoQuery(t, prompt)
	first := pausedRun(t, newOperator(t), q)
	<-paused

	if err := newOperator(t).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, q); got.Status.Phase != agentsv1alpha1.QuerySucceeded {
		t.Fatalf("the replica that took over left the query %s: %+v", got.Status.Phase, got.Status)
	}
	close(resume)
	if err := <-first; err != nil {
		t.Fatalf("the resumed run returned %v; it should stop quietly", err)
	}
	if n := envCount(t, "paused-model"); n != 1 {
		t.Errorf("the change ran %d times, want exactly once", n)
	}
	if got := get(t, q); got.Status.Phase != agentsv1alpha1.QuerySucceeded || len(got.Status.Steps) != 1 {
		t.Errorf("after the paused run resumed: phase %s, steps %+v", got.Status.Phase, got.Status.Steps)
	}
}

func TestAPausedRunDoesNotOverwriteTheNextRunsVerdict(t *testing.T) {
	for _, moment := range []string{"before the change runs", "after the change ran"} {
		t.Run(moment, func(t *testing.T) {
			name := map[string]string{"before the change runs": "paused-before", "after the change ran": "paused-after"}[moment]
			crashFixture(t, name)
			prompt := "Add an env var to " + name + "."
			scripts.Set(prompt, appendEnvScript(name))
			q := autoQuery(t, prompt)

			paused, resume := make(chan struct{}), make(chan struct{})
			hold := func(context.Context, agentsv1alpha1.Step) {
				close(paused)
				<-resume
			}
			a := newOperator(t)
			if moment == "before the change runs" {
				a.SetBeforeExecute(hold)
			} else {
				a.SetAfterExecute(hold)
			}
			first := pausedRun(t, a, q)
			<-paused

			// The replica that took over finds the change Running: its outcome is unknown.
			if err := newOperator(t).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
				t.Fatal(err)
			}
			if got := get(t, q); got.Status.Phase != agentsv1alpha1.QueryFailed {
				t.Fatalf("the replica that took over left the query %s", got.Status.Phase)
			}
			close(resume)
			if err := <-first; err != nil {
				t.Fatalf("the resumed run returned %v; it should stop quietly", err)
			}
			got := get(t, q)
			if got.Status.Phase != agentsv1alpha1.QueryFailed || got.Status.Steps[0].State != agentsv1alpha1.StepUnknown {
				t.Fatalf("the resumed run overwrote the verdict: phase %s, steps %+v", got.Status.Phase, got.Status.Steps)
			}
			assertCondition(t, got, agent.ConditionRunning, agent.ReasonMutationOutcomeUnknown, "s1")
			if n := envCount(t, name); n != 1 {
				t.Errorf("the change ran %d times, want exactly once (by the paused run, which recorded it Running)", n)
			}
		})
	}
}
