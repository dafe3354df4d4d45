package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
)

func TestDeletingAQueryCancelsItsRun(t *testing.T) {
	prompt := "Think forever."
	cancelled := make(chan struct{})
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		select {
		case <-req.Context.Done():
			close(cancelled)
		case <-time.After(50 * time.Second):
		}
		return llmtest.Reply{Text: "too late"}
	})
	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QueryRunning)
	if err := alice.Delete(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(20 * time.Second):
		t.Fatal("deleting the query did not cancel its model call")
	}
}

func TestLimitsAreEnforced(t *testing.T) {
	t.Run("maxSteps", func(t *testing.T) {
		prompt := "Loop on tools."
		// The last request keeps the tools declared (Anthropic refuses tool calls in a
		// conversation without tools) and forbids calling them.
		var lastForbade atomic.Bool
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			forbids := req.ToolChoice == "none" && len(req.Tools) > 0
			lastForbade.Store(forbids)
			if forbids {
				return llmtest.Reply{Text: "Stopped at the limit."}
			}
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "api_resources", Args: `{}`}}}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) { q.Spec.MaxSteps = 2 }), agentsv1alpha1.QuerySucceeded)
		if len(q.Status.Steps) != 2 || q.Status.Answer != "Stopped at the limit." || !lastForbade.Load() {
			t.Errorf("steps %d, answer %q; the last request must forbid tool calls", len(q.Status.Steps), q.Status.Answer)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		prompt := "Slow tools."
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			select {
			case <-time.After(4 * time.Second):
			case <-req.Context.Done():
			}
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "api_resources", Args: `{}`}}}
		})
		q := waitFor(t, ask(t, alice, "team-a", prompt, func(q *agentsv1alpha1.AgentQuery) {
			q.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Second}
		}), agentsv1alpha1.QueryFailed)
		assertCondition(t, q, agent.ConditionRunning, agent.ReasonTimeout, "10s")
	})
	t.Run("queries per hour", func(t *testing.T) {
		carolCfg, err := cluster.UserConfig("carol", "dev")
		if err != nil {
			t.Fatal(err)
		}
		carol, err := cluster.Client(carolCfg)
		if err != nil {
			t.Fatal(err)
		}
		prompt := "Carol asks."
		scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "ok"} })
		waitFor(t, ask(t, carol, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
		q := waitFor(t, ask(t, carol, "team-a", prompt, nil), agentsv1alpha1.QueryFailed)
		assertCondition(t, q, agent.ConditionAccepted, agent.ReasonQuotaExceeded, "1 queries per hour")
	})
}

func TestRunsAreRecordedAsEvents(t *testing.T) {
	prompt := "Events please."
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "fine"} })
	q := waitFor(t, ask(t, alice, "team-a", prompt, nil), agentsv1alpha1.QuerySucceeded)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list eventsv1.EventList
		if err := admin.List(t.Context(), &list, client.InNamespace("team-a")); err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.UID == q.UID {
				reasons = append(reasons, e.Reason)
			}
		}
		// One Event per run, about its end: no "Started" (docs/agent.md#throughput).
		if strings.Contains(strings.Join(reasons, ","), agent.ReasonAnswered) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of the query: %v", reasons)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTwoReplicasNeverRunTheSameQuery runs two managers with leader election on, each
// with its own model server: only the leader's model is ever called.
func TestTwoReplicasNeverRunTheSameQuery(t *testing.T) {
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "replicas"}}
	if err := admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	(&rbacBinding{ns: "replicas"}).ensure(t)
	var servers [2]*llmtest.Server
	for i := range servers {
		servers[i] = llmtest.NewServer(func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: fmt.Sprintf("replica %d", i)} })
		t.Cleanup(servers[i].Close)
		cfgFile := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("defaultModel: fake\nmodels:\n- name: fake\n  provider: openai\n  model: m\n  baseURL: %s\n", servers[i].BaseURL())), 0o600); err != nil {
			t.Fatal(err)
		}
		opts := manager.NewOptions()
		opts.ConfigPath, opts.MetricsAddr, opts.ProbeAddr = cfgFile, "0", "0"
		opts.Namespace, opts.LeaderElect, opts.LeaderElectionID = "kubeask-system", true, "replicas-test"
		opts.WatchNamespaces = []string{"replicas"}
		opts.GracefulShutdown = 5 * time.Second
		opts.SeveralPerProcess = true
		opts.Complete()
		runCtx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log))
		done := make(chan error, 1)
		go func() { done <- opts.Run(runCtx, operatorCfg) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		})
	}
	var queries []*agentsv1alpha1.AgentQuery
	for range 6 {
		queries = append(queries, ask(t, alice, "replicas", "Which replica?", nil))
	}
	answers := map[string]int{}
	for _, q := range queries {
		answers[waitFor(t, q, agentsv1alpha1.QuerySucceeded).Status.Answer]++
	}
	if len(answers) != 1 || servers[0].Calls()+servers[1].Calls() != 6 || (servers[0].Calls() != 0 && servers[1].Calls() != 0) {
		t.Errorf("answers %v; model calls %d and %d: want all six runs on one replica, each once", answers, servers[0].Calls(), servers[1].Calls())
	}
}
