package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// contractNamespace is not watched by the manager of TestMain: the contract tests drive
// fresh Agent instances by hand, each one standing for an operator process, against a
// model catalog of their own.
const contractNamespace = "contract"

// providers are the three provider protocols, each reached through its real client.
func providers() []llmtest.Protocol {
	return []llmtest.Protocol{llmtest.OpenAI, llmtest.Anthropic, llmtest.Gemini}
}

// TestConversationContract runs one conversation through each provider's real client,
// against a fake that refuses, with the provider's own 400, every request the real API
// refuses: a tool result that answers no call of the assistant message before it, a
// call left unanswered, roles out of order (see llmtest.Protocol). The conversation has
// every shape a real one takes:
//
//  1. two calls in one turn, run and answered with the model's own call ids;
//  2. a call whose result is an error;
//  3. a change, proposed (mode Propose): the run stops for approval;
//  4. after the approval, a new run rebuilds the conversation from status, runs the
//     change, and the model asks for one more read, during which the operator dies;
//  5. after the restart, a new run rebuilds the conversation from status again, and
//     the model answers.
func TestConversationContract(t *testing.T) {
	contractFixture(t)
	for _, p := range providers() {
		t.Run(string(p), func(t *testing.T) {
			web := "web-" + string(p)
			createDeployment(t, web)
			read := func(name string) llmtest.Call {
				return llmtest.Call{Name: "resources_get", Args: `{"resource":"deployment","name":"` + name + `","namespace":"` + contractNamespace + `"}`}
			}
			model := llmtest.NewScripted(t, p,
				p.Reply(t, 1, "Let me look.", read(web), llmtest.Call{Name: "resources_list", Args: `{"resource":"pods","namespace":"` + contractNamespace + `"}`}),
				p.Reply(t, 2, "", read("missing")),
				p.Reply(t, 3, "", llmtest.Call{Name: "resources_scale", Args: `{"resource":"deployment","name":"` + web + `","namespace":"` + contractNamespace + `","replicas":3}`}),
				p.Reply(t, 4, "", read(web)),
				p.Reply(t, 5, "Scaled "+web+" to 3 replicas."),
			)
			catalogPath, keys := contractCatalog(t, p, model.URL)
			q := ask(t, alice, contractNamespace, "Check "+web+" and scale it to 3.", func(q *agentsv1alpha1.AgentQuery) {
				q.Spec.Profile = "operate"
				q.Spec.Mode = new(agentsv1alpha1.ModePropose)
			})
			key := client.ObjectKeyFromObject(q)

			// The live run: rounds 1 to 3.
			if err := newOperatorWith(t, operatorCfg, catalogPath, keys).Run(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			got := contractState(t, q, model, agentsv1alpha1.QueryAwaitingApproval,
				agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepProposed)
			if !strings.Contains(got.Status.Steps[2].Error, "not found") {
				t.Fatalf("step s3 = %+v, want the error of a missing deployment", got.Status.Steps[2])
			}

			// Round 4, resumed after the approval; the operator dies running s5.
			if err := update(t, alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Approvals = []string{approvalOf(t, q, "s4")} }); err != nil {
				t.Fatal(err)
			}
			approved := newOperatorWith(t, operatorCfg, catalogPath, keys)
			approved.SetBeforeExecute(func(_ context.Context, s agentsv1alpha1.Step) {
				if s.ID == "s5" {
					runtime.Goexit()
				}
			})
			dies(t, approved, q)
			contractState(t, q, model, agentsv1alpha1.QueryRunning,
				agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepRunning)

			// Round 5, resumed after the restart.
			if err := newOperatorWith(t, operatorCfg, catalogPath, keys).Run(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			got = contractState(t, q, model, agentsv1alpha1.QuerySucceeded,
				agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepDone, agentsv1alpha1.StepFailed)
			if got.Status.Answer != "Scaled "+web+" to 3 replicas." {
				t.Errorf("answer %q", got.Status.Answer)
			}
			if n := contractReplicas(t, web); n != 3 {
				t.Errorf("replicas %d after the approved scale, want 3", n)
			}
			if n := len(model.Requests()); n != 5 {
				t.Errorf("%d model calls, want 5", n)
			}
		})
	}
}

// TestStepLimitContract: once the step limit is reached the model is asked to answer
// without tools, in a conversation that still holds its tool calls; every provider
// must accept it (Anthropic refuses tool_use blocks in a request that defines no tools).
func TestStepLimitContract(t *testing.T) {
	contractFixture(t)
	for _, p := range providers() {
		t.Run(string(p), func(t *testing.T) {
			list := llmtest.Call{Name: "resources_list", Args: `{"resource":"pods","namespace":"` + contractNamespace + `"}`}
			model := llmtest.NewScripted(t, p,
				p.Reply(t, 1, "", list),
				p.Reply(t, 2, "", list), // over the limit: answered "not run"
				p.Reply(t, 3, "No pods, as far as one step could tell."),
			)
			catalogPath, keys := contractCatalog(t, p, model.URL)
			q := ask(t, alice, contractNamespace, "List the pods, again and again.", func(q *agentsv1alpha1.AgentQuery) { q.Spec.MaxSteps = 1 })
			if err := newOperatorWith(t, operatorCfg, catalogPath, keys).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
				t.Fatal(err)
			}
			got := contractState(t, q, model, agentsv1alpha1.QuerySucceeded, agentsv1alpha1.StepDone)
			if got.Status.Answer != "No pods, as far as one step could tell." {
				t.Errorf("answer %q", got.Status.Answer)
			}
		})
	}
}

// contractState fails the test unless q is in phase with steps in states, saying what
// the model's fake refused if it refused anything.
func contractState(t *testing.T, q *agentsv1alpha1.AgentQuery, model *llmtest.Scripted, phase agentsv1alpha1.QueryPhase, states ...agentsv1alpha1.StepState) *agentsv1alpha1.AgentQuery {
	t.Helper()
	got := get(t, q)
	var have []agentsv1alpha1.StepState
	for _, s := range got.Status.Steps {
		have = append(have, s.State)
	}
	if got.Status.Phase != phase || fmt.Sprint(have) != fmt.Sprint(states) || len(model.Rejections()) > 0 {
		var why string
		if c := meta.FindStatusCondition(got.Status.Conditions, agent.ConditionRunning); c != nil {
			why = c.Reason + ": " + c.Message
		}
		t.Fatalf("phase %s (%s), steps %v; want phase %s, steps %v; the fake refused %d requests %v",
			got.Status.Phase, why, have, phase, states, len(model.Rejections()), model.Rejections())
	}
	return got
}

// approvalOf is the spec.approvals entry that approves step id of q as kubectl ask
// approve writes it: the step id, bound to the step's digest when status records one.
// It reads the digest as unstructured data, so the test does not depend on the shape
// of the approvals, which is not what it is about.
func approvalOf(t *testing.T, q *agentsv1alpha1.AgentQuery, id string) string {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(agentsv1alpha1.GroupVersion.WithKind("AgentQuery"))
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), u); err != nil {
		t.Fatal(err)
	}
	steps, _, err := unstructured.NestedSlice(u.Object, "status", "steps")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		step, _ := s.(map[string]any)
		if step["id"] != id {
			continue
		}
		if digest, _ := step["digest"].(string); digest != "" {
			return id + "@" + digest
		}
		return id
	}
	t.Fatalf("query %s has no step %s", q.Name, id)
	return ""
}

// contractCatalog writes a model catalog whose default model is provider p's client
// pointed at the fake at url, and returns its path and API keys.
func contractCatalog(t *testing.T, p llmtest.Protocol, url string) (string, catalog.StaticKeys) {
	t.Helper()
	baseURL := url
	if p == llmtest.OpenAI {
		baseURL += "/v1" // the OpenAI client's base URL includes the version
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	err := os.WriteFile(path, fmt.Appendf(nil, `
defaultModel: contract
models:
- name: contract
  provider: %s
  model: contract-model
  baseURL: %s
  apiKeySecretRef: {name: contract-keys, key: %[1]s}
  timeout: 20s
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
`, p, baseURL), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path, catalog.StaticKeys{{Name: "contract-keys", Key: string(p)}: "test-key"}
}

func contractFixture(t *testing.T) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: contractNamespace}}
	if err := admin.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	(&rbacBinding{ns: contractNamespace}).ensure(t)
}

func createDeployment(t *testing.T, name string) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: contractNamespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		},
	}
	if err := admin.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

func contractReplicas(t *testing.T, name string) int32 {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: contractNamespace, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}
