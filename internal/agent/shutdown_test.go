package agent_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// TestAShutdownLeavesTheQueryForTheNextRun: the operator stopping (SIGTERM in a rolling
// update) while the model is answering is not the query's timeout. The query stays as it
// was, and the next operator finishes it.
func TestAShutdownLeavesTheQueryForTheNextRun(t *testing.T) {
	contractFixture(t)
	started := make(chan struct{}, 1)
	var calls atomic.Int32
	model := llmtest.NewServer(func(req llmtest.Request) llmtest.Reply {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-req.Context.Done() // the operator stops mid-call
			return llmtest.Reply{Status: 503, Body: "gone"}
		}
		return llmtest.Reply{Text: "Answered after the restart."}
	})
	defer model.Close()
	catalogPath, keys := contractCatalog(t, llmtest.OpenAI, model.URL)
	q := ask(t, alice, contractNamespace, "Answer across a restart.", nil)
	key := client.ObjectKeyFromObject(q)

	ctx, stop := context.WithCancel(t.Context())
	go func() {
		<-started
		stop()
	}()
	err := newOperatorWith(t, operatorCfg, catalogPath, keys).Run(ctx, key)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run stopped with %v, want context.Canceled", err)
	}
	got := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(t.Context(), key, got); err != nil {
		t.Fatal(err)
	}
	// Left Running, never Failed, with the model call it made counted.
	if got.Status.Phase != agentsv1alpha1.QueryRunning || got.Status.Usage.LLMCalls != 1 {
		t.Fatalf("after a shutdown the query is %s (%s) with %d model calls, want it Running for the next leader, with 1",
			got.Status.Phase, got.Status.Summary, got.Status.Usage.LLMCalls)
	}

	if err := newOperatorWith(t, operatorCfg, catalogPath, keys).Run(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if err := admin.Get(t.Context(), key, got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != agentsv1alpha1.QuerySucceeded || got.Status.Answer != "Answered after the restart." {
		t.Fatalf("after the restart: phase %s, answer %q", got.Status.Phase, got.Status.Answer)
	}
	if got.Status.Usage.LLMCalls != 2 {
		t.Errorf("usage.llmCalls = %d across a restart, want 2 (the interrupted call and the answer)", got.Status.Usage.LLMCalls)
	}
}
