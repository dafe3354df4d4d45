package agent_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/tools"
)

// crashNamespace is not watched by the manager of TestMain: these tests drive fresh
// Agent instances by hand, each one standing for an operator process.
const crashNamespace = "crash"

// newOperator builds an agent as the manager does, with its own clients.
func newOperator(t *testing.T) *agent.Agent {
	t.Helper()
	return newOperatorFor(t, operatorCfg)
}

// newOperatorFor builds an agent whose clients use cfg.
func newOperatorFor(t testing.TB, cfg *rest.Config) *agent.Agent {
	t.Helper()
	return newOperatorWith(t, cfg, catalogFile, catalog.StaticKeys{})
}

// newOperatorWith builds an agent whose clients use cfg, with the model catalog in
// catalogPath and its API keys from keys.
func newOperatorWith(t testing.TB, cfg *rest.Config, catalogPath string, keys catalog.StaticKeys) *agent.Agent {
	t.Helper()
	c, err := cluster.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.NewFactory(cfg, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	return &agent.Agent{Client: c, Reader: c, Identity: ids, Mapper: tools.NewMapper(dc), Tools: reg, Catalog: cat,
		Models: catalog.NewClients(cat, keys, catalog.ClientsOptions{})}
}

// dies runs a.Run as an operator process that dies inside hook: runtime.Goexit ends
// the goroutine there, as a crash would, without any later code of the run.
func dies(t *testing.T, a *agent.Agent, q *agentsv1alpha1.AgentQuery) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(context.Background(), client.ObjectKeyFromObject(q))
	}()
	<-done
}

func crashFixture(t *testing.T, name string) {
	t.Helper()
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: crashNamespace}}
	if err := admin.Create(ctx, ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	binding := &rbacBinding{ns: crashNamespace}
	binding.ensure(t)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: crashNamespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: []corev1.EnvVar{{Name: "START", Value: "1"}}}}},
			},
		},
	}
	if err := admin.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// envCount is how many env vars the deployment's container has: each execution of the
// scripted JSON patch appends one, so it counts executions.
func envCount(t *testing.T, name string) int {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: crashNamespace, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return len(d.Spec.Template.Spec.Containers[0].Env) - 1
}

func appendEnvScript(deployment string) func(llmtest.Request) llmtest.Reply {
	return callThenEcho("resources_patch", `{"resource":"deployment","name":"`+deployment+`","namespace":"`+crashNamespace+
		`","patchType":"json","patch":"[{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/env/-\",\"value\":{\"name\":\"ADDED\",\"value\":\"x\"}}]"}`)
}

func autoQuery(t *testing.T, prompt string) *agentsv1alpha1.AgentQuery {
	return ask(t, alice, crashNamespace, prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModeAuto)
	})
}

func TestCrashBeforeAMutationRunsNeverRunsItLater(t *testing.T) {
	crashFixture(t, "before")
	prompt := "Add an env var to before."
	scripts.Set(prompt, appendEnvScript("before"))
	q := autoQuery(t, prompt)

	first := newOperator(t)
	first.SetBeforeExecute(func(context.Context, agentsv1alpha1.Step) { runtime.Goexit() })
	dies(t, first, q)
	if got := get(t, q); got.Status.Phase != agentsv1alpha1.QueryRunning || got.Status.Steps[0].State != agentsv1alpha1.StepRunning {
		t.Fatalf("after the crash: phase %s, steps %+v", got.Status.Phase, got.Status.Steps)
	}

	if err := newOperator(t).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QueryFailed || got.Status.Steps[0].State != agentsv1alpha1.StepUnknown {
		t.Fatalf("after restart: phase %s, steps %+v", got.Status.Phase, got.Status.Steps)
	}
	assertCondition(t, got, agent.ConditionRunning, agent.ReasonMutationOutcomeUnknown, "s1")
	if n := envCount(t, "before"); n != 0 {
		t.Errorf("the change ran %d times; the crash came before it ran, and it must not run later", n)
	}
}

func TestCrashAfterAMutationRanNeverRunsItTwice(t *testing.T) {
	crashFixture(t, "after")
	prompt := "Add an env var to after."
	scripts.Set(prompt, appendEnvScript("after"))
	q := autoQuery(t, prompt)

	first := newOperator(t)
	first.SetAfterExecute(func(context.Context, agentsv1alpha1.Step) { runtime.Goexit() })
	dies(t, first, q)
	if n := envCount(t, "after"); n != 1 {
		t.Fatalf("the change ran %d times before the crash, want 1", n)
	}
	second := newOperator(t)
	if err := second.Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	// A third start finds the query finished and does nothing.
	if err := newOperator(t).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QueryFailed || got.Status.Steps[0].State != agentsv1alpha1.StepUnknown {
		t.Fatalf("after restart: phase %s, steps %+v", got.Status.Phase, got.Status.Steps)
	}
	if n := envCount(t, "after"); n != 1 {
		t.Errorf("the change ran %d times, want exactly once", n)
	}
}

func TestCrashDuringAReadResumesTheQuery(t *testing.T) {
	crashFixture(t, "reader")
	prompt := "Look at reader."
	scripts.Set(prompt, callThenEcho("resources_get", `{"resource":"deployment","name":"reader","namespace":"crash"}`))
	q := autoQuery(t, prompt)
	first := newOperator(t)
	first.SetBeforeExecute(func(context.Context, agentsv1alpha1.Step) { runtime.Goexit() })
	dies(t, first, q)

	// The resumed run tells the model the read was interrupted; this model then answers.
	if err := newOperator(t).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if got.Status.Phase != agentsv1alpha1.QuerySucceeded || got.Status.Steps[0].State != agentsv1alpha1.StepFailed ||
		!strings.Contains(got.Status.Answer, "interrupted") {
		t.Fatalf("phase %s, steps %+v, answer %q", got.Status.Phase, got.Status.Steps, got.Status.Answer)
	}
}

func get(t *testing.T, q *agentsv1alpha1.AgentQuery) *agentsv1alpha1.AgentQuery {
	t.Helper()
	out := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), out); err != nil {
		t.Fatal(err)
	}
	return out
}
