package controller_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/controller"
	"github.com/kubeask/kubeask/internal/testcluster"
)

var (
	cluster *testcluster.Cluster
	k8s     client.Client
	// clock is what the session reconciler believes the time is.
	clock = &fakeClock{}
)

type fakeClock struct{ offset atomic.Int64 }

func (f *fakeClock) Now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

// TestMain runs the controllers against a real API server with no admission policies,
// so that tests can create objects with any requester (or none) as the admin.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	cluster, err = testcluster.Start(testcluster.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = cluster.Stop() }()
	if k8s, err = cluster.Client(cluster.Admin); err != nil {
		panic(err)
	}
	mgr, err := ctrl.NewManager(cluster.Admin, ctrl.Options{
		Scheme: cluster.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := (&controller.AgentQueryReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		panic(err)
	}
	cat, err := catalogForTests()
	if err != nil {
		panic(err)
	}
	sessions := &controller.AgentSessionReconciler{Client: mgr.GetClient(), Now: clock.Now, Catalog: cat, AllowedModes: installModes}
	if err := sessions.SetupWithManager(ctx, mgr); err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		panic(err)
	}
	return code
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ctrl-"}}
	if err := k8s.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func alice() *agentsv1alpha1.Requester {
	return &agentsv1alpha1.Requester{Username: "alice", Groups: []string{"dev", "system:authenticated"}}
}

// eventually polls f until it returns nil or 20 s pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestWithoutAnAgentAQueryWaitsAndSaysWhy(t *testing.T) {
	ns := newNamespace(t)
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: ns},
		Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: "why?", Requester: alice()},
	}
	if err := k8s.Create(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "query pending", func() error {
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(q), q); err != nil {
			return err
		}
		if q.Status.Phase != agentsv1alpha1.QueryPending {
			return errors.New("phase is " + string(q.Status.Phase))
		}
		return nil
	})
	running := meta.FindStatusCondition(q.Status.Conditions, agent.ConditionRunning)
	if running == nil || running.Status != metav1.ConditionFalse || running.Reason != controller.ReasonAgentNotConfigured {
		t.Errorf("Running condition = %+v, want False/%s", running, controller.ReasonAgentNotConfigured)
	}
	if q.Status.Answer != "" || q.Status.ObservedGeneration != q.Generation {
		t.Errorf("status = %+v: want no answer and observedGeneration %d", q.Status, q.Generation)
	}
}

func TestSessionStatusFollowsItsQueries(t *testing.T) {
	ns := newNamespace(t)
	s := &agentsv1alpha1.AgentSession{
		ObjectMeta: metav1.ObjectMeta{Name: "incident", Namespace: ns},
		Spec:       agentsv1alpha1.AgentSessionSpec{Requester: alice()},
	}
	if err := k8s.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	for i, who := range []string{"alice", "bob", "alice"} {
		q := &agentsv1alpha1.AgentQuery{
			ObjectMeta: metav1.ObjectMeta{Name: "q" + string(rune('0'+i)), Namespace: ns},
			Spec: agentsv1alpha1.AgentQuerySpec{Prompt: "hi", Requester: &agentsv1alpha1.Requester{Username: who},
				SessionRef: &agentsv1alpha1.SessionReference{Name: "incident"}},
		}
		if err := k8s.Create(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "session status", func() error {
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		if s.Status.Queries != 3 || !slices.Equal(s.Status.Participants, []string{"alice", "bob"}) || s.Status.LastActivityTime == nil {
			return errors.New("status not yet complete")
		}
		return nil
	})
	if !meta.IsStatusConditionTrue(s.Status.Conditions, controller.ConditionReady) {
		t.Errorf("Ready not true: %+v", s.Status.Conditions)
	}
	eventually(t, "queries owned by the session", func() error {
		var qs agentsv1alpha1.AgentQueryList
		if err := k8s.List(t.Context(), &qs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, q := range qs.Items {
			if !slices.ContainsFunc(q.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == s.UID }) {
				return errors.New(q.Name + " not owned")
			}
		}
		return nil
	})
}

func TestIdleSessionIsDeletedAfterItsTTL(t *testing.T) {
	ns := newNamespace(t)
	keep := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: ns},
		Spec: agentsv1alpha1.AgentSessionSpec{Requester: alice()}}
	ttl := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: "ttl", Namespace: ns},
		Spec: agentsv1alpha1.AgentSessionSpec{Requester: alice(), TTLSecondsAfterIdle: new(int64(3600))}}
	for _, s := range []*agentsv1alpha1.AgentSession{keep, ttl} {
		if err := k8s.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "status written", func() error {
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(ttl), ttl); err != nil {
			return err
		}
		if ttl.Status.LastActivityTime == nil {
			return errors.New("no lastActivityTime")
		}
		return nil
	})
	// Two hours later, with one hour of TTL, the session goes; the one without TTL stays.
	clock.offset.Store(int64(2 * time.Hour))
	t.Cleanup(func() { clock.offset.Store(0) })
	// Touch the session so that it is reconciled now rather than at its requeue time.
	base := ttl.DeepCopy()
	ttl.Labels = map[string]string{"touch": "1"}
	if err := k8s.Patch(t.Context(), ttl, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "idle session deleted", func() error {
		err := k8s.Get(t.Context(), client.ObjectKeyFromObject(ttl), &agentsv1alpha1.AgentSession{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.New("still there")
	})
	if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(keep), keep); err != nil {
		t.Errorf("session without TTL: %v", err)
	}
}
