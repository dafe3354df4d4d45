package agent_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// failingStatusWrites makes a's status writes go through fail first: a non-nil error
// is returned instead of sending the patch.
func failingStatusWrites(t *testing.T, a *agent.Agent, fail func(body []byte) error) {
	t.Helper()
	c, err := client.NewWithWatch(operatorCfg, client.Options{Scheme: cluster.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	a.Client = interceptor.NewClient(c, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			body, err := patch.Data(obj)
			if err != nil {
				return err
			}
			if err := fail(body); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
}

func TestTransientStatusWriteErrorsAreRetried(t *testing.T) {
	crashFixture(t, "flaky-writes")
	prompt := "Add an env var to flaky-writes."
	scripts.Set(prompt, appendEnvScript("flaky-writes"))
	q := autoQuery(t, prompt)
	a := newOperator(t)
	var writes atomic.Int32
	failingStatusWrites(t, a, func([]byte) error {
		switch writes.Add(1) % 3 { // every write fails twice: throttled, then unavailable
		case 1:
			return apierrors.NewTooManyRequests("slow down", 0)
		case 2:
			return apierrors.NewServiceUnavailable("the API server is restarting")
		}
		return nil
	})
	if err := a.Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatalf("a run whose status writes met 429 and 503 returned %v", err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QuerySucceeded || got.Status.Steps[0].State != agentsv1alpha1.StepDone {
		t.Fatalf("phase %s, steps %+v", got.Status.Phase, got.Status.Steps)
	}
	if n := envCount(t, "flaky-writes"); n != 1 {
		t.Errorf("the change ran %d times, want once", n)
	}
}

func TestARejectedStatusFailsTheQueryInsteadOfRetrying(t *testing.T) {
	prompt := "Status the API server refuses."
	scripts.Set(prompt, callThenEcho("resources_list", `{"resource":"pods","namespace":"crash"}`))
	crashFixture(t, "rejected")
	q := ask(t, alice, crashNamespace, prompt, nil)
	a := newOperator(t)
	failingStatusWrites(t, a, func(body []byte) error {
		if bytes.Contains(body, []byte(`"steps"`)) {
			return apierrors.NewInvalid(schema.GroupKind{Group: "agents.kubeask.dev", Kind: "AgentQuery"}, q.Name,
				field.ErrorList{field.TooLong(field.NewPath("status", "steps").Index(0).Child("output"), "", 2048)})
		}
		return nil
	})
	if err := a.Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatalf("run: %v; a rejected status must end the query, not the run", err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QueryFailed {
		t.Fatalf("phase %s, want Failed", got.Status.Phase)
	}
	assertCondition(t, got, agent.ConditionRunning, agent.ReasonStatusRejected, "Too long")
	if got.Status.Usage.LLMCalls == 0 {
		t.Error("the model calls of the run are not counted in usage")
	}
}

func TestAToolNameLongerThanTheAPIAllowsIsRecordedBounded(t *testing.T) {
	prompt := "Call a tool with an absurd name."
	long := strings.Repeat("n", 100)
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		if len(req.ToolResults()) > 0 {
			return llmtest.Reply{Text: "no such tool then"}
		}
		return llmtest.Reply{Calls: []llmtest.Call{{Name: long, Args: `{}`}}}
	})
	crashFixture(t, "long-name")
	q := ask(t, alice, crashNamespace, prompt, nil)
	if err := newOperator(t).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if !got.Status.Phase.Finished() || len(got.Status.Steps) != 1 {
		t.Fatalf("phase %s, steps %+v, conditions %+v", got.Status.Phase, got.Status.Steps, got.Status.Conditions)
	}
	if s := got.Status.Steps[0]; len(s.Tool) > 64 || s.State != agentsv1alpha1.StepFailed || !strings.Contains(s.Error, "unknown tool") {
		t.Errorf("step %+v: want the unknown tool recorded, its name cut to 64 bytes", s)
	}
}

// TestTheTimeoutCountsFromTheQueryStart: a run that starts after a restart does not get
// a fresh spec.timeout.
func TestTheTimeoutCountsFromTheQueryStart(t *testing.T) {
	contractFixture(t)
	model := llmtest.NewServer(func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "answered late"} })
	defer model.Close()
	catalogPath, keys := contractCatalog(t, llmtest.OpenAI, model.URL)
	q := ask(t, alice, contractNamespace, "Answer within 10s.", func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Second}
	})
	key := client.ObjectKeyFromObject(q)
	// An earlier run started the query a minute ago; the operator restarted since.
	started := get(t, q)
	started.Status.Phase = agentsv1alpha1.QueryRunning
	started.Status.StartTime = &metav1.Time{Time: time.Now().Add(-time.Minute)}
	if err := admin.Status().Update(t.Context(), started); err != nil {
		t.Fatal(err)
	}
	if err := newOperatorWith(t, operatorCfg, catalogPath, keys).Run(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QueryFailed {
		t.Fatalf("a query started a minute ago with a 10s timeout is %s (%q)", got.Status.Phase, got.Status.Answer)
	}
	assertCondition(t, got, agent.ConditionRunning, agent.ReasonTimeout, "counted from its start")
}

// TestWaitingForApprovalDoesNotCountTowardsTheTimeout: an hour spent waiting for a
// decision does not time out a 10s query.
func TestWaitingForApprovalDoesNotCountTowardsTheTimeout(t *testing.T) {
	crashFixture(t, "slow-approval")
	prompt := "Add an env var to slow-approval, once approved."
	scripts.Set(prompt, appendEnvScript("slow-approval"))
	q := ask(t, alice, crashNamespace, prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModePropose)
		q.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Second}
	})
	key := client.ObjectKeyFromObject(q)
	if err := newOperator(t).Run(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	// An hour passes: the query started an hour ago and has waited since a second after.
	waiting := get(t, q)
	if waiting.Status.Phase != agentsv1alpha1.QueryAwaitingApproval {
		t.Fatalf("phase %s", waiting.Status.Phase)
	}
	waiting.Status.StartTime = &metav1.Time{Time: time.Now().Add(-time.Hour)}
	meta.FindStatusCondition(waiting.Status.Conditions, agent.ConditionRunning).LastTransitionTime = metav1.Time{Time: time.Now().Add(-time.Hour + time.Second)}
	if err := admin.Status().Update(t.Context(), waiting); err != nil {
		t.Fatal(err)
	}
	if err := approve(t, alice, q, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := newOperator(t).Run(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QuerySucceeded {
		t.Fatalf("after an hour's wait for approval the query is %s: %+v", got.Status.Phase, got.Status.Conditions)
	}
	if w := got.Status.ApprovalWait; w == nil || w.Duration < 59*time.Minute {
		t.Errorf("approvalWait = %v, want about an hour", w)
	}
}

// flakyKeys fails its first reads of an API key with err, as an API server that is
// briefly unavailable would.
type flakyKeys struct {
	failures atomic.Int32
	err      error
}

func (k *flakyKeys) APIKey(context.Context, catalog.SecretKeyRef) (string, error) {
	if k.failures.Add(-1) >= 0 {
		return "", k.err
	}
	return "test-key", nil
}

func TestReadingTheAPIKey(t *testing.T) {
	contractFixture(t)
	model := llmtest.NewServer(func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "key ok"} })
	defer model.Close()
	catalogPath, _ := contractCatalog(t, llmtest.OpenAI, model.URL)
	cat, err := catalog.Load(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	operatorWithKeys := func(keys catalog.KeyResolver) *agent.Agent {
		a := newOperatorWith(t, operatorCfg, catalogPath, nil)
		a.Models = catalog.NewClients(cat, keys, catalog.ClientsOptions{})
		return a
	}

	t.Run("a transient error is retried, not a failure", func(t *testing.T) {
		q := ask(t, alice, contractNamespace, "Key flakes once.", nil)
		keys := &flakyKeys{err: apierrors.NewServiceUnavailable("etcd leader changed")}
		keys.failures.Store(1)
		a := operatorWithKeys(keys)
		if err := a.Run(t.Context(), client.ObjectKeyFromObject(q)); err == nil {
			t.Fatal("the run succeeded although the key could not be read")
		}
		if got := get(t, q); got.Status.Phase.Finished() {
			t.Fatalf("a transient error reading the key ended the query: %s %+v", got.Status.Phase, got.Status.Conditions)
		}
		if err := a.Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
			t.Fatal(err)
		}
		if got := get(t, q); got.Status.Phase != agentsv1alpha1.QuerySucceeded {
			t.Fatalf("phase %s after the key became readable", got.Status.Phase)
		}
	})
	t.Run("a key that cannot be read says so", func(t *testing.T) {
		q := ask(t, alice, contractNamespace, "Key is missing.", nil)
		keys := &flakyKeys{err: errors.New("secret kubeask-system/contract-keys not found")}
		keys.failures.Store(1000)
		if err := operatorWithKeys(keys).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
			t.Fatal(err)
		}
		assertCondition(t, get(t, q), agent.ConditionAccepted, agent.ReasonAPIKeyUnavailable, "not found")
	})
}

func TestCancel(t *testing.T) {
	t.Run("a running query stops and is Cancelled", func(t *testing.T) {
		prompt := "Think forever until cancelled."
		var calls atomic.Int32
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			if calls.Add(1) == 1 {
				<-req.Context.Done() // the model is slow; the run is cancelled meanwhile
				return llmtest.Reply{Status: 503, Body: "gone"}
			}
			return llmtest.Reply{Text: "too late"}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QueryRunning)
		if err := update(t, alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Cancel = true }); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, q, agentsv1alpha1.QueryCancelled, agentsv1alpha1.QuerySucceeded, agentsv1alpha1.QueryFailed)
		if got.Status.Phase != agentsv1alpha1.QueryCancelled {
			t.Fatalf("phase %s, want Cancelled", got.Status.Phase)
		}
		assertCondition(t, got, agent.ConditionRunning, agent.ReasonCancelled, "cancelled by alice")
		for typ, want := range map[string]metav1.ConditionStatus{
			agent.ConditionReady: metav1.ConditionFalse, agent.ConditionComplete: metav1.ConditionTrue,
			agent.ConditionReconciling: metav1.ConditionFalse, agent.ConditionStalled: metav1.ConditionTrue,
		} {
			if c := meta.FindStatusCondition(got.Status.Conditions, typ); c == nil || c.Status != want || c.Reason != agent.ReasonCancelled {
				t.Errorf("%s = %+v, want %s/Cancelled", typ, c, want)
			}
		}
		if got := get(t, q).Status.Answer; got != "" {
			t.Errorf("a cancelled query was answered: %q", got)
		}
	})
	t.Run("a query awaiting approval is Cancelled and its proposal denied", func(t *testing.T) {
		prompt := "Scale checkout to 9, but I will cancel."
		scripts.Set(prompt, proposeScale(9))
		q := waitFor(t, ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) {
			q.Spec.Profile = "operate"
			q.Spec.Mode = new(agentsv1alpha1.ModePropose)
		}), agentsv1alpha1.QueryAwaitingApproval)
		if err := update(t, alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Cancel = true }); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, q, agentsv1alpha1.QueryCancelled)
		if s := got.Status.Steps[0]; s.State != agentsv1alpha1.StepDenied || s.FullArguments != "" {
			t.Errorf("the proposal of a cancelled query: %+v", s)
		}
		if replicas(t) == 9 {
			t.Error("a cancelled proposal ran")
		}
		if err := update(t, alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Cancel = false }); err == nil || !strings.Contains(err.Error(), "cannot be undone") {
			t.Errorf("undoing a cancel: %v", err)
		}
	})
}

func TestAnsweredQueriesAreReadyAndComplete(t *testing.T) {
	prompt := "Just answer, for kubectl wait."
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "done"} })
	got := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
	for typ, want := range map[string]metav1.ConditionStatus{
		agent.ConditionReady: metav1.ConditionTrue, agent.ConditionComplete: metav1.ConditionTrue,
		agent.ConditionReconciling: metav1.ConditionFalse, agent.ConditionStalled: metav1.ConditionFalse,
	} {
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		if c == nil || c.Status != want || c.Reason != agent.ReasonAnswered || c.ObservedGeneration != got.Generation {
			t.Errorf("%s = %+v, want %s/%s at generation %d", typ, c, want, agent.ReasonAnswered, got.Generation)
		}
	}
}

// queryEvents lists the Events regarding q.
func queryEvents(t *testing.T, q *agentsv1alpha1.AgentQuery) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := admin.List(t.Context(), &list, client.InNamespace(q.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == q.UID {
			out = append(out, e)
		}
	}
	return out
}

func TestAHugeModelErrorStillMakesAnEvent(t *testing.T) {
	prompt := "Fail with a 5 MB error."
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: 400, Body: `{"error":{"message":"` + strings.Repeat("x", 5<<20) + `"}}`}
	})
	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QueryFailed)
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, e := range queryEvents(t, q) {
			if e.Reason == agent.ReasonModelError {
				if len(e.Note) > 1024 {
					t.Errorf("note of %d bytes", len(e.Note))
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no ModelError Event for the query")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDeletingARunningQueryRecordsNoFailure(t *testing.T) {
	prompt := "Be deleted while thinking."
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		<-req.Context.Done()
		return llmtest.Reply{Status: 503, Body: "gone"}
	})
	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QueryRunning)
	if err := admin.Delete(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // what a wrongly failing run would record, it records by now
	for _, e := range queryEvents(t, q) {
		if e.Type == "Warning" {
			t.Errorf("a deleted query got a %s Event: %s", e.Reason, e.Note)
		}
	}
}
