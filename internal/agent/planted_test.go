package agent_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/redact/redacttest"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

// plantedNamespace holds planted secret values. The manager of TestMain does not watch
// it: these tests run an Agent of their own, with the kubectl tool and two profiles.
const plantedNamespace = "planted"

// plantedAgent builds an agent with every tool, the kubectl binary built next to the
// control plane, and a catalog of two profiles: "hidden" (secret values redacted) and
// "reveal" (allowSecretValues), both on the model at modelURL.
func plantedAgent(t *testing.T, modelURL string) *agent.Agent {
	t.Helper()
	c, err := cluster.Client(operatorCfg)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.NewFactory(operatorCfg, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(operatorCfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, `
defaultModel: planted
models:
- name: planted
  provider: openai
  model: fake-model
  baseURL: %s
  timeout: 20s
profiles:
- name: hidden
  modes: [ReadOnly, Propose, Auto]
- name: reveal
  allowSecretValues: true
  modes: [ReadOnly, Propose, Auto]
`, modelURL), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &agent.Agent{Client: c, Reader: c, Identity: ids, Mapper: tools.NewMapper(dc), Tools: reg, Catalog: cat,
		Models: catalog.NewClients(cat, catalog.StaticKeys{}, catalog.ClientsOptions{}), KubectlPath: kubectlBinary(t)}
}

// kubectlBinary is the kubectl that hack/build-controlplane.sh builds next to the
// control plane; the kubectl tool is part of the product, so a missing one fails.
func kubectlBinary(t *testing.T) string {
	t.Helper()
	dirs := []string{os.Getenv("KUBEBUILDER_ASSETS")}
	if root, err := testcluster.RepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin", "k8s", testcluster.K8sVersion))
	}
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(d, "kubectl")); d != "" && err == nil && fi.Mode().IsRegular() {
			return filepath.Join(d, "kubectl")
		}
	}
	t.Fatalf("no kubectl binary in $KUBEBUILDER_ASSETS or bin/k8s/%s: run `make controlplane`", testcluster.K8sVersion)
	return ""
}

// plantSecrets plants the values in plantedNamespace, where alice may work.
func plantSecrets(t *testing.T) *redacttest.Plants {
	t.Helper()
	ctx := t.Context()
	p := redacttest.New(plantedNamespace, "agent")
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: plantedNamespace}}); err != nil {
		t.Fatal(err)
	}
	(&rbacBinding{ns: plantedNamespace}).ensure(t)
	// kubectl create token asks for serviceaccounts/token, a subresource.
	if err := admin.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: plantedNamespace},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: plantedNamespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "tokens"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "dev"}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Plant(ctx, admin); err != nil {
		t.Fatal(err)
	}
	return p
}

// quotingModel calls every tool call of calls, a few per turn as models do, then
// answers by quoting every result it got: the worst a model can do with what it saw.
func quotingModel(calls []llmtest.Call) func(llmtest.Request) llmtest.Reply {
	const perTurn = 8
	return func(req llmtest.Request) llmtest.Reply {
		var results []string
		for _, m := range req.Messages {
			if m.Role == "tool" {
				results = append(results, m.Text())
			}
		}
		if done := len(results); done < len(calls) {
			return llmtest.Reply{Calls: calls[done:min(done+perTurn, len(calls))]}
		}
		return llmtest.Reply{Text: "RESULT:\n" + strings.Join(results, "\n")}
	}
}

// literals are values the model writes into changes, which status must not keep.
func literals(profile string) (calls []llmtest.Call, values []string) {
	lit, applied := "literal-"+profile+"-7e21", "applied-"+profile+"-40af"
	doc := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: by-the-model-" + profile + "\n  namespace: " + plantedNamespace +
		"\nstringData:\n  config: " + applied + "\n"
	argv := []string{"create", "secret", "generic", "literal-" + profile, "-n", plantedNamespace, "--from-literal=blob=" + lit}
	manifest, _ := json.Marshal(doc)                      //nolint:errchkjson // a string always encodes
	args, _ := json.Marshal(map[string]any{"args": argv}) //nolint:errchkjson // strings always encode
	return []llmtest.Call{
		{Name: "kubectl", Args: string(args)},
		{Name: "resources_apply", Args: `{"manifest":` + string(manifest) + `}`},
	}, []string{lit, applied}
}

// leaksOf lists the values text holds, as they are or base64-encoded.
func leaksOf(text string, values []string) []string {
	var found []string
	for _, v := range values {
		if strings.Contains(text, v) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
			found = append(found, v)
		}
	}
	return found
}

// TestPlantedSecretsReachNeitherModelNorStatus plants secret values in every place the
// redaction rules know of (redacttest) and lets a model read them through every read
// path of every tool (redacttest.ReadPaths), change Secrets with values of its own
// (a kubectl --from-literal, a Secret manifest), and quote everything it saw in its
// answer, for a profile without and with secret values. Without, no request the model
// provider receives holds a planted value, as it is or base64-encoded, nor a service
// account token; with, the model sees them. Either way, the query's status (step
// arguments, step outputs, the answer) holds none of them, nor the model's literals.
func TestPlantedSecretsReachNeitherModelNorStatus(t *testing.T) {
	p := plantSecrets(t)
	for _, profile := range []string{"hidden", "reveal"} {
		t.Run(profile, func(t *testing.T) {
			var calls []llmtest.Call
			for _, c := range p.ReadPaths() {
				calls = append(calls, llmtest.Call{Name: c.Tool, Args: c.Args})
			}
			changes, values := literals(profile)
			calls = append(calls, changes...)
			model := llmtest.NewServer(quotingModel(calls))
			defer model.Close()

			q := ask(t, alice, plantedNamespace, "Show me everything in "+plantedNamespace+" ("+profile+").", func(q *agentsv1alpha1.AgentQuery) {
				q.Spec.Profile = profile
				q.Spec.Mode = new(agentsv1alpha1.ModeAuto)
				q.Spec.MaxSteps = agentsv1alpha1.MaxSteps
			})
			if err := plantedAgent(t, model.BaseURL()).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
				t.Fatal(err)
			}
			got := get(t, q)
			if got.Status.Phase != agentsv1alpha1.QuerySucceeded || len(got.Status.Steps) != len(calls) || !strings.HasPrefix(got.Status.Answer, "RESULT:") {
				t.Fatalf("phase %s, %d steps for %d calls, answer %.200q; conditions %+v", got.Status.Phase, len(got.Status.Steps), len(calls), got.Status.Answer, got.Status.Conditions)
			}
			for _, s := range got.Status.Steps[len(got.Status.Steps)-len(changes):] {
				if s.Error != "" {
					t.Errorf("the model's change %s %s failed: %s", s.Tool, s.Arguments, s.Error)
				}
			}

			sent, err := json.Marshal(model.Requests())
			if err != nil {
				t.Fatal(err)
			}
			seen := p.Leaks(string(sent))
			if profile == "hidden" && len(seen) > 0 {
				t.Errorf("the model provider received %s", strings.Join(seen, ", "))
			}
			if profile == "reveal" && len(seen) < len(p.Values) {
				// The test can fail: the values are there to be leaked.
				t.Errorf("the model saw only %v of the planted values, although the profile allows them", seen)
			}

			status, err := json.Marshal(got.Status)
			if err != nil {
				t.Fatal(err)
			}
			if leaks := p.Leaks(string(status)); len(leaks) > 0 {
				t.Errorf("the query's status holds %s", strings.Join(leaks, ", "))
			}
			if leaks := leaksOf(string(status), values); len(leaks) > 0 {
				t.Errorf("the query's status holds the values the model wrote into its changes: %v", leaks)
			}
			if !strings.Contains(got.Status.Answer, "<redacted") {
				t.Errorf("the answer quotes no redacted value: %.500s", got.Status.Answer)
			}
		})
	}
}

// A proposed change waits for approval with its arguments in status, where everyone
// who may read the query reads them: the values in it are never recorded there.
func TestProposalsAreRecordedWithoutSecretValues(t *testing.T) {
	if err := admin.Get(t.Context(), client.ObjectKey{Name: plantedNamespace}, &corev1.Namespace{}); err != nil {
		plantSecrets(t)
	}
	changes, values := literals("proposed")
	model := llmtest.NewServer(func(req llmtest.Request) llmtest.Reply {
		if len(req.ToolResults()) > 0 {
			return llmtest.Reply{Text: "I proposed the Secrets."}
		}
		return llmtest.Reply{Calls: changes}
	})
	defer model.Close()
	q := ask(t, alice, plantedNamespace, "Create the Secrets.", func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "hidden"
		q.Spec.Mode = new(agentsv1alpha1.ModePropose)
	})
	if err := plantedAgent(t, model.BaseURL()).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	got := get(t, q)
	if len(got.Status.Steps) != len(changes) {
		t.Fatalf("phase %s with %d steps, want %d steps", got.Status.Phase, len(got.Status.Steps), len(changes))
	}
	status, err := json.Marshal(got.Status)
	if err != nil {
		t.Fatal(err)
	}
	if leaks := leaksOf(string(status), values); len(leaks) > 0 {
		t.Errorf("the query's status holds the values of the proposed changes: %v\n%s", leaks, status)
	}
	for _, s := range got.Status.Steps {
		if s.State == agentsv1alpha1.StepProposed && !strings.Contains(s.Arguments, "<redacted") {
			t.Errorf("proposed step %s records its arguments as %s", s.ID, s.Arguments)
		}
	}
}
