package engine_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/engine"
)

// BenchmarkEventStorm sends 1,000 Warning events about 200 pods to a cluster with one
// event trigger (cooldown 1h, 10 queries per hour), and, in the same run, 1,000 events
// that no trigger matches, as the baseline. It reports the queries created, the
// operator's API requests per event and the process CPU per event of each phase; the
// ratios say what the triggers cost on top of watching events.
func BenchmarkEventStorm(b *testing.B) {
	for i := range b.N {
		tr := &agentsv1alpha1.AgentTrigger{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("storm-bench-%d", i), Namespace: "team-a"},
			Spec: agentsv1alpha1.AgentTriggerSpec{
				Events: &agentsv1alpha1.EventSource{Reasons: []string{"BenchBackOff"}, MaxQueriesPerHour: 10},
				Query:  agentsv1alpha1.QueryTemplate{Prompt: "[bench] why is {{.Object}} failing?"},
			},
		}
		if err := users["alice"].Create(b.Context(), tr); err != nil {
			b.Fatal(err)
		}
		waitReadyB(b, tr)
		base := storm(b, i, "BenchUnmatched")
		trig := storm(b, i, "BenchBackOff")
		var queries agentsv1alpha1.AgentQueryList
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := admin.List(b.Context(), &queries, clientInNamespace("team-a"), clientLabels(tr.Name)); err != nil {
				b.Fatal(err)
			}
			st := &agentsv1alpha1.AgentTrigger{}
			if err := admin.Get(b.Context(), clientKey(tr), st); err != nil {
				b.Fatal(err)
			}
			if s := st.Status; s.Fired+s.SuppressedByCooldown+s.SuppressedByLimit >= 200 || time.Now().After(deadline) {
				b.Logf("status: fired=%d cooldown=%d limit=%d", s.Fired, s.SuppressedByCooldown, s.SuppressedByLimit)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(queries.Items) > 10 {
			b.Fatalf("%d queries from one storm, want at most 10 (maxQueriesPerHour)", len(queries.Items))
		}
		b.ReportMetric(float64(len(queries.Items)), "queries")
		b.ReportMetric(trig.requests/1000, "api-req/event")
		b.ReportMetric(base.requests/1000, "baseline-api-req/event")
		b.ReportMetric(trig.cpu.Seconds()*1000/1000, "cpu-ms/event")
		b.ReportMetric(base.cpu.Seconds()*1000/1000, "baseline-cpu-ms/event")
		b.ReportMetric(trig.cpu.Seconds()/base.cpu.Seconds(), "cpu-ratio")
	}
}

type phase struct {
	requests float64
	cpu      time.Duration
}

// storm creates 1,000 events (5 repeats for each of 200 pods, as a crash loop would) and
// waits until the operator has been idle for a second.
func storm(b *testing.B, run int, reason string) phase {
	b.Helper()
	startReq, startCPU := operatorRequests.Load(), cpuTime()
	for n := range 1000 {
		pod := fmt.Sprintf("bench-%d-%d", run, n%200)
		now := metav1.NewTime(clock.Now())
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: pod + ".", Namespace: "team-a"},
			InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "team-a", Name: pod, UID: types.UID(pod)},
			Reason:         reason, Message: "Back-off restarting failed container", Type: corev1.EventTypeWarning,
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
		if err := admin.Create(b.Context(), ev); err != nil {
			b.Fatal(err)
		}
	}
	// Idle: no operator request for a second.
	last := operatorRequests.Load()
	for {
		time.Sleep(time.Second)
		cur := operatorRequests.Load()
		if cur == last {
			break
		}
		last = cur
	}
	return phase{requests: float64(last - startReq), cpu: cpuTime() - startCPU}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func waitReadyB(b *testing.B, tr *agentsv1alpha1.AgentTrigger) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		cur := &agentsv1alpha1.AgentTrigger{}
		if err := admin.Get(b.Context(), clientKey(tr), cur); err == nil && engine.Armed(cur) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("trigger never became Ready")
}
