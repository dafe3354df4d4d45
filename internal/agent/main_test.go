package agent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// The fixture: a real API server with the admission policies; alice (group dev) may
// work in team-a only, bob (group ops) in team-b only; the operator runs as the user
// "kubeask-operator" with the generated manager role plus impersonation, and its model
// is a local server speaking the OpenAI chat completions protocol.
var (
	cluster     *testcluster.Cluster
	admin       client.Client
	alice, bob  client.Client
	operatorCfg *rest.Config
	model       *llmtest.Server
	scripts     = llmtest.NewPrompts()
	catalogFile string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	model = llmtest.NewServer(scripts.Answer)
	defer model.Close()
	var err error
	if cluster, err = testcluster.Start(testcluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	opts := manager.NewOptions()
	opts.ConfigPath = catalogFile
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.AgentWorkers = 4
	opts.WatchNamespaces = []string{"team-a", "team-b"}
	opts.Complete()
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctrl.LoggerInto(ctx, ctrl.Log), operatorCfg) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

func setup(ctx context.Context) error {
	var err error
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		return err
	}
	rb := func(name, ns, role, kind, subject string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: kind, APIGroup: rbacv1.GroupName, Name: subject}},
		}
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "team-member"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "apps"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions"}, Verbs: []string{"*"}},
		}},
		rb("team-member", "team-a", "team-member", "Group", "dev"),
		rb("team-member", "team-b", "team-member", "Group", "ops"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team-a"}, StringData: map[string]string{"password": "hunter2-team-a-secret"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "payments-key", Namespace: "team-b"}, StringData: map[string]string{"key": "sk-team-b-secret"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "payments-1", Namespace: "team-b"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "payments:1"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "team-a"},
			Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(2)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}},
				},
			},
		},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	if err := cluster.InstallAdmissionPolicies(ctx, "team-a"); err != nil {
		return err
	}
	aliceCfg, err := cluster.UserConfig("alice", "dev")
	if err != nil {
		return err
	}
	bobCfg, err := cluster.UserConfig("bob", "ops")
	if err != nil {
		return err
	}
	if operatorCfg, err = cluster.OperatorConfig(ctx); err != nil {
		return err
	}
	if alice, err = cluster.Client(aliceCfg); err != nil {
		return err
	}
	if bob, err = cluster.Client(bobCfg); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kubeask-agent-test")
	if err != nil {
		return err
	}
	catalogFile = filepath.Join(dir, "config.yaml")
	return os.WriteFile(catalogFile, []byte(fmt.Sprintf(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: %[1]s
  timeout: 20s
- name: impatient
  provider: openai
  model: fake-model
  baseURL: %[1]s
  timeout: 1s
- name: bobs-only
  provider: openai
  model: fake-model
  baseURL: %[1]s
  allowedUsers: [bob]
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
- name: reveal
  allowSecretValues: true
  modes: [ReadOnly, Propose, Auto]
- name: sre-only
  allowedGroups: [sre]
limits:
  users:
  - name: carol
    queriesPerHour: 1
`, model.BaseURL())), 0o600)
}

// ask creates a query as c and returns it.
func ask(t *testing.T, c client.Client, ns, prompt string, edit func(*agentsv1alpha1.AgentQuery)) *agentsv1alpha1.AgentQuery {
	t.Helper()
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "q-", Namespace: ns},
		Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: prompt},
	}
	if edit != nil {
		edit(q)
	}
	if err := c.Create(t.Context(), q); err != nil {
		t.Fatalf("creating query: %v", err)
	}
	return q
}

// waitFor polls q until its phase is one of phases.
func waitFor(t *testing.T, q *agentsv1alpha1.AgentQuery, phases ...agentsv1alpha1.QueryPhase) *agentsv1alpha1.AgentQuery {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), got); err != nil {
			t.Fatal(err)
		}
		for _, p := range phases {
			if got.Status.Phase == p {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s stayed %q (want %v): %+v", q.Name, got.Status.Phase, phases, got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// callThenEcho scripts a model that makes one tool call and then answers with the
// tool's result, verbatim, so tests can see exactly what reached the model.
func callThenEcho(name, args string) func(llmtest.Request) llmtest.Reply {
	return func(req llmtest.Request) llmtest.Reply {
		if res := req.ToolResults(); len(res) > 0 {
			return llmtest.Reply{Text: "RESULT: " + res[0].Text()}
		}
		return llmtest.Reply{Calls: []llmtest.Call{{Name: name, Args: args}}}
	}
}

// sentToModel is every message text the model received for prompt, for leak checks.
func sentToModel(prompt string) string {
	var b strings.Builder
	for _, r := range model.Requests() {
		if llmtest.PromptOf(r) != prompt {
			continue
		}
		for _, m := range r.Messages {
			b.WriteString(m.Text())
			for _, c := range m.ToolCalls {
				b.WriteString(c.Function.Arguments)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
