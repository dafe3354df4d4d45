package agent_test

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

func TestAliceIsDeniedWhereBobIsNot(t *testing.T) {
	prompt := "What runs in team-b?"
	scripts.Set(prompt, callThenEcho("resources_list", `{"resource":"pods","namespace":"team-b"}`))

	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
	s := q.Status.Steps
	if len(s) != 1 || s[0].Tool != "resources_list" || s[0].State != agentsv1alpha1.StepDone || !s[0].ReadOnly {
		t.Fatalf("alice's steps = %+v", s)
	}
	if !strings.Contains(s[0].Error, "forbidden") || !strings.Contains(s[0].Error, `"alice"`) {
		t.Errorf("alice's step does not show the API server's 403: %q", s[0].Error)
	}
	if !strings.Contains(q.Status.Answer, "forbidden") || strings.Contains(q.Status.Answer, "payments-1") {
		t.Errorf("alice's answer: %q", q.Status.Answer)
	}
	if q.Status.Usage.LLMCalls != 2 || q.Status.Usage.ToolCalls != 1 || q.Status.Usage.InputTokens == 0 {
		t.Errorf("usage = %+v", q.Status.Usage)
	}
	if q.Status.Model != "fake" || q.Status.Mode != agentsv1alpha1.ModeReadOnly || q.Status.CompletionTime == nil || q.Status.Summary == "" {
		t.Errorf("status = %+v", q.Status)
	}

	q = waitFor(t, ask(t, bob, "team-b", prompt, nil), agentsv1alpha1.QuerySucceeded)
	if s := q.Status.Steps; len(s) != 1 || s[0].Error != "" || !strings.Contains(s[0].Output, "payments-1") {
		t.Fatalf("bob's steps = %+v", s)
	}
	if !strings.Contains(q.Status.Answer, "payments-1") {
		t.Errorf("bob's answer: %q", q.Status.Answer)
	}
}

func TestAliceCannotReachBeyondHerRightsWhateverTheModelAsks(t *testing.T) {
	prompt := "Show me everything you can find."
	grabs := []llmtest.Call{
		{Name: "resources_get", Args: `{"resource":"secret","name":"payments-key","namespace":"team-b"}`},
		{Name: "resources_list", Args: `{"resource":"secrets","allNamespaces":true}`},
		{Name: "resources_list", Args: `{"resource":"pods","allNamespaces":true}`},
		{Name: "resources_list", Args: `{"resource":"agentqueries","namespace":"team-b"}`},
		{Name: "resources_list", Args: `{"resource":"secrets","namespace":"kubeask-system"}`},
		{Name: "resources_get", Args: `{"resource":"secret","name":"db","namespace":"team-a"}`},
	}
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		if res := req.ToolResults(); len(res) > 0 {
			var all []string
			for _, r := range res {
				all = append(all, r.Text())
			}
			return llmtest.Reply{Text: "Found:\n" + strings.Join(all, "\n---\n")}
		}
		return llmtest.Reply{Calls: grabs}
	})
	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
	if len(q.Status.Steps) != len(grabs) {
		t.Fatalf("steps = %+v", q.Status.Steps)
	}
	for _, s := range q.Status.Steps[:5] {
		if !strings.Contains(s.Error, "forbidden") {
			t.Errorf("step %s %s: want forbidden, got error %q output %q", s.ID, s.Arguments, s.Error, s.Output)
		}
	}
	sent := sentToModel(prompt)
	if sent == "" {
		t.Fatal("no request for this prompt was recorded")
	}
	for _, leak := range []string{"sk-team-b-secret", "c2stdGVhbS1iLXNlY3JldA", "payments-1", "hunter2-team-a-secret", "aHVudGVyMi10ZWFtLWEtc2VjcmV0"} {
		if strings.Contains(sent, leak) || strings.Contains(q.Status.Answer, leak) {
			t.Errorf("%q reached the model or the answer", leak)
		}
	}
	if !strings.Contains(q.Status.Steps[5].Output, "<redacted") {
		t.Errorf("alice's own secret was not redacted: %s", q.Status.Steps[5].Output)
	}
}

func TestReadOnlyRefusesMutationsAndTellsTheModel(t *testing.T) {
	prompt := "Scale checkout to 5 please."
	scripts.Set(prompt, callThenEcho("resources_scale", `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":5}`))
	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
	s := q.Status.Steps
	if len(s) != 1 || s[0].State != agentsv1alpha1.StepDenied || s[0].ReadOnly {
		t.Fatalf("steps = %+v", s)
	}
	if !strings.Contains(q.Status.Answer, "read-only") || !strings.Contains(q.Status.Answer, "Propose") {
		t.Errorf("the model was not told why: %q", q.Status.Answer)
	}
	if replicas(t) == 5 {
		t.Error("a read-only query scaled the deployment")
	}
}

func TestModelErrorsAndMalformedCalls(t *testing.T) {
	t.Run("malformed tool-call JSON is answered as a tool error", func(t *testing.T) {
		prompt := "Malformed please."
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			if res := req.ToolResults(); len(res) > 0 {
				return llmtest.Reply{Text: "I got: " + res[0].Text()}
			}
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_list", Args: `{"resource": "pods", "names`}}}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
		if s := q.Status.Steps; len(s) != 1 || s[0].State != agentsv1alpha1.StepFailed || !strings.Contains(s[0].Error, "not a valid JSON object") {
			t.Fatalf("steps = %+v", s)
		}
		if !strings.Contains(q.Status.Answer, "valid JSON") {
			t.Errorf("answer = %q", q.Status.Answer)
		}
	})
	t.Run("unknown tool and wrong argument types", func(t *testing.T) {
		prompt := "Use odd tools."
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			if res := req.ToolResults(); len(res) > 0 {
				return llmtest.Reply{Text: res[0].Text() + " | " + res[1].Text()}
			}
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "shell", Args: `{"cmd":"rm -rf /"}`}, {Name: "resources_get", Args: `{"resource":"pods","name":42}`}}}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
		if !strings.Contains(q.Status.Answer, `unknown tool "shell"`) || !strings.Contains(q.Status.Answer, "resources_list") || !strings.Contains(q.Status.Answer, "invalid arguments") {
			t.Errorf("answer = %q", q.Status.Answer)
		}
	})
	t.Run("an answer with no tool calls", func(t *testing.T) {
		prompt := "Just say hi."
		scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "Hi.\nNothing to check."} })
		q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
		if q.Status.Answer != "Hi.\nNothing to check." || q.Status.Summary != "Hi." || len(q.Status.Steps) != 0 {
			t.Errorf("status = %+v", q.Status)
		}
	})
	t.Run("429 with Retry-After, then 500, then success", func(t *testing.T) {
		prompt := "Flaky provider."
		n := 0
		scripts.Set(prompt, func(llmtest.Request) llmtest.Reply {
			n++
			switch n {
			case 1:
				return llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "1"}, Body: `{"error":{"message":"slow down","type":"rate_limit_exceeded"}}`}
			case 2:
				return llmtest.Reply{Status: 500, Body: `{"error":{"message":"boom","type":"server_error"}}`}
			}
			return llmtest.Reply{Text: "Recovered."}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
		if q.Status.Answer != "Recovered." || n != 3 {
			t.Errorf("answer %q after %d calls", q.Status.Answer, n)
		}
	})
	t.Run("authentication failure fails the query clearly", func(t *testing.T) {
		prompt := "Bad key."
		scripts.Set(prompt, func(llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Status: 401, Body: `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QueryFailed)
		assertCondition(t, q, agent.ConditionRunning, agent.ReasonModelError, "API key")
	})
	t.Run("a model call that times out", func(t *testing.T) {
		prompt := "Too slow."
		scripts.Set(prompt, func(llmtest.Request) llmtest.Reply {
			<-timeAfter(3)
			return llmtest.Reply{Text: "late"}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Model = "impatient" }), agentsv1alpha1.QueryFailed)
		assertCondition(t, q, agent.ConditionRunning, agent.ReasonModelError, "")
		if !strings.Contains(strings.ToLower(q.Status.Summary), "timed out") && !strings.Contains(strings.ToLower(q.Status.Summary), "timeout") {
			t.Errorf("summary does not say it timed out: %q", q.Status.Summary)
		}
	})
}

func TestBadInputFailsWithAClearCondition(t *testing.T) {
	cases := []struct {
		name, reason, say string
		edit              func(*agentsv1alpha1.AgentQuery)
	}{
		{"unknown model", agent.ReasonUnknownModel, "nope", func(q *agentsv1alpha1.AgentQuery) { q.Spec.Model = "nope" }},
		{"unknown profile", agent.ReasonUnknownProfile, "ghost", func(q *agentsv1alpha1.AgentQuery) { q.Spec.Profile = "ghost" }},
		{"mode the profile forbids", agent.ReasonModeNotAllowed, "Auto", func(q *agentsv1alpha1.AgentQuery) { q.Spec.Mode = new(agentsv1alpha1.ModeAuto) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := waitFor(t, ask(t, admin, "team-a", "bad input "+tc.name, tc.edit), agentsv1alpha1.QueryFailed)
			assertCondition(t, q, agent.ConditionAccepted, tc.reason, tc.say)
			if q.Status.Usage.LLMCalls != 0 {
				t.Errorf("the model was called for a rejected query: %+v", q.Status.Usage)
			}
		})
	}
}

// A query applied together with its session, before it (kubectl apply -f dir, GitOps),
// waits for the session rather than failing.
func TestAQueryWaitsForItsSession(t *testing.T) {
	prompt := "Is my session there?"
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "yes"} })
	q := ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "late"}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := get(t, q)
		c := meta.FindStatusCondition(got.Status.Conditions, agent.ConditionAccepted)
		if got.Status.Phase == agentsv1alpha1.QueryPending && c != nil && c.Reason == agent.ReasonSessionNotFound && strings.Contains(c.Message, "waiting") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query did not wait for its session: %+v", got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := &agentsv1alpha1.AgentSession{}
	s.Name, s.Namespace = "late", "team-a"
	if err := alice.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(t, q, agentsv1alpha1.QuerySucceeded); got.Status.Answer != "yes" {
		t.Errorf("answer = %q", got.Status.Answer)
	}
}
