package agent_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
)

// patchLog counts the status patches an operator client sends and remembers the
// LLMCalls counter of each, which the tests use as the status's version.
type patchLog struct {
	mu       sync.Mutex
	versions []int32
}

func (l *patchLog) client(t *testing.T) client.Client {
	t.Helper()
	c, err := client.NewWithWatch(operatorCfg, client.Options{Scheme: cluster.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			err := c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			if err == nil {
				l.mu.Lock()
				l.versions = append(l.versions, obj.(*agentsv1alpha1.AgentQuery).Status.Usage.LLMCalls)
				l.mu.Unlock()
			}
			return err
		},
	})
}

func (l *patchLog) get() []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int32(nil), l.versions...)
}

// unwatchedQuery creates a query in a namespace no manager of these tests watches, so
// that only the writer under test writes its status.
func unwatchedQuery(t *testing.T) *agentsv1alpha1.AgentQuery {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "writer-"}}
	if err := admin.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	(&rbacBinding{ns: ns.Name}).ensure(t)
	return ask(t, alice, ns.Name, "status writer", nil)
}

func TestStatusWriterCoalescesProgressAndWritesTheEndAtOnce(t *testing.T) {
	q := unwatchedQuery(t)
	var log patchLog
	w := agent.NewStatusWriter(t.Context(), log.client(t), admin, q, "test-run", time.Hour)
	defer w.Stop()

	st := &agentsv1alpha1.AgentQueryStatus{Phase: agentsv1alpha1.QueryRunning}
	for v := int32(1); v <= 50; v++ {
		st.Usage.LLMCalls = v
		if err := w.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	// The first save is written at once (no write happened within the interval); the
	// others wait for the interval, an hour here, or for a write.
	deadline := time.Now().Add(10 * time.Second)
	for len(log.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := log.get(); len(got) != 1 {
		t.Fatalf("50 saves within the interval made %d patches (%v), want 1", len(got), got)
	}
	st.Usage.LLMCalls, st.Phase = 51, agentsv1alpha1.QuerySucceeded
	if err := w.Write(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	// write returned: the end is persisted, without waiting for the interval.
	if got := get(t, q); got.Status.Phase != agentsv1alpha1.QuerySucceeded || got.Status.Usage.LLMCalls != 51 {
		t.Fatalf("after write: phase %s, version %d", got.Status.Phase, got.Status.Usage.LLMCalls)
	}
	if got := log.get(); len(got) != 2 || got[1] != 51 {
		t.Fatalf("patches %v, want the first save then the write (51)", got)
	}
}

func TestStatusWriterNeverWritesAnOlderStatusAfterANewerOne(t *testing.T) {
	q := unwatchedQuery(t)
	var log patchLog
	w := agent.NewStatusWriter(t.Context(), log.client(t), admin, q, "test-run", 0)
	defer w.Stop()

	// One goroutine, as in a run: saves race with the flusher; every tenth is a write.
	st := &agentsv1alpha1.AgentQueryStatus{Phase: agentsv1alpha1.QueryRunning}
	for v := int32(1); v <= 200; v++ {
		st.Usage.LLMCalls = v
		var err error
		if v%10 == 0 {
			err = w.Write(t.Context(), st)
		} else {
			err = w.Save(st)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	got := log.get()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("patch %d wrote version %d after version %d: %v", i, got[i], got[i-1], got)
		}
	}
	if got[len(got)-1] != 200 || get(t, q).Status.Usage.LLMCalls != 200 {
		t.Fatalf("the last write was %d, the query has %d; want 200", got[len(got)-1], get(t, q).Status.Usage.LLMCalls)
	}
	t.Logf("200 statuses (20 written synchronously) took %d patches", len(got))
}

func TestStatusWriterReportsADeletedQuery(t *testing.T) {
	q := unwatchedQuery(t)
	var log patchLog
	w := agent.NewStatusWriter(t.Context(), log.client(t), admin, q, "test-run", 0)
	defer w.Stop()
	if err := admin.Delete(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	st := &agentsv1alpha1.AgentQueryStatus{Phase: agentsv1alpha1.QueryRunning}
	if err := w.Write(t.Context(), st); !errors.Is(err, agent.ErrQueryGone) {
		t.Fatalf("write after delete: %v, want ErrQueryGone", err)
	}
	// A background write that finds the query gone makes the next save fail, so the
	// run stops.
	w2 := agent.NewStatusWriter(t.Context(), log.client(t), admin, q, "test-run", 0)
	defer w2.Stop()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		err = w2.Save(st)
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(err, agent.ErrQueryGone) {
		t.Fatalf("save after a background write found the query gone: %v, want ErrQueryGone", err)
	}
}

// TestProgressWritesShareABudget: with many runs at once, progress is written within a
// budget shared by all writers, while what must be durable is written at once.
func TestProgressWritesShareABudget(t *testing.T) {
	budget := rate.NewLimiter(2, 1) // 2 progress writes a second, for everyone
	var log patchLog
	const writers = 5
	var ws []*agent.StatusWriter
	for range writers {
		q := unwatchedQuery(t)
		w := agent.NewStatusWriter(t.Context(), log.client(t), admin, q, "test-run", 0)
		w.SetProgressBudget(budget)
		defer w.Stop()
		ws = append(ws, w)
	}
	st := &agentsv1alpha1.AgentQueryStatus{Phase: agentsv1alpha1.QueryRunning}
	start := time.Now()
	for v := int32(1); time.Since(start) < 1500*time.Millisecond; v++ {
		st.Usage.LLMCalls = v
		for _, w := range ws {
			if err := w.Save(st); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	// 1.5 s at 2 a second after a burst of 1: at most 4 progress writes in all, where
	// each of the 5 writers would otherwise write every 10 ms.
	if n := len(log.get()); n > 4 {
		t.Errorf("%d progress writes in 1.5 s, want at most 4 within the shared budget", n)
	}
	// The budget is spent, but the end of a run does not wait for it.
	before := len(log.get())
	writeStart := time.Now()
	st.Phase = agentsv1alpha1.QuerySucceeded
	for _, w := range ws {
		if err := w.Write(t.Context(), st); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(writeStart); took > time.Second || len(log.get()) < before+writers {
		t.Errorf("5 final writes took %s and made %d patches: they must not wait for the progress budget", took, len(log.get())-before)
	}
}
