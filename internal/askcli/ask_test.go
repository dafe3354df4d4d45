package askcli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

func TestOneShotAnswer(t *testing.T) {
	t.Parallel()
	prompt := "How many replicas does checkout want?"
	scripts.Set(prompt, callThen("resources_get", `{"resource":"deployment","name":"checkout","namespace":"team-a"}`, func(res string) string {
		if !strings.Contains(res, "replicas:") {
			return "the tool result has no replicas: " + res
		}
		return "Checkout wants **2 replicas**."
	}))
	r := kubectlAsk(t, "alice", "", prompt)
	if r.code != exitcode.Answered {
		t.Fatalf("want exit 0\n%s", r)
	}
	if strings.TrimSpace(r.out) != "Checkout wants **2 replicas**." {
		t.Errorf("stdout should be the answer alone, as markdown text (not a terminal)\n%s", r)
	}
	mustContain(t, r, "stderr", "✓ s1 kubectl get deployment checkout -n team-a -o yaml")
	mustContain(t, r, "stderr", "└ apiVersion: apps/v1")
}

func TestSessionFollowUpAndSessions(t *testing.T) {
	t.Parallel()
	first, second := "Remember the number 42.", "Which number did I ask you to remember?"
	scripts.Set(first, reply("Noted: 42."))
	scripts.Set(second, func(req llmtest.Request) llmtest.Reply {
		for _, m := range req.Messages {
			if strings.Contains(m.Text(), first) {
				return llmtest.Reply{Text: "You asked me to remember 42."}
			}
		}
		return llmtest.Reply{Text: "I have no earlier context."}
	})
	r := kubectlAsk(t, "alice", "", "-s", "numbers", first)
	if r.code != 0 {
		t.Fatalf("first question:\n%s", r)
	}
	mustContain(t, r, "stderr", "Created session numbers in namespace team-a")
	r = kubectlAsk(t, "alice", "", "--session", "numbers", second)
	if r.code != 0 || !strings.Contains(r.out, "You asked me to remember 42.") {
		t.Fatalf("the follow-up did not see the first question:\n%s", r)
	}

	// The session names no model: the column says which one the default is (issue 15 §9),
	// and `sessions list` is `sessions`.
	// The session's query count is written by the operator a moment after the answer.
	want := regexp.MustCompile(`(?m)^numbers\s+fake \(default\)\s+ReadOnly\s+2\s+alice\s`)
	for _, args := range [][]string{{"sessions"}, {"sessions", "list"}} {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			r = kubectlAsk(t, "alice", "", args...)
			if r.code == 0 && want.MatchString(r.out) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%v should list numbers with the default model fake, 2 queries and participant alice:\n%s", args, r)
				break
			}
		}
	}
	r = kubectlAsk(t, "alice", "", "sessions", "show", "numbers")
	if r.code != 0 || !strings.Contains(r.out, "(model fake (default), mode ReadOnly") || !strings.Contains(r.out, "alice asked") || strings.Index(r.out, first) > strings.Index(r.out, second) || !strings.Contains(r.out, "Noted: 42.") {
		t.Errorf("sessions show should tell the conversation in order:\n%s", r)
	}
	r = kubectlAsk(t, "alice", "", "sessions", "delete", "numbers")
	if r.code != 0 {
		t.Fatalf("sessions delete:\n%s", r)
	}
	err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "numbers"}, &agentsv1alpha1.AgentSession{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the session is still there: %v", err)
	}
}

var approveHint = regexp.MustCompile(`kubectl ask approve (ask-[a-z0-9]+) -n team-a`)

// proposeScale asks, in Propose mode, for checkout to be scaled to n; the model
// proposes it and, once it has a result, echoes it.
func proposeScale(t *testing.T, n string) (query string) {
	t.Helper()
	prompt := "Please scale checkout to " + n + "."
	scripts.Set(prompt, callThen("resources_scale", `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":`+n+`}`,
		func(res string) string { return "Result: " + res }))
	r := kubectlAsk(t, "alice", "", "--mode", "Propose", "--profile", "operate", prompt)
	if r.code != exitcode.AwaitingApproval {
		t.Fatalf("want exit 3 (awaiting approval)\n%s", r)
	}
	mustContain(t, r, "stderr", "? s1 proposed kubectl scale deployment/checkout --replicas="+n+" -n team-a")
	m := approveHint.FindStringSubmatch(r.errOut)
	if m == nil {
		t.Fatalf("no approve hint\n%s", r)
	}
	return m[1]
}

func TestApproveAndDeny(t *testing.T) {
	// Both scale the same deployment: not parallel with each other.
	t.Run("approve", func(t *testing.T) {
		q := proposeScale(t, "4")
		r := kubectlAsk(t, "alice", "", "approve", q, "--yes")
		if r.code != exitcode.Answered {
			t.Fatalf("approve:\n%s", r)
		}
		// The exact change: a server dry run as alice, diffed against the live object.
		mustContain(t, r, "stderr", "-  replicas: 2")
		mustContain(t, r, "stderr", "+  replicas: 4")
		mustContain(t, r, "stderr", "Approved s1 of query "+q)
		mustContain(t, r, "stderr", "✓ s1 kubectl scale deployment/checkout --replicas=4 -n team-a")
		mustContain(t, r, "stdout", "scaled to 4")
	})
	t.Run("deny with confirmation", func(t *testing.T) {
		q := proposeScale(t, "9")
		r := kubectlAsk(t, "alice", "n\n", "deny", q)
		if r.code != exitcode.AwaitingApproval || !strings.Contains(r.errOut, "Nothing decided.") {
			t.Fatalf("answering no should decide nothing, exit 3:\n%s", r)
		}
		r = kubectlAsk(t, "alice", "", "deny", q)
		if r.code != exitcode.Usage || !strings.Contains(r.errOut, "--yes") {
			t.Fatalf("no confirmation on stdin should be a usage error naming --yes:\n%s", r)
		}
		r = kubectlAsk(t, "alice", "y\n", "deny", q, "s1")
		if r.code != exitcode.Answered {
			t.Fatalf("deny:\n%s", r)
		}
		mustContain(t, r, "stderr", "Deny s1 of query "+q+"? [y/N]")
		mustContain(t, r, "stderr", "⊘ s1 denied kubectl scale deployment/checkout --replicas=9 -n team-a")
		mustContain(t, r, "stdout", "denied by alice")
	})
	t.Run("nothing to approve", func(t *testing.T) {
		prompt := "A question with nothing to approve."
		scripts.Set(prompt, reply("Fine."))
		r := kubectlAsk(t, "alice", "", "--wait=false", prompt)
		q := strings.TrimSpace(r.out)
		waitPhase(t, q, agentsv1alpha1.QuerySucceeded)
		r = kubectlAsk(t, "alice", "", "approve", q, "--yes")
		if r.code != exitcode.Failed || !strings.Contains(r.errOut, "no proposed step waiting") {
			t.Errorf("approve of an answered query:\n%s", r)
		}
	})
}

func TestWaitFalseThenAttachAndLogs(t *testing.T) {
	t.Parallel()
	prompt := "List the pods of team-a, asynchronously."
	scripts.Set(prompt, callThen("resources_list", `{"resource":"pods","namespace":"team-a"}`, func(res string) string {
		return "The pods: " + res
	}))
	r := kubectlAsk(t, "alice", "", "--wait=false", prompt)
	name := strings.TrimSpace(r.out)
	if r.code != 0 || !strings.HasPrefix(name, "ask-") || strings.Contains(name, "\n") {
		t.Fatalf("--wait=false should print the query name alone:\n%s", r)
	}
	r = kubectlAsk(t, "alice", "", "attach", name)
	if r.code != 0 || !strings.Contains(r.out, "checkout-1") {
		t.Fatalf("attach:\n%s", r)
	}
	mustContain(t, r, "stderr", "✓ s1 kubectl get pods -n team-a")

	r = kubectlAsk(t, "alice", "", "logs", name)
	if r.code != 0 {
		t.Fatalf("logs:\n%s", r)
	}
	for _, want := range []string{"s1 resources_list Done", "$ kubectl get pods -n team-a", `"resource": "pods"`, "checkout-1", "Phase: Succeeded"} {
		mustContain(t, r, "stdout", want)
	}
	r = kubectlAsk(t, "alice", "", "get")
	if r.code != 0 || !regexp.MustCompile(name+`\s+-\s+alice\s+Succeeded`).MatchString(r.out) {
		t.Errorf("get should list the query:\n%s", r)
	}
	r = kubectlAsk(t, "alice", "", "get", name)
	if r.code != 0 || !strings.Contains(r.out, "Requester:") || !strings.Contains(r.out, "The pods:") {
		t.Errorf("get QUERY should describe it:\n%s", r)
	}
}

func TestJSONOutput(t *testing.T) {
	t.Parallel()
	prompt := "Say hello in JSON land."
	scripts.Set(prompt, reply("Hello."))
	r := kubectlAsk(t, "alice", "", "-o", "json", prompt)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	var q agentsv1alpha1.AgentQuery
	if err := json.Unmarshal([]byte(r.out), &q); err != nil {
		t.Fatalf("stdout is not an AgentQuery in JSON: %v\n%s", err, r)
	}
	if q.Kind != "AgentQuery" || q.APIVersion != "agents.kubeask.dev/v1alpha1" || q.Status.Phase != agentsv1alpha1.QuerySucceeded ||
		q.Status.Answer != "Hello." || q.Spec.Requester == nil || q.Spec.Requester.Username != "alice" {
		t.Errorf("unexpected query: %+v", q)
	}
	r = kubectlAsk(t, "alice", "", "get", q.Name, "-o", "name")
	if strings.TrimSpace(r.out) != "agentquery.agents.kubeask.dev/"+q.Name {
		t.Errorf("-o name:\n%s", r)
	}
}

func TestExitCodes(t *testing.T) {
	t.Run("unknown model fails with the query's reason", func(t *testing.T) {
		t.Parallel()
		r := kubectlAsk(t, "alice", "", "--model", "no-such-model", "Which model am I?")
		if r.code != exitcode.Failed {
			t.Fatalf("want 1\n%s", r)
		}
		mustContain(t, r, "stderr", "failed (UnknownModel)")
		mustContain(t, r, "stderr", "no-such-model")
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		prompt := "A question the model never answers."
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			<-req.Context.Done() // until the query's 10s timeout ends the call
			return llmtest.Reply{Text: "too late"}
		})
		r := kubectlAsk(t, "alice", "", "--timeout", "10s", prompt)
		if r.code != exitcode.Cancelled {
			t.Fatalf("want 4\n%s", r)
		}
		mustContain(t, r, "stderr", "failed (Timeout)")
	})
	t.Run("usage errors send nothing", func(t *testing.T) {
		t.Parallel()
		long := strings.Repeat("x", agentsv1alpha1.MaxPromptLength+1)
		for _, args := range [][]string{{long}, {"--mode", "Sometimes", "q"}, {"--timeout", "1s", "q"}, {}, {"--no-such-flag"}, {"logs"}, {"-o", "xml", "q"}} {
			r := kubectlAsk(t, "alice", "", args...)
			if r.code != exitcode.Usage {
				t.Errorf("%.40q: want 2\n%.400s", args, r)
			}
		}
		r := kubectlAsk(t, "alice", "", long)
		mustContain(t, r, "stderr", "the question is 16385 bytes long; the limit is 16384 bytes")
	})
	t.Run("no operator", func(t *testing.T) {
		t.Parallel()
		r := kubectlAsk(t, "bare", "", "Is kubeask here?")
		if r.code != exitcode.NoOperator {
			t.Fatalf("want 5\n%s", r)
		}
		mustContain(t, r, "stderr", "kubeask is not installed in this cluster")
		mustContain(t, r, "stderr", "helm install kubeask charts/kubeask")
		mustContain(t, r, "stderr", "docs/install.md")
		r = kubectlAsk(t, "bare", "", "-s", "s1", "Is kubeask here?")
		if r.code != exitcode.NoOperator {
			t.Errorf("with a session, want 5\n%s", r)
		}
		r = kubectlAsk(t, "bare", "", "sessions")
		if r.code != exitcode.NoOperator {
			t.Errorf("sessions: want 5\n%s", r)
		}
	})
}

func TestRBACDenial(t *testing.T) {
	t.Parallel()
	r := kubectlAsk(t, "carol", "", "May I ask?")
	if r.code != exitcode.Failed {
		t.Fatalf("want 1\n%s", r)
	}
	mustContain(t, r, "stderr", `User "carol" cannot create resource "agentqueries"`)
	mustContain(t, r, "stderr", `You need the RBAC permission "create" on agentqueries.agents.kubeask.dev in namespace team-a`)
}

func TestAllContexts(t *testing.T) {
	t.Parallel()
	prompt := "Which cluster is this?"
	scripts.Set(prompt, reply("This is the main cluster."))
	r := kubectlAsk(t, "multi", "", "--all-contexts", prompt)
	if r.code != exitcode.NoOperator {
		t.Errorf("the first failing context (bare) decides: want 5\n%s", r)
	}
	bareAt, mainAt := strings.Index(r.out, "── context bare ──"), strings.Index(r.out, "── context main ──")
	if bareAt < 0 || mainAt < bareAt {
		t.Fatalf("want a section per context, in order:\n%s", r)
	}
	if !strings.Contains(r.out[bareAt:mainAt], "kubeask is not installed") || !strings.Contains(r.out[mainAt:], "This is the main cluster.") {
		t.Errorf("each section should hold its cluster's outcome:\n%s", r)
	}
	r = kubectlAsk(t, "multi", "", "--contexts", "main", "-o", "json", prompt)
	var list agentsv1alpha1.AgentQueryList
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || r.code != 0 || len(list.Items) != 1 || list.Items[0].Annotations["kubeask.dev/context"] != "main" {
		t.Errorf("--contexts main -o json: %v\n%s", err, r)
	}
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	prompt := "A slow question to interrupt."
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		<-req.Context.Done()
		return llmtest.Reply{Text: "too late"}
	})
	interrupt := make(chan struct{})
	go func() {
		// Ctrl-C once the query runs.
		for range 600 {
			l := &agentsv1alpha1.AgentQueryList{}
			if err := admin.List(t.Context(), l, client.InNamespace("team-a")); err == nil {
				for _, q := range l.Items {
					if q.Spec.Prompt == prompt && q.Status.Phase == agentsv1alpha1.QueryRunning {
						close(interrupt)
						return
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	r := kubectlAskInterruptible(t, interrupt, "alice", "", "--cancel-on-interrupt", prompt)
	if r.code != exitcode.Cancelled {
		t.Fatalf("want 4\n%s", r)
	}
	mustContain(t, r, "stderr", "Interrupted: deleted query")
	name := regexp.MustCompile(`deleted query (ask-[a-z0-9]+)`).FindStringSubmatch(r.errOut)
	if name == nil {
		t.Fatal(r)
	}
	err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name[1]}, &agentsv1alpha1.AgentQuery{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the query was not deleted: %v", err)
	}
}

func waitPhase(t *testing.T, name string, phase agentsv1alpha1.QueryPhase) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		q := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name}, q); err == nil && q.Status.Phase == phase {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s did not reach %s", name, phase)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
