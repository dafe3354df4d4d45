package agent_test

import (
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// proposeScale scripts a model that proposes scaling team-a's checkout to n and, once
// it has the result, answers with it.
func proposeScale(n int) func(llmtest.Request) llmtest.Reply {
	return callThenEcho("resources_scale", `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":`+strconv.Itoa(n)+`}`)
}

func TestProposeApproveExecuteAsTheRequester(t *testing.T) {
	prompt := "Scale checkout to 4."
	scripts.Set(prompt, proposeScale(4))
	propose := func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModePropose)
	}
	q := waitFor(t, ask(t, alice, "team-a", prompt, propose), agentsv1alpha1.QueryAwaitingApproval)
	if s := q.Status.Steps; len(s) != 1 || s[0].State != agentsv1alpha1.StepProposed || s[0].ID != "s1" || s[0].ReadOnly {
		t.Fatalf("steps = %+v", s)
	}
	if replicas(t) == 4 {
		t.Fatal("a proposed change ran before approval")
	}

	// The cluster admin may update the query, but is not its requester.
	err := approve(t, admin, q, "s1")
	if err == nil || !strings.Contains(err.Error(), "only the query's requester (alice)") {
		t.Fatalf("an approval by someone other than alice: %v", err)
	}
	if err := approve(t, alice, q, "s1"); err != nil {
		t.Fatalf("alice approving: %v", err)
	}
	q = waitFor(t, q, agentsv1alpha1.QuerySucceeded)
	if s := q.Status.Steps[0]; s.State != agentsv1alpha1.StepDone || s.Error != "" {
		t.Fatalf("approved step = %+v", s)
	}
	if replicas(t) != 4 {
		t.Errorf("replicas = %d after the approved scale", replicas(t))
	}
	if !strings.Contains(q.Status.Answer, "scaled to 4") {
		t.Errorf("the model did not get the result: %q", q.Status.Answer)
	}
}

func TestApprovedChangeRunsWithTheRequestersRightsOnly(t *testing.T) {
	// bob proposes, in his own namespace, to scale alice's deployment; he approves it;
	// it runs as bob, so the API server refuses it.
	prompt := "Scale the checkout in team-a to 7."
	scripts.Set(prompt, proposeScale(7))
	q := waitFor(t, ask(t, bob, "team-b", prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModePropose)
	}), agentsv1alpha1.QueryAwaitingApproval)
	if err := approve(t, bob, q, "s1"); err != nil {
		t.Fatal(err)
	}
	q = waitFor(t, q, agentsv1alpha1.QuerySucceeded)
	if s := q.Status.Steps[0]; s.State != agentsv1alpha1.StepDone || !strings.Contains(s.Error, "forbidden") || !strings.Contains(s.Error, `"bob"`) {
		t.Fatalf("step = %+v, want a 403 for bob", s)
	}
	if replicas(t) == 7 {
		t.Error("bob's approved change ran with more than bob's rights")
	}
}

func TestDenyAProposal(t *testing.T) {
	prompt := "Scale checkout to 9."
	scripts.Set(prompt, proposeScale(9))
	q := waitFor(t, ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModePropose)
	}), agentsv1alpha1.QueryAwaitingApproval)
	if err := update(t, alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Denials = []string{"s1"} }); err != nil {
		t.Fatal(err)
	}
	q = waitFor(t, q, agentsv1alpha1.QuerySucceeded)
	if s := q.Status.Steps[0]; s.State != agentsv1alpha1.StepDenied || !strings.Contains(s.Error, "denied by alice") {
		t.Fatalf("step = %+v", s)
	}
	if !strings.Contains(q.Status.Answer, "denied by alice") || replicas(t) == 9 {
		t.Errorf("answer %q, replicas %d", q.Status.Answer, replicas(t))
	}
}

func TestAutoModeRunsChangesAtOnce(t *testing.T) {
	prompt := "Scale checkout to 3 now."
	scripts.Set(prompt, proposeScale(3))
	q := waitFor(t, ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModeAuto)
	}), agentsv1alpha1.QuerySucceeded)
	if s := q.Status.Steps[0]; s.State != agentsv1alpha1.StepDone || s.Error != "" || replicas(t) != 3 {
		t.Fatalf("step = %+v, replicas %d", s, replicas(t))
	}
}

func TestSessionCarriesContextAndEachQueryActsAsItsRequester(t *testing.T) {
	ctx := t.Context()
	s := &agentsv1alpha1.AgentSession{}
	s.Name, s.Namespace = "incident", "team-a"
	s.Spec.HistoryLimit = new(int32(5))
	if err := alice.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := "Session question one."
	scripts.Set(first, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "The answer to one is 42."} })
	q1 := waitFor(t, ask(t, alice, "team-a", first, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "incident"}
	}), agentsv1alpha1.QuerySucceeded)

	second := "And what was the answer to one?"
	var seen []llmtest.Message
	scripts.Set(second, func(req llmtest.Request) llmtest.Reply {
		seen = req.Messages
		return llmtest.Reply{Text: "It was 42."}
	})
	waitFor(t, ask(t, alice, "team-a", second, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "incident"}
	}), agentsv1alpha1.QuerySucceeded)
	var history strings.Builder
	for _, m := range seen {
		history.WriteString(m.Role + ": " + m.Text() + "\n")
	}
	if !strings.Contains(history.String(), "alice asked] "+first) || !strings.Contains(history.String(), "assistant: The answer to one is 42.") {
		t.Errorf("the second query did not get the first as context:\n%s", history.String())
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(q1), q1); err != nil {
		t.Fatal(err)
	}
}
