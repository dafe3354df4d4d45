package askcli_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/proposal"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// Two decisions made at the same moment both count. Both read the query before either
// writes, so each computes its list of denials from the same version of the query; the
// patch carries that resourceVersion, the later one is refused with a conflict and
// computed again, and neither decision is lost. (Denials, because they are plain step
// ids; approvals go through the same patch.)
func TestConcurrentDecisionsBothCount(t *testing.T) {
	ctx := t.Context()
	// Deployments of its own, so that no other test's scaling interferes.
	for _, name := range []string{"race-a", "race-b"} {
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
			Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
				},
			},
		}
		if err := admin.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	prompt := "Please scale race-a and race-b to 3."
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		if res := req.ToolResults(); len(res) > 0 {
			var texts []string
			for _, m := range res {
				texts = append(texts, m.Text())
			}
			return llmtest.Reply{Text: "Done: " + strings.Join(texts, "; ")}
		}
		return llmtest.Reply{Calls: []llmtest.Call{
			{Name: "resources_scale", Args: `{"resource":"deployment","name":"race-a","namespace":"team-a","replicas":3}`},
			{Name: "resources_scale", Args: `{"resource":"deployment","name":"race-b","namespace":"team-a","replicas":3}`},
		}}
	})
	r := kubectlAsk(t, "alice", "", "--mode", "Propose", "--profile", "operate", prompt)
	m := approveHint.FindStringSubmatch(r.errOut)
	if r.code != exitcode.AwaitingApproval || m == nil {
		t.Fatalf("want exit 3 and an approve hint\n%s", r)
	}
	key := client.ObjectKey{Namespace: "team-a", Name: m[1]}
	q := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(ctx, key, q); err != nil {
		t.Fatal(err)
	}
	if len(q.Status.Steps) != 2 || q.Status.Steps[0].State != agentsv1alpha1.StepProposed || q.Status.Steps[1].State != agentsv1alpha1.StepProposed {
		t.Fatalf("want two proposed steps, got %+v", q.Status.Steps)
	}

	var bothRead sync.WaitGroup
	bothRead.Add(2)
	decide := func(step string) error {
		cfg := userConfigs["alice"]
		base, err := client.NewWithWatch(cfg, client.Options{Scheme: kube.Scheme()})
		if err != nil {
			return err
		}
		var first sync.Once
		c := &kube.Client{Config: cfg, Namespace: "team-a", WithWatch: interceptor.NewClient(base, interceptor.Funcs{
			Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				err := cl.Get(ctx, key, obj, opts...)
				first.Do(func() { bothRead.Done(); bothRead.Wait() })
				return err
			},
		})}
		_, err = proposal.Decide(ctx, c, key, []string{step}, false)
		return err
	}
	errs := make(chan error, 2)
	for _, step := range []string{"s1", "s2"} {
		go func() { errs <- decide(step) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("deciding: %v", err)
		}
	}
	if err := admin.Get(ctx, key, q); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(q.Spec.Denials, "s1") || !slices.Contains(q.Spec.Denials, "s2") {
		t.Fatalf("one of two concurrent denials was lost: spec.denials = %v", q.Spec.Denials)
	}

	deadline := time.Now().Add(90 * time.Second)
	for !q.Status.Phase.Finished() {
		if time.Now().After(deadline) {
			t.Fatalf("query %s stayed %s: %+v", key.Name, q.Status.Phase, q.Status)
		}
		time.Sleep(100 * time.Millisecond)
		if err := admin.Get(ctx, key, q); err != nil {
			t.Fatal(err)
		}
	}
	if q.Status.Phase != agentsv1alpha1.QuerySucceeded {
		t.Fatalf("query %s: %s, %+v", key.Name, q.Status.Phase, q.Status.Conditions)
	}
	for _, s := range q.Status.Steps {
		if s.State != agentsv1alpha1.StepDenied {
			t.Errorf("step %s is %s, want Denied", s.ID, s.State)
		}
	}
	for _, name := range []string{"race-a", "race-b"} {
		d := &appsv1.Deployment{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, d); err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("%s has %d replicas, want 1: both changes were denied", name, *d.Spec.Replicas)
		}
	}
}
